package seal

import (
	"crypto/ecdh"
	"testing"
)

// BenchmarkSeal and BenchmarkOpen measure a sealing and an opening of 1
// KiB (envelope bytes reported), per curve; BenchmarkOpenSignatureOnly is
// the envelope's signature check alone, in the same run: the HPKE part
// of an opening is the difference.
func BenchmarkSeal(b *testing.B) {
	for _, c := range []struct {
		name  string
		curve ecdh.Curve
	}{{"x25519", ecdh.X25519()}, {"p256", ecdh.P256()}} {
		b.Run(c.name, func(b *testing.B) {
			p, d := newProvider(b, "p"), newDevice(b, c.curve, "d")
			msg := make([]byte, 1024)
			var n int
			for b.Loop() {
				env, err := Seal(p.admin, p.kid, d.to, msg, Options{})
				if err != nil {
					b.Fatal(err)
				}
				n = len(env)
			}
			b.ReportMetric(float64(n), "envelope-bytes")
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, c := range []struct {
		name  string
		curve ecdh.Curve
	}{{"x25519", ecdh.X25519()}, {"p256", ecdh.P256()}} {
		b.Run(c.name, func(b *testing.B) {
			p, d := newProvider(b, "p"), newDevice(b, c.curve, "d")
			env, err := Seal(p.admin, p.kid, d.to, make([]byte, 1024), Options{})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := Open(env, d.to.Key, d.priv, senderOf(p)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpenSignatureOnly(b *testing.B) {
	p, d := newProvider(b, "p"), newDevice(b, ecdh.X25519(), "d")
	env, err := Seal(p.admin, p.kid, d.to, make([]byte, 1024), Options{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		dec, err := Decode(env)
		if err != nil {
			b.Fatal(err)
		}
		if err := dec.msg.Verify(p.admin.Public(), nil); err != nil {
			b.Fatal(err)
		}
	}
}

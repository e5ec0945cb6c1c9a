package op

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
)

// BenchmarkVerification measures checking a registration as the node does
// (decode, shape checks, one signature verification) and reports it as a
// ratio of a raw Ed25519 verification of the same bytes, measured in the
// same run: the signature is the ceiling, so the ratio should be near 1.
func BenchmarkVerification(b *testing.B) {
	c := samplePayloads(b)[0]
	tx, err := Sign(c.s, c.kid, c.p)
	if err != nil {
		b.Fatal(err)
	}
	m, _ := cose.Decode(tx)
	tbs, _ := m.ToBeSigned(nil)
	pub := c.s.Public().Crypto().(ed25519.PublicKey)
	// The baseline: as many raw verifications, timed in this run.
	n := max(b.N, 2000)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if !ed25519.Verify(pub, tbs, m.Signature) {
			b.Fatal("verify")
		}
	}
	rawNs := float64(time.Since(t0).Nanoseconds()) / float64(n)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := Decode(tx)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Msg.Verify(c.s.Public(), nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(1e9/per, "ops/s")
	b.ReportMetric(1e9/rawNs, "raw-verify/s")
	b.ReportMetric(rawNs/per, "ratio-to-raw")
	b.ReportMetric(float64(len(tx)), "op-bytes")
}

// BenchmarkDecode measures decoding and shape checks alone.
func BenchmarkDecode(b *testing.B) {
	c := samplePayloads(b)[0]
	tx, _ := Sign(c.s, c.kid, c.p)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Decode(tx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPeekType measures reading an operation's type for a metric
// label, against Decode of the same bytes in the same run (the label used
// to cost a second Decode per submission).
func BenchmarkPeekType(b *testing.B) {
	c := samplePayloads(b)[0]
	tx, _ := Sign(c.s, c.kid, c.p)
	n := max(b.N, 2000)
	t0 := time.Now()
	for range n {
		if _, err := Decode(tx); err != nil {
			b.Fatal(err)
		}
	}
	decodeNs := float64(time.Since(t0).Nanoseconds()) / float64(n)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if PeekType(tx) != c.p.Type {
			b.Fatal("type")
		}
	}
	b.StopTimer()
	per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(decodeNs, "decode-ns")
	b.ReportMetric(per/decodeNs, "ratio-to-decode")
}

package seal

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
)

type vectorFile struct {
	Source  string `json:"source"`
	License string `json:"license"`
	Vectors []struct {
		Section                string
		Mode                   int
		KEM                    uint16 `json:"kem_id"`
		KDF                    uint16 `json:"kdf_id"`
		AEAD                   uint16 `json:"aead_id"`
		Info, IkmE, PkEm, IkmR string
		PkRm, SkRm, Enc        string
		Encryptions            []struct {
			Seq         int
			Pt, Aad, Ct string
		}
		Exports []struct {
			Context string
			L       int
			Value   string
		}
	}
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRFC9180Vectors checks this package's suites against the Base-mode
// test vectors of RFC 9180 Appendix A for DHKEM(X25519, HKDF-SHA256) and
// DHKEM(P-256, HKDF-SHA256) with HKDF-SHA256 and AES-128-GCM or
// ChaCha20Poly1305 (A.1, A.2, A.3, A.5): the derived key pairs, the
// first ciphertext opened by open (the envelope's path), the next ones
// by the same receiving context, and the exported values.
func TestRFC9180Vectors(t *testing.T) {
	b, err := os.ReadFile("testdata/rfc9180-base.json")
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) != 4 {
		t.Fatalf("%d vectors, want 4", len(f.Vectors))
	}
	for _, v := range f.Vectors {
		t.Run(v.Section, func(t *testing.T) {
			if v.Mode != 0 {
				t.Fatalf("mode %d", v.Mode)
			}
			kem, err := hpke.NewKEM(v.KEM)
			if err != nil {
				t.Fatal(err)
			}
			skR, err := kem.DeriveKeyPair(unhex(t, v.IkmR))
			if err != nil {
				t.Fatal(err)
			}
			// (An X25519 private key serializes clamped, RFC 9180 section
			// 7.1.2: compare the key skRm makes instead.)
			fromSk, err := kem.NewPrivateKey(unhex(t, v.SkRm))
			if err != nil || !bytes.Equal(skR.PublicKey().Bytes(), unhex(t, v.PkRm)) || !bytes.Equal(fromSk.PublicKey().Bytes(), unhex(t, v.PkRm)) {
				t.Fatalf("the recipient's key pair differs from skRm, pkRm: %v", err)
			}
			skE, err := kem.DeriveKeyPair(unhex(t, v.IkmE))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(skE.PublicKey().Bytes(), unhex(t, v.Enc)) || !bytes.Equal(unhex(t, v.PkEm), unhex(t, v.Enc)) {
				t.Fatal("the ephemeral key differs from enc")
			}
			info, enc := unhex(t, v.Info), unhex(t, v.Enc)
			e0 := v.Encryptions[0]
			pt, err := open(skR, v.KDF, v.AEAD, info, unhex(t, e0.Aad), enc, unhex(t, e0.Ct))
			if err != nil || !bytes.Equal(pt, unhex(t, e0.Pt)) {
				t.Fatalf("sequence 0: %v", err)
			}
			kdf, aead, err := suite(v.KDF, v.AEAD)
			if err != nil {
				t.Fatal(err)
			}
			r, err := hpke.NewRecipient(enc, skR, kdf, aead, info)
			if err != nil {
				t.Fatal(err)
			}
			// Consecutive sequence numbers open in order (the vectors skip
			// from 2 to 4, past what a receiving context can reach).
			for i, e := range v.Encryptions[:3] {
				if e.Seq != i {
					t.Fatalf("encryption %d has sequence %d", i, e.Seq)
				}
				pt, err := r.Open(unhex(t, e.Aad), unhex(t, e.Ct))
				if err != nil || !bytes.Equal(pt, unhex(t, e.Pt)) {
					t.Fatalf("sequence %d: %v", e.Seq, err)
				}
			}
			for _, x := range v.Exports {
				got, err := r.Export(string(unhex(t, x.Context)), x.L)
				if err != nil || !bytes.Equal(got, unhex(t, x.Value)) {
					t.Fatalf("export %q: %x, %v", x.Context, got, err)
				}
			}
		})
	}
}

// party is a provider's admin key or an entity's agreement key.
type party struct {
	admin cose.Signer
	kid   did.DID
}

func newProvider(t testing.TB, name string) party {
	t.Helper()
	s, _, err := cose.GenerateKey(cose.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	return party{admin: s, kid: did.New("local", []byte(name)).WithFragment("admin-1")}
}

// senderOf answers for p's admin key only.
func senderOf(p party) SenderKey {
	return func(kid did.DID) (cose.PublicKey, error) {
		if kid != p.kid {
			return cose.PublicKey{}, fmt.Errorf("%s is not an admin key of the recipient's provider", kid)
		}
		return p.admin.Public(), nil
	}
}

type device struct {
	priv *ecdh.PrivateKey
	to   Recipient
}

func newDevice(t testing.TB, c ecdh.Curve, name string) device {
	t.Helper()
	priv, err := c.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := op.AgreementKeyFrom("ka1", priv.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return device{priv: priv, to: Recipient{Key: did.New("local", []byte(name)).WithFragment("ka1"), Pub: k}}
}

func TestRoundTrip(t *testing.T) {
	p := newProvider(t, "p")
	for _, c := range []struct {
		name  string
		curve ecdh.Curve
		aead  uint16
	}{
		{"x25519/aes-128-gcm", ecdh.X25519(), 0},
		{"x25519/chacha20poly1305", ecdh.X25519(), AEADChaCha20Poly1305},
		{"p256/aes-128-gcm", ecdh.P256(), AEADAES128GCM},
		{"p256/chacha20poly1305", ecdh.P256(), AEADChaCha20Poly1305},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := newDevice(t, c.curve, "dev")
			msg := []byte("wifi-psk=correct horse battery staple")
			env, err := Seal(p.admin, p.kid, d.to, msg, Options{AEAD: c.aead, Type: "text/plain", Time: 1_700_000_000})
			if err != nil {
				t.Fatal(err)
			}
			got, err := Open(env, d.to.Key, d.priv, senderOf(p))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Plaintext, msg) || got.Kid != p.kid || got.From != p.kid.Base().String() || got.Type != "text/plain" || got.Sealed != 1_700_000_000 {
				t.Fatalf("opened %+v", got)
			}
			if bytes.Contains(env, msg) {
				t.Fatal("the envelope holds the plaintext")
			}
		})
	}
}

// resign re-signs e with s under kid: what a holder of a provider's
// admin key could make of an envelope.
func resign(t *testing.T, s cose.Signer, kid did.DID, e Envelope) []byte {
	t.Helper()
	b, err := op.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cose.Sign1(s, []byte(kid.String()), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOpenRefuses has a named case for every refusal.
func TestOpenRefuses(t *testing.T) {
	p, q := newProvider(t, "p"), newProvider(t, "q")
	a, b := newDevice(t, ecdh.X25519(), "a"), newDevice(t, ecdh.X25519(), "b")
	pa := newDevice(t, ecdh.P256(), "a") // a's P-256 key under the same DID URL
	msg := []byte("enrollment ticket")
	seal := func(to Recipient) []byte {
		env, err := Seal(p.admin, p.kid, to, msg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	toA := seal(a.to)
	decoded := func(env []byte) Envelope {
		d, err := Decode(env)
		if err != nil {
			t.Fatal(err)
		}
		return d.Envelope
	}
	another, _ := ecdh.X25519().GenerateKey(rand.Reader)
	for _, c := range []struct {
		name   string
		env    func() []byte
		priv   *ecdh.PrivateKey
		sender SenderKey
		want   error
	}{
		{"fail/wrong-key", func() []byte { return toA }, another, senderOf(p), ErrOpen},
		{"fail/wrong-curve", func() []byte { return seal(pa.to) }, a.priv, senderOf(p), ErrOpen},
		{"fail/tampered-ciphertext", func() []byte {
			e := decoded(toA)
			e.CT[3] ^= 1
			return resign(t, p.admin, p.kid, e)
		}, a.priv, senderOf(p), ErrOpen},
		{"fail/tampered-header", func() []byte {
			e := decoded(toA)
			e.Type = "application/other"
			return resign(t, p.admin, p.kid, e)
		}, a.priv, senderOf(p), ErrOpen},
		{"fail/tampered-unsigned", func() []byte {
			env := bytes.Clone(toA)
			env[len(env)-70] ^= 1 // in the ciphertext, under the signature
			return env
		}, a.priv, senderOf(p), ErrSender},
		{"fail/another-recipient", func() []byte { return seal(b.to) }, a.priv, senderOf(p), ErrNotForMe},
		{"fail/another-recipient-relabelled", func() []byte {
			e := decoded(seal(b.to))
			e.To = a.to.Key.String()
			return resign(t, p.admin, p.kid, e)
		}, a.priv, senderOf(p), ErrOpen},
		{"fail/resealed-by-another-provider", func() []byte {
			e := decoded(toA)
			e.From = q.kid.Base().String()
			return resign(t, q.admin, q.kid, e)
		}, a.priv, senderOf(q), ErrOpen},
		{"fail/not-the-recipients-provider", func() []byte {
			env, err := Seal(q.admin, q.kid, a.to, msg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			return env
		}, a.priv, senderOf(p), ErrSender},
		{"fail/signed-by-another-did", func() []byte {
			e := decoded(toA)
			return resign(t, q.admin, q.kid, e)
		}, a.priv, senderOf(q), ErrMalformed},
		{"fail/oversized", func() []byte { return append(bytes.Clone(toA), make([]byte, MaxEnvelope)...) }, a.priv, senderOf(p), ErrOversized},
		{"fail/version", func() []byte {
			e := decoded(toA)
			e.V = 2
			return resign(t, p.admin, p.kid, e)
		}, a.priv, senderOf(p), ErrUnsupported},
		{"fail/unknown-aead", func() []byte {
			e := decoded(toA)
			e.AEAD = 2 // AES-256-GCM: not a suite of this format
			return resign(t, p.admin, p.kid, e)
		}, a.priv, senderOf(p), ErrUnsupported},
		{"fail/short-enc", func() []byte {
			e := decoded(toA)
			e.Enc = e.Enc[:31]
			return resign(t, p.admin, p.kid, e)
		}, a.priv, senderOf(p), ErrMalformed},
		{"fail/not-cose", func() []byte { return []byte("hello") }, a.priv, senderOf(p), ErrMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Open(c.env(), a.to.Key, c.priv, c.sender)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, %v; want %v", got, err, c.want)
			}
			if err != nil && bytes.Contains([]byte(err.Error()), msg) {
				t.Fatal("the error tells the plaintext")
			}
		})
	}
}

func TestSealRefuses(t *testing.T) {
	p := newProvider(t, "p")
	a := newDevice(t, ecdh.X25519(), "a")
	if _, err := Seal(p.admin, p.kid, a.to, make([]byte, MaxPlaintext+1), Options{}); !errors.Is(err, ErrOversized) {
		t.Fatalf("fail/oversized: %v", err)
	}
	if _, err := Seal(p.admin, p.kid, a.to, nil, Options{AEAD: 2}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("fail/aead: %v", err)
	}
	other := a.to
	other.Key = did.New("elsewhere", []byte("a")).WithFragment("ka1")
	if _, err := Seal(p.admin, p.kid, other, nil, Options{}); err == nil {
		t.Fatal("fail/another-network: sealed")
	}
	env, err := Seal(p.admin, p.kid, a.to, make([]byte, MaxPlaintext), Options{Type: "application/cbor"})
	if err != nil || len(env) > MaxEnvelope {
		t.Fatalf("the largest plaintext makes %d bytes (limit %d): %v", len(env), MaxEnvelope, err)
	}
}

func FuzzDecode(f *testing.F) {
	p := newProvider(f, "p")
	for _, c := range []ecdh.Curve{ecdh.X25519(), ecdh.P256()} {
		d := newDevice(f, c, "a")
		env, err := Seal(p.admin, p.kid, d.to, []byte("seed"), Options{Type: "text/plain", Time: 1})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(env)
	}
	f.Add([]byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Decode(b)
		if err != nil {
			return
		}
		// What decodes is in the canonical form, within bounds, and
		// self-consistent.
		again, err := op.Marshal(d.Envelope)
		if err != nil || !bytes.Equal(again, d.msg.Payload) {
			t.Fatalf("payload is not canonical: %v", err)
		}
		if len(b) > MaxEnvelope || len(d.CT) > MaxPlaintext+aeadOverhead || d.From != d.Kid.Base().String() {
			t.Fatalf("decoded out of bounds: %+v", d.Envelope)
		}
	})
}

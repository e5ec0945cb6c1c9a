package cose

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// fuzzSigners are fixed keys, the same in every fuzz worker: the Ed25519 and
// P-256 keys of the COSE Examples, so that their messages verify too.
func fuzzSigners(t testing.TB) []Signer {
	t.Helper()
	ed := ed25519.NewKeyFromSeed(mustHex(t, "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
	ec, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), mustHex(t, "57c92077664146e876760c9520d054aa93c3afb04e306705db6090308507b4d3"))
	if err != nil {
		t.Fatal(err)
	}
	var out []Signer
	for _, priv := range []crypto.Signer{ed, ec} {
		s, err := NewSigner(priv)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func FuzzDecode(f *testing.F) {
	signers := fuzzSigners(f)
	for _, s := range signers {
		for _, kid := range [][]byte{nil, []byte("11")} {
			msg, err := Sign1(s, kid, []byte("This is the content."), nil)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(msg)
			f.Add(msg[1:]) // untagged
		}
		f.Add(signedMessage(f, s, cborBytes(f, map[int64]any{labelAlg: int64(s.Public().Alg())}),
			map[int64]any{labelKid: []byte("u"), 5: []byte("iv")}, []byte{}))
	}
	for _, name := range coseVectorFiles(f) {
		var v coseVector
		readJSON(f, filepath.Join("testdata", "cose", name), &v)
		f.Add(mustHex(f, v.Output.CBOR))
	}
	for _, s := range []string{"", "D2", "D280", "D2D284", "84", "8440A0F640", "9FFF", "D28443A10127A0426869F6"} {
		f.Add(mustHex(f, s))
	}
	keys := make([]PublicKey, len(signers))
	for i, s := range signers {
		keys[i] = s.Public()
	}
	aad := []byte("aad")

	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			if m != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode: %+v, %v; want nil and ErrMalformed", m, err)
			}
			return
		}
		if m.Payload == nil || m.Signature == nil || m.Protected == nil || (m.KidProtected && m.Kid == nil) {
			t.Fatalf("decoded message with a missing part: %+v", m)
		}
		tbs, err := m.ToBeSigned(nil)
		if err != nil {
			t.Fatalf("ToBeSigned: %v", err)
		}
		if !bytes.Equal(tbs, sigStructure(t, m.Protected, nil, m.Payload)) {
			t.Fatalf("ToBeSigned %x is not the Sig_structure", tbs)
		}
		if _, err := m.ToBeSigned(aad); err != nil {
			t.Fatalf("ToBeSigned(aad): %v", err)
		}
		verdicts := func(m *Message) []bool {
			var out []bool
			for _, k := range keys {
				for _, a := range [][]byte{nil, aad} {
					err := m.Verify(k, a)
					if err != nil && !errors.Is(err, ErrBadSignature) {
						t.Fatalf("Verify: %v, want nil or ErrBadSignature", err)
					}
					if err == nil && k.Alg() != m.Alg {
						t.Fatalf("verified a %v message with a %v key", m.Alg, k.Alg())
					}
					out = append(out, err == nil)
				}
			}
			return out
		}
		v1 := verdicts(m)
		if v2 := verdicts(m); !slices.Equal(v1, v2) {
			t.Fatalf("Verify is not deterministic: %v then %v", v1, v2)
		}

		// The same message in canonical form decodes to the same fields and
		// verifies the same way: only the protected bytes, payload and
		// signature matter.
		unprot := map[int64]any{}
		if m.Kid != nil && !m.KidProtected {
			unprot[labelKid] = m.Kid
		}
		var content any = []any{m.Protected, unprot, m.Payload, m.Signature}
		if len(b) > 0 && b[0]>>5 == 6 {
			content = cbor.Tag{Number: TagSign1, Content: content}
		}
		re := cborBytes(t, content)
		m2, err := Decode(re)
		if err != nil {
			t.Fatalf("re-encoded %x: %v", re, err)
		}
		if m2.Alg != m.Alg || !bytes.Equal(m2.Protected, m.Protected) || !bytes.Equal(m2.Payload, m.Payload) ||
			!bytes.Equal(m2.Signature, m.Signature) || !bytes.Equal(m2.Kid, m.Kid) || m2.KidProtected != m.KidProtected {
			t.Fatalf("re-encoded message decodes as %+v, was %+v", m2, m)
		}
		if v2 := verdicts(m2); !slices.Equal(v1, v2) {
			t.Fatalf("re-encoded message verifies as %v, was %v", v2, v1)
		}
	})
}

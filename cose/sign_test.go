package cose

import (
	"errors"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// TestSignRoundTrip: a COSE_Sign of two signers (both algorithms) decodes
// to one message per signature, each verifying with its own key and not
// with the other's, and each signature is over the Sig_structure of RFC
// 9052 section 4.4 built here on its own.
func TestSignRoundTrip(t *testing.T) {
	a, b := newSigner(t, AlgEdDSA), newSigner(t, AlgES256)
	payload := []byte("the payload")
	msg, err := Sign([]Signer{a, b}, [][]byte{[]byte("kid-a"), []byte("kid-b")}, payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := DecodeAll(msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || string(ms[0].Kid) != "kid-a" || string(ms[1].Kid) != "kid-b" || !ms[0].KidProtected || !ms[1].Multi() {
		t.Fatalf("decoded %+v", ms)
	}
	for i, k := range []Signer{a, b} {
		if err := ms[i].Verify(k.Public(), nil); err != nil {
			t.Errorf("signature %d: %v", i, err)
		}
		other := []Signer{b, a}[i]
		if err := ms[i].Verify(other.Public(), nil); err == nil {
			t.Errorf("signature %d verifies with the other key", i)
		}
		want, err := cbor.Marshal([]any{"Signature", []byte{}, ms[i].Protected, []byte{}, payload})
		if err != nil {
			t.Fatal(err)
		}
		if !k.Public().Verify(want, ms[i].Signature) {
			t.Errorf("signature %d is not over the RFC 9052 Sig_structure", i)
		}
	}
	// A COSE_Sign1 decodes to one message, and DecodeAll keeps its form.
	one, err := Sign1(a, []byte("k"), payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	ms, err = DecodeAll(one)
	if err != nil || len(ms) != 1 || ms[0].Multi() || ms[0].Verify(a.Public(), nil) != nil {
		t.Fatalf("COSE_Sign1 through DecodeAll: %v %+v", err, ms)
	}
}

// TestCosign: a signature added later verifies, and those already there
// still do; a tampered payload verifies with none.
func TestCosign(t *testing.T) {
	a, b := newSigner(t, AlgEdDSA), newSigner(t, AlgEdDSA)
	msg, err := Sign([]Signer{a}, [][]byte{[]byte("a")}, []byte("p"), nil)
	if err != nil {
		t.Fatal(err)
	}
	msg, err = Cosign(msg, b, []byte("b"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := DecodeAll(msg)
	if err != nil || len(ms) != 2 {
		t.Fatalf("%v %d", err, len(ms))
	}
	if ms[0].Verify(a.Public(), nil) != nil || ms[1].Verify(b.Public(), nil) != nil {
		t.Fatal("a signature does not verify after cosigning")
	}
	ms[1].Payload = []byte("q")
	if err := ms[1].Verify(b.Public(), nil); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered payload: %v", err)
	}
}

// TestDecodeSignRejects names each malformed COSE_Sign.
func TestDecodeSignRejects(t *testing.T) {
	a := newSigner(t, AlgEdDSA)
	good, err := Sign([]Signer{a}, [][]byte{[]byte("a")}, []byte("p"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var raw cbor.RawTag
	if err := decMode.Unmarshal(good, &raw); err != nil {
		t.Fatal(err)
	}
	var arr signArray
	if err := decMode.Unmarshal(raw.Content, &arr); err != nil {
		t.Fatal(err)
	}
	enc := func(f func(x *signArray)) []byte {
		x := arr
		x.Signatures = append([]cbor.RawMessage(nil), arr.Signatures...)
		x.Unprotected = map[int64]cbor.RawMessage{}
		f(&x)
		return cborBytes(t, cbor.Tag{Number: TagSign, Content: x})
	}
	many := make([]cbor.RawMessage, MaxSignatures+1)
	for i := range many {
		many[i] = arr.Signatures[0]
	}
	cases := map[string][]byte{
		"no signatures":        enc(func(x *signArray) { x.Signatures = []cbor.RawMessage{} }),
		"too many signatures":  enc(func(x *signArray) { x.Signatures = many }),
		"body protected set":   enc(func(x *signArray) { x.Protected = cborBytes(t, map[int64]any{1: -8}) }),
		"body unprotected set": enc(func(x *signArray) { x.Unprotected = map[int64]cbor.RawMessage{4: cborBytes(t, []byte("k"))} }),
		"detached payload":     enc(func(x *signArray) { x.Payload = nil }),
		"signature not array":  enc(func(x *signArray) { x.Signatures = []cbor.RawMessage{cborBytes(t, 1)} }),
		"signature no alg": enc(func(x *signArray) {
			x.Signatures = []cbor.RawMessage{cborBytes(t, []any{cborBytes(t, map[int64]any{4: []byte("k")}), map[int64]any{}, []byte("s")})}
		}),
		"untagged": raw.Content,
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeAll(b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeAll: %v, want ErrMalformed", err)
			}
		})
	}
}

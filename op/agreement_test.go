package op

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
)

func agreementKey(t testing.TB, c ecdh.Curve, id string) AgreementKey {
	t.Helper()
	priv, err := c.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := AgreementKeyFrom(id, priv.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestAgreementKeys registers X25519 and P-256 agreement keys: they
// round-trip through Decode and parse back to the keys they came from.
func TestAgreementKeys(t *testing.T) {
	s := newSigner(t, cose.AlgEdDSA)
	x := agreementKey(t, ecdh.X25519(), "ka1")
	p := agreementKey(t, ecdh.P256(), "ka2")
	if len(x.Pub) != 32 || x.KEM != KEMX25519 || len(p.Pub) != 33 || p.KEM != KEMP256 {
		t.Fatalf("keys %+v %+v", x, p)
	}
	tx, _, err := SignRegister(s, "k1", Payload{Type: TypeRegister, Network: "local", Register: &Register{
		Kind: KindDevice, Provider: did.New("local", []byte("p")).String(),
		Doc: Document{Keys: []Key{KeyFrom("k1", s.Public())}, KeyAgreement: []AgreementKey{x, p}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(tx)
	if err != nil {
		t.Fatal(err)
	}
	ka := got.Payload.Register.Doc.KeyAgreement
	if len(ka) != 2 {
		t.Fatalf("decoded %d agreement keys", len(ka))
	}
	for i, want := range []AgreementKey{x, p} {
		pub, err := ka[i].ECDH()
		if err != nil {
			t.Fatal(err)
		}
		back, err := AgreementKeyFrom(want.ID, pub)
		if err != nil || string(back.Pub) != string(want.Pub) {
			t.Fatalf("key %d does not round-trip: %v", i, err)
		}
	}
}

// TestAgreementKeyRejects has a named case for every refusal of a
// key-agreement key.
func TestAgreementKeyRejects(t *testing.T) {
	s := newSigner(t, cose.AlgEdDSA)
	x := agreementKey(t, ecdh.X25519(), "ka1")
	onePoint := make([]byte, 32)
	onePoint[0] = 1 // the point of order 1
	es := newSigner(t, cose.AlgES256)
	for _, c := range []struct {
		name string
		ka   []AgreementKey
		want Reason
	}{
		{"fail/a-signing-key", []AgreementKey{{ID: "ka", KEM: KEMP256, Pub: es.Public().Bytes()}}, ReasonInvalidField},
		{"fail/too-many", []AgreementKey{x, agreementKey(t, ecdh.X25519(), "ka2"), agreementKey(t, ecdh.P256(), "ka3")}, ReasonInvalidField},
		{"fail/id-of-a-signing-key", []AgreementKey{{ID: "k1", KEM: KEMX25519, Pub: x.Pub}}, ReasonInvalidField},
		{"fail/duplicate-id", []AgreementKey{x, {ID: "ka1", KEM: KEMP256, Pub: agreementKey(t, ecdh.P256(), "ka1").Pub}}, ReasonInvalidField},
		{"fail/jwk-suffix", []AgreementKey{{ID: "ka" + did.JWKSuffix, KEM: KEMX25519, Pub: x.Pub}}, ReasonInvalidField},
		{"fail/bad-id", []AgreementKey{{ID: "k a", KEM: KEMX25519, Pub: x.Pub}}, ReasonInvalidField},
		{"fail/zero-point", []AgreementKey{{ID: "ka", KEM: KEMX25519, Pub: make([]byte, 32)}}, ReasonInvalidField},
		{"fail/low-order-point", []AgreementKey{{ID: "ka", KEM: KEMX25519, Pub: onePoint}}, ReasonInvalidField},
		{"fail/x25519-short", []AgreementKey{{ID: "ka", KEM: KEMX25519, Pub: x.Pub[:31]}}, ReasonInvalidField},
		{"fail/p256-uncompressed", []AgreementKey{{ID: "ka", KEM: KEMP256, Pub: append([]byte{4}, make([]byte, 64)...)}}, ReasonInvalidField},
		{"fail/p256-not-a-point", []AgreementKey{{ID: "ka", KEM: KEMP256, Pub: append([]byte{2}, bytes.Repeat([]byte{0xff}, 32)...)}}, ReasonInvalidField},
		{"fail/unsupported-kem", []AgreementKey{{ID: "ka", KEM: 0x0041, Pub: x.Pub}}, ReasonUnsupportedAlg},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := Payload{Type: TypeUpdate, Network: "local", Update: &Update{
				DID: did.New("local", []byte("d")).String(), Version: 1,
				Doc: Document{Keys: []Key{KeyFrom("k1", s.Public()), KeyFrom("k2", es.Public())}, KeyAgreement: c.ka},
			}}
			err := p.Validate()
			if !errors.Is(err, &Error{Reason: c.want}) {
				t.Fatalf("got %v, want %s", err, c.want)
			}
		})
	}
}

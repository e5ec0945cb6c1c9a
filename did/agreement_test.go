package did

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	"github.com/bias-iot/bias/cose"
)

// TestKeyAgreementMethods: an agreement key appears as a Multikey and a
// JsonWebKey2020 method referenced from keyAgreement alone, never from
// authentication or assertionMethod.
func TestKeyAgreementMethods(t *testing.T) {
	s, _, err := cose.GenerateKey(cose.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := ecdh.X25519().GenerateKey(rand.Reader)
	p, _ := ecdh.P256().GenerateKey(rand.Reader)
	id := New("local", []byte("dev"))
	d, err := NewDocument(Subject{DID: id, Keys: []Key{{ID: "k1", Pub: s.Public()}},
		Agreement: []AgreementKey{{ID: "ka1", Pub: x.PublicKey()}, {ID: "ka2", Pub: p.PublicKey()}}})
	if err != nil {
		t.Fatal(err)
	}
	base := id.String()
	want := []string{base + "#ka1", base + "#ka1-jwk", base + "#ka2", base + "#ka2-jwk"}
	if !slices.Equal(d.KeyAgreement, want) {
		t.Fatalf("keyAgreement %v, want %v", d.KeyAgreement, want)
	}
	for _, ref := range want {
		if slices.Contains(d.Authentication, ref) || slices.Contains(d.AssertionMethod, ref) {
			t.Fatalf("%s is a signing relationship's", ref)
		}
	}
	vm := func(f string) VerificationMethod {
		v, ok := d.Fragment(f)
		if !ok {
			t.Fatalf("no method #%s", f)
		}
		return v.(VerificationMethod)
	}
	// The multicodec x25519-pub (0xec) gives the "z6LS" prefix of the
	// X25519 Multikey examples; p256-pub (0x1200) gives "zDn".
	if mb := vm("ka1").PublicKeyMultibase; !strings.HasPrefix(mb, "z6LS") {
		t.Fatalf("X25519 multikey %s", mb)
	}
	if mb := vm("ka2").PublicKeyMultibase; !strings.HasPrefix(mb, "zDn") {
		t.Fatalf("P-256 multikey %s", mb)
	}
	j := vm("ka1-jwk").PublicKeyJwk
	if j.Kty != "OKP" || j.Crv != "X25519" || j.X != base64.RawURLEncoding.EncodeToString(x.PublicKey().Bytes()) || j.Alg != "" {
		t.Fatalf("X25519 JWK %+v", j)
	}
	j = vm("ka2-jwk").PublicKeyJwk
	if j.Kty != "EC" || j.Crv != "P-256" || j.Alg != "" {
		t.Fatalf("P-256 JWK %+v", j)
	}
	xb, _ := base64.RawURLEncoding.DecodeString(j.X)
	yb, _ := base64.RawURLEncoding.DecodeString(j.Y)
	if string(append(append([]byte{4}, xb...), yb...)) != string(p.PublicKey().Bytes()) {
		t.Fatal("P-256 JWK is not the key")
	}
}

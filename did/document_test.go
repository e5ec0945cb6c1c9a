package did

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/bias-iot/bias/cose"
)

func TestBase58(t *testing.T) {
	for in, want := range map[string]string{
		"":             "",
		"hello world":  "StV1DL6CwTryKyV",
		"\x00\x00\x01": "112",
		"\xff":         "5Q",
	} {
		if got := base58([]byte(in)); got != want {
			t.Errorf("base58(%q) = %q, want %q", in, got, want)
		}
	}
}

// RFC 8037 appendix A.1: the Ed25519 key pair of the JOSE examples.
const (
	rfc8037D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
	rfc8037X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
)

func TestJWKAndMultikey(t *testing.T) {
	seed, _ := base64.RawURLEncoding.DecodeString(rfc8037D)
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	pk, err := cose.PublicKeyFrom(pub)
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := PublicJWK(pk)
	if err != nil {
		t.Fatal(err)
	}
	if jwk.Kty != "OKP" || jwk.Crv != "Ed25519" || jwk.X != rfc8037X || jwk.Y != "" {
		t.Fatalf("Ed25519 JWK %+v, want x = %s (RFC 8037 A.1)", jwk, rfc8037X)
	}
	mk, _ := Multikey(pk)
	if !strings.HasPrefix(mk, "z6Mk") {
		t.Fatalf("Ed25519 multikey %s should start with z6Mk", mk)
	}
	s, _, _ := cose.GenerateKey(cose.AlgES256)
	mk, _ = Multikey(s.Public())
	if !strings.HasPrefix(mk, "zDn") {
		t.Fatalf("P-256 multikey %s should start with zDn", mk)
	}
	jwk, _ = PublicJWK(s.Public())
	x, _ := base64.RawURLEncoding.DecodeString(jwk.X)
	y, _ := base64.RawURLEncoding.DecodeString(jwk.Y)
	back, err := cose.ParsePublicKey(cose.AlgES256, append(append([]byte{4}, x...), y...))
	if err != nil || !back.Equal(s.Public()) || jwk.Crv != "P-256" {
		t.Fatalf("P-256 JWK does not round-trip: %+v %v", jwk, err)
	}
}

func TestNewDocument(t *testing.T) {
	ed, _, _ := cose.GenerateKey(cose.AlgEdDSA)
	es, _, _ := cose.GenerateKey(cose.AlgES256)
	id := New("local", []byte("x"))
	prov := New("local", []byte("p"))
	doc, err := NewDocument(Subject{
		DID: id, Controller: prov,
		Keys:        []Key{{ID: "k1", Pub: ed.Public()}, {ID: "k2", Pub: es.Public()}},
		Services:    []Service{{ID: "api", Type: "Telemetry", ServiceEndpoint: "coaps://x.example"}},
		AlsoKnownAs: []string{"urn:imei:49015420-323751-8"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if doc.ID != id.String() || doc.Controller != prov.String() || len(doc.VerificationMethod) != 4 || doc.Context != nil {
		t.Fatalf("document %+v", doc)
	}
	for _, vm := range doc.VerificationMethod {
		multi, jwk := vm.PublicKeyMultibase != "", vm.PublicKeyJwk != nil
		if multi == jwk {
			t.Fatalf("%s carries %v multibase and %v jwk: want exactly one material", vm.ID, multi, jwk)
		}
		if (vm.Type == TypeMultikey) != multi || vm.Controller != id.String() || !strings.HasPrefix(vm.ID, id.String()+"#") {
			t.Fatalf("method %+v", vm)
		}
	}
	if doc.Authentication[0] != id.String()+"#k1" || doc.Service[0].ID != id.String()+"#api" || doc.AlsoKnownAs[0] != "urn:imei:49015420-323751-8" {
		t.Fatalf("references: %+v", doc)
	}
	b, _ := json.Marshal(doc.LD())
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if ctx, ok := m["@context"].([]any); !ok || ctx[0] != ContextDIDv1 {
		t.Fatalf("LD context: %v", m["@context"])
	}
	if strings.Contains(string(b), `"d"`) {
		t.Fatal("a private member in the document")
	}
}

package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/bias-iot/bias/did"
)

func TestResolveCommand(t *testing.T) {
	f := newFixture(t)
	key, _ := f.newKey("cam.key")
	id := field(t, f.must("register", "--key", key, "--provider", f.provider, "--alias", "urn:dev:mac:00-24-BE-FF-FE-80"), "did")

	var res did.Result
	if err := json.Unmarshal([]byte(f.must("resolve", id)), &res); err != nil {
		t.Fatal(err)
	}
	if res.Document.ID != id || res.DocumentMetadata.Status != "pending" {
		t.Fatalf("resolve: %+v", res)
	}
	// Not identifiable until validated.
	if out := f.fail("resolve", "urn:dev:mac:0024befffe80"); !strings.Contains(out, "notFound") {
		t.Fatalf("identify before validation: %s", out)
	}
	f.must("provider", "validate", id, "--key", f.admin)
	res = did.Result{}
	if err := json.Unmarshal([]byte(f.must("resolve", "urn:dev:mac:00:24:be:ff:fe:80")), &res); err != nil {
		t.Fatal(err)
	}
	if res.Document.ID != id || res.Identifier.Canonical != "urn:dev:mac:0024befffe80" {
		t.Fatalf("identify: %+v", res)
	}
	var doc did.Document
	if err := json.Unmarshal([]byte(f.must("resolve", "--document", "--version", "1", id)), &doc); err != nil || doc.ID != id {
		t.Fatalf("resolve --document --version 1: %+v %v", doc, err)
	}
	if out := f.fail("resolve", "did:bias:local:bad"); !strings.Contains(out, "invalidDid") {
		t.Fatalf("invalid DID: %s", out)
	}
}

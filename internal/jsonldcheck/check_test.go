package jsonldcheck

import (
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
)

// document builds the did+ld+json form of a subject with both key
// algorithms, services of registrant-chosen types, alsoKnownAs and a
// controller.
func document(t *testing.T, types ...string) *did.Document {
	t.Helper()
	ed, _, err := cose.GenerateKey(cose.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	es, _, err := cose.GenerateKey(cose.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	s := did.Subject{
		DID: did.New("local", []byte("device")), Controller: did.New("local", []byte("provider")),
		Keys:        []did.Key{{ID: "k1", Pub: ed.Public()}, {ID: "k2", Pub: es.Public()}},
		AlsoKnownAs: []string{"urn:imei:49015420-323751-8", "urn:dev:mac:0024befffe804ff1"},
	}
	for i, ty := range types {
		s.Services = append(s.Services, did.Service{ID: "s" + string(rune('a'+i)), Type: ty, ServiceEndpoint: "https://printer.example/jobs"})
	}
	d, err := did.NewDocument(s)
	if err != nil {
		t.Fatal(err)
	}
	return d.LD()
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edit returns b with its JSON object changed by f.
func edit(t *testing.T, b []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	return marshal(t, m)
}

func TestCheckDocuments(t *testing.T) {
	for name, types := range map[string][]string{
		"no-service":      nil,
		"print-service":   {"PrintService"},
		"arbitrary-types": {"Telemetry", "Print", "print-v2", "ünïcode", "LinkedDomains", "urn:x:absolute", "DIDCommMessaging"},
		// A type that a context defines as a term expands to that term.
		"type-a-term": {"Multikey", "status", "JsonWebKey2020"},
		"long-type":   {strings.Repeat("T", 64)},
	} {
		t.Run(name, func(t *testing.T) {
			b := marshal(t, document(t, types...))
			nq, err := Canonicalize(b)
			if err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			for _, want := range []string{
				"<https://w3id.org/security#publicKeyMultibase>",
				"<https://w3id.org/security#publicKeyJwk>",
				"<https://www.w3.org/ns/activitystreams#alsoKnownAs> <urn:imei:49015420-323751-8>",
				"<https://w3id.org/security#controller>",
			} {
				if !strings.Contains(nq, want) {
					t.Errorf("N-Quads lack %s:\n%s", want, nq)
				}
			}
			if len(types) > 0 && !strings.Contains(nq, "<https://www.w3.org/ns/did#serviceEndpoint> <https://printer.example/jobs>") {
				t.Errorf("N-Quads lack the service endpoint:\n%s", nq)
			}
		})
	}
}

// TestServiceTypeExpands: a type a registrant chose expands under bias's
// registrant vocabulary, as docs/did-method.md says.
func TestServiceTypeExpands(t *testing.T) {
	nq, err := Canonicalize(marshal(t, document(t, "PrintService")))
	if err != nil {
		t.Fatal(err)
	}
	want := "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/bias/registrant-defined#PrintService>"
	if !strings.Contains(nq, want) {
		t.Fatalf("N-Quads lack %s:\n%s", want, nq)
	}
}

func TestCheckRejects(t *testing.T) {
	good := marshal(t, document(t, "PrintService"))
	setContext := func(ctx ...any) func(map[string]any) {
		return func(m map[string]any) { m["@context"] = ctx }
	}
	for name, tc := range map[string]struct {
		doc  []byte
		want error
	}{
		// The defect: without bias's context a service type is a relative
		// IRI, which canonicalization would drop without a word.
		"fail/no-bias-context": {edit(t, good, setContext(did.ContextDIDv1, did.ContextMultikey, did.ContextJWS2020)), ErrInvalid},
		// Without the key contexts publicKeyMultibase is defined by none:
		// safe mode rejects it.
		"fail/undefined-term-safe-mode": {edit(t, good, setContext(did.ContextDIDv1)), ErrInvalid},
		// With bias's vocabulary a stray property would expand; it is
		// still defined by no context.
		"fail/undefined-term": {edit(t, good, func(m map[string]any) { m["colour"] = "blue" }), ErrInvalid},
		"fail/undefined-term-in-service": {edit(t, good, func(m map[string]any) {
			m["service"].([]any)[0].(map[string]any)["priority"] = "high"
		}), ErrInvalid},
		"fail/unknown-context": {edit(t, good, setContext(did.ContextDIDv1, did.ContextMultikey, did.ContextJWS2020, did.ContextBias, "https://example.com/ctx/v1")), ErrUnknownContext},
		// The loader is closed: even a real, well-known context is not
		// fetched.
		"fail/unembedded-context": {edit(t, good, setContext("https://www.w3.org/ns/credentials/v2")), ErrUnknownContext},
		"fail/relative-id":        {edit(t, good, func(m map[string]any) { m["controller"] = "provider" }), ErrInvalid},
		"fail/type-not-an-iri": {edit(t, good, func(m map[string]any) {
			m["service"].([]any)[0].(map[string]any)["type"] = "Print Service"
		}), ErrInvalid},
		// A type that names a keyword, or a term for one, is no type.
		"fail/type-is-keyword-term": {marshal(t, document(t, "id")), ErrInvalid},
		"fail/type-is-keyword":      {marshal(t, document(t, "@context")), ErrInvalid},
		// Through the vocabulary "#frag" would be an IRI with two fragments.
		"fail/type-fragment": {marshal(t, document(t, "#frag")), ErrInvalid},
		"fail/protected-redefinition": {edit(t, good, func(m map[string]any) {
			m["@context"] = append(m["@context"].([]any), map[string]any{"service": "https://example.com/service"})
		}), ErrInvalid},
		"fail/not-json":   {[]byte(`{"@context":`), ErrInvalid},
		"fail/no-context": {[]byte(`{"id":"did:bias:local:x"}`), ErrInvalid},
	} {
		t.Run(name, func(t *testing.T) {
			err := Check(tc.doc)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Check = %v, want %v\n%s", err, tc.want, tc.doc)
			}
			t.Log(err)
		})
	}
}

// TestCheckResolutionResult: a resolution result in its JSON-LD profile,
// with bias's metadata, passes with did.ResultContext and its document's
// own @context.
func TestCheckResolutionResult(t *testing.T) {
	doc := document(t, "PrintService", "Telemetry")
	res := did.Result{
		Document:           doc,
		ResolutionMetadata: did.ResolutionMetadata{ContentType: did.MediaTypeResolutionLD},
		DocumentMetadata: &did.DocumentMetadata{
			Created: "2026-01-02T03:04:05Z", Updated: "2026-01-03T03:04:05Z", VersionID: "2", NextVersionID: "3",
			Provider: doc.Controller, Status: "validated", StatusReason: "attested", VersionStatus: "pending",
			Kind: "device", Height: "42",
		},
		Identifier: &did.IdentifierMetadata{Identifier: "IMEI 49015420-323751-8", Canonical: "urn:imei:49015420-323751-8", Kind: "imei"},
	}
	failed := did.Result{ResolutionMetadata: did.ResolutionMetadata{Error: did.NewProblem(did.ErrNotFound, "not registered")}, DocumentMetadata: &did.DocumentMetadata{Deactivated: true}}
	for name, r := range map[string]did.Result{"ok": res, "fail": failed} {
		t.Run(name, func(t *testing.T) {
			b := edit(t, marshal(t, r), func(m map[string]any) { m["@context"] = did.ResultContext() })
			nq, err := Canonicalize(b)
			if err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			t.Log(nq)
		})
	}
	plain := res
	plain.Document = &did.Document{ID: doc.ID, Controller: doc.Controller, Service: doc.Service}
	for name, b := range map[string][]byte{
		// Without bias's context its metadata is defined by none.
		"fail/no-bias-context": edit(t, marshal(t, res), func(m map[string]any) { m["@context"] = did.ContextResolution }),
		// The document inside needs its own @context (Document.LD).
		"fail/document-without-context": edit(t, marshal(t, plain), func(m map[string]any) { m["@context"] = did.ResultContext() }),
	} {
		t.Run(name, func(t *testing.T) {
			if err := Check(b); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Check = %v, want ErrInvalid\n%s", err, b)
			}
		})
	}
}

// TestEveryContextLoads: each embedded context is JSON-LD that the
// loader serves under its IRI.
func TestEveryContextLoads(t *testing.T) {
	for _, c := range did.Contexts() {
		doc := marshal(t, map[string]any{"@context": c.IRI, "@id": "urn:x:1", "@type": "urn:x:T"})
		if err := Check(doc); err != nil {
			t.Errorf("%s (%s): %v", c.IRI, c.Name, err)
		}
	}
}

// TestNodeDoesNotLinkJSONGold: json-gold is for tests and tools, not the
// node binary.
func TestNodeDoesNotLinkJSONGold(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/bias-iot/bias/cmd/bias").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "json-gold") || strings.HasSuffix(dep, "/jsonldcheck") {
			t.Errorf("the node links %s", dep)
		}
	}
}

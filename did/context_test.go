package did

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestContextsEmbedded: every context a document or result names is
// embedded, is a JSON-LD context, and is found by its IRI; LD names
// bias's context last, after the protected contexts it must not redefine.
func TestContextsEmbedded(t *testing.T) {
	names := map[string]bool{}
	for _, c := range Contexts() {
		var doc map[string]any
		if err := json.Unmarshal(c.Document(), &doc); err != nil || doc["@context"] == nil {
			t.Errorf("%s (%s) is not a JSON-LD context: %v", c.IRI, c.Name, err)
		}
		if got, ok := LookupContext(c.IRI); !ok || got != c {
			t.Errorf("LookupContext(%s) = %+v %v", c.IRI, got, ok)
		}
		if names[c.Name] {
			t.Errorf("name %s twice", c.Name)
		}
		names[c.Name] = true
	}
	ld := (&Document{ID: "did:bias:local:x"}).LD().Context
	for _, iri := range append(slices.Clone(ld), ResultContext()...) {
		if _, ok := LookupContext(iri); !ok {
			t.Errorf("%s is named but not embedded", iri)
		}
	}
	if ld[len(ld)-1] != ContextBias {
		t.Errorf("LD context %v: bias's context must come last", ld)
	}
	if _, ok := LookupContext("https://www.w3.org/ns/credentials/v2"); ok {
		t.Error("a context bias does not use is embedded")
	}
	// A copy: a caller cannot change what the next one reads.
	c, _ := LookupContext(ContextBias)
	b := c.Document()
	b[0] = 'x'
	if c.Document()[0] != '{' {
		t.Error("Document returns the embedded bytes themselves")
	}
}

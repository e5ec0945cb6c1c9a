package did

import (
	"embed"
	"path"
)

// The JSON-LD contexts of bias's documents and resolution results, as
// published (see contexts/README.md for their sources), and bias's own.
//
//go:embed contexts/*.jsonld
var contextFiles embed.FS

// Context is a JSON-LD context that bias's documents use: its IRI and
// the name of the file a node serves it as (GET /contexts/{name}).
type Context struct {
	IRI  string
	Name string
}

// contexts is every embedded context, by IRI.
var contexts = []Context{
	{ContextDIDv1, "did-v1.jsonld"},
	{ContextMultikey, "multikey-v1.jsonld"},
	{ContextJWS2020, "jws-2020-v1.jsonld"},
	{ContextResolution, "did-resolution-v1.jsonld"},
	{ContextBias, "bias-v1.jsonld"},
}

// Contexts returns the embedded contexts.
func Contexts() []Context { return append([]Context(nil), contexts...) }

// Document returns the context's JSON-LD document, a fresh copy.
func (c Context) Document() []byte {
	b, err := contextFiles.ReadFile(path.Join("contexts", c.Name))
	if err != nil {
		panic("did: context " + c.Name + " is not embedded") // a broken build
	}
	return b
}

// LookupContext returns the embedded context of an IRI, as a JSON-LD
// document loader asks for it; false if bias embeds no such context.
func LookupContext(iri string) (Context, bool) {
	for _, c := range contexts {
		if c.IRI == iri {
			return c, true
		}
	}
	return Context{}, false
}

// ResultContext is the @context of a resolution result in its JSON-LD
// form (application/ld+json;profile="https://w3id.org/did-resolution"):
// the DID Resolution terms and bias's metadata terms. The result's
// didDocument carries its own @context (Document.LD).
func ResultContext() []string { return []string{ContextResolution, ContextBias} }

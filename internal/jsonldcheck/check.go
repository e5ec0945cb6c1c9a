// Package jsonldcheck checks that a JSON-LD document of bias (a DID
// document in its did+ld+json form, or a resolution result in its JSON-LD
// profile) is well defined: it expands in safe mode, and canonicalizes
// with URDNA2015 to N-Quads, with a document loader that serves only the
// contexts embedded in package did, never the network.
//
// Safe mode, as json-gold has it, rejects a property that does not expand
// to an absolute IRI. Check adds what safe mode elsewhere (jsonld.js)
// also rejects: a relative @type or @id, which canonicalization would
// drop without a word; an IRI that N-Quads cannot carry; and a property
// that expands only through bias's registrant vocabulary, which is there
// for service types, not for properties nobody defined.
//
//	if err := jsonldcheck.Check(body); err != nil {
//		t.Fatalf("not valid JSON-LD: %v", err)
//	}
//
// It is for tests and tools: the node does not link json-gold.
package jsonldcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/bias-iot/bias/did"
	"github.com/piprate/json-gold/ld"
)

// Sentinels, for errors.Is.
var (
	// ErrUnknownContext: the document names a context that bias does not
	// embed (the loader fetches nothing).
	ErrUnknownContext = errors.New("context not embedded")
	// ErrInvalid: the document does not expand, or expands to terms or
	// IRIs that are not defined.
	ErrInvalid = errors.New("invalid JSON-LD")
)

// Check expands doc in safe mode and canonicalizes it; nil if both pass.
func Check(doc []byte) error {
	_, err := Canonicalize(doc)
	return err
}

// Canonicalize returns doc's canonical N-Quads (URDNA2015), after the
// checks of Check.
func Canonicalize(doc []byte) (nq string, err error) {
	defer func() {
		// json-gold asserts types as it goes; input that breaks one is
		// invalid, not a reason to stop the test binary that checks it.
		if r := recover(); r != nil {
			nq, err = "", fmt.Errorf("%w: the processor failed: %v", ErrInvalid, r)
		}
	}()
	var in any
	if err := json.Unmarshal(doc, &in); err != nil {
		return "", fmt.Errorf("%w: not JSON: %w", ErrInvalid, err)
	}
	p := ld.NewJsonLdProcessor()
	o := options()
	o.SafeMode = true
	expanded, err := p.Expand(in, o)
	if err != nil {
		return "", wrap(err)
	}
	if len(expanded) == 0 {
		return "", fmt.Errorf("%w: expands to nothing", ErrInvalid)
	}
	if err := walk(expanded, "$"); err != nil {
		return "", err
	}
	// The expanded form, which passed the checks, is what is
	// canonicalized: json-gold's Normalize does not pass safe mode on.
	o = options()
	o.Algorithm = ld.AlgorithmURDNA2015
	o.Format = "application/n-quads"
	out, err := p.Normalize(expanded, o)
	if err != nil {
		return "", wrap(err)
	}
	nq, _ = out.(string)
	if nq == "" {
		return "", fmt.Errorf("%w: canonicalizes to no statements", ErrInvalid)
	}
	return nq, nil
}

func options() *ld.JsonLdOptions {
	o := ld.NewJsonLdOptions("")
	o.ProcessingMode = ld.JsonLd_1_1
	o.DocumentLoader = loader{}
	return o
}

// wrap keeps ErrUnknownContext visible through json-gold's errors, which
// carry the loader's error as text.
func wrap(err error) error {
	if strings.Contains(err.Error(), ErrUnknownContext.Error()) {
		return fmt.Errorf("%w: %w", ErrUnknownContext, err)
	}
	return fmt.Errorf("%w: %w", ErrInvalid, err)
}

// loader serves the contexts embedded in package did and nothing else.
type loader struct{}

var _ ld.DocumentLoader = loader{}

func (loader) LoadDocument(iri string) (*ld.RemoteDocument, error) {
	c, ok := did.LookupContext(iri)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownContext, iri)
	}
	d, err := ld.DocumentFromReader(bytes.NewReader(c.Document()))
	if err != nil {
		return nil, fmt.Errorf("context %s: %w", iri, err)
	}
	return &ld.RemoteDocument{DocumentURL: iri, Document: d}, nil
}

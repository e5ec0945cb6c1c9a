package jsonldcheck

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/bias-iot/bias/did"
	"github.com/piprate/json-gold/ld"
)

// registrantVocab is the @vocab of bias's context: what a service type
// a registrant chose expands under.
var registrantVocab = func() string {
	c, _ := did.LookupContext(did.ContextBias)
	var doc struct {
		Context struct {
			Vocab string `json:"@vocab"`
		} `json:"@context"`
	}
	if err := json.Unmarshal(c.Document(), &doc); err != nil || doc.Context.Vocab == "" {
		panic("jsonldcheck: bias's context has no @vocab")
	}
	return doc.Context.Vocab
}()

// walk checks an expanded JSON-LD value at JSON path at: every property
// is an IRI defined by a context (not only through the registrant
// vocabulary), every @id and @type an absolute IRI or a blank node.
func walk(v any, at string) error {
	switch t := v.(type) {
	case []any:
		for i, e := range t {
			if err := walk(e, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case map[string]any:
		if _, ok := t["@value"]; ok {
			return nil // a literal: its @type is a datatype IRI from a context
		}
		for k, e := range t {
			here := at + "." + k
			switch {
			case k == "@id":
				if err := absolute(here, e); err != nil {
					return err
				}
			case k == "@type":
				for i, ty := range ld.Arrayify(e) {
					if err := absolute(fmt.Sprintf("%s[%d]", here, i), ty); err != nil {
						return err
					}
				}
			case ld.IsKeyword(k):
				if err := walk(e, here); err != nil {
					return err
				}
			case strings.HasPrefix(k, registrantVocab):
				return fmt.Errorf("%w: %s: property %q is defined by no context", ErrInvalid, at, strings.TrimPrefix(k, registrantVocab))
			default:
				if err := absolute(here, k); err != nil {
					return err
				}
				if err := walk(e, here); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// absolute checks that v is an absolute IRI (or a blank node) that an
// N-Quads IRIREF can carry.
func absolute(at string, v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("%w: %s is not a string", ErrInvalid, at)
	}
	if strings.HasPrefix(s, "_:") {
		return nil
	}
	if !ld.IsAbsoluteIri(s) {
		return fmt.Errorf("%w: %s: %q is not an absolute IRI", ErrInvalid, at, s)
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return r <= 0x20 || strings.ContainsRune("<>\"{}|^`\\", r) }); i >= 0 {
		return fmt.Errorf("%w: %s: %q holds %q, which no IRI may", ErrInvalid, at, s, s[i])
	}
	if strings.Count(s, "#") > 1 {
		return fmt.Errorf("%w: %s: %q has two fragments", ErrInvalid, at, s)
	}
	return nil
}

package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/bias-iot/bias/did"
)

// jsonLDContext serves a JSON-LD context that bias's documents name
// (GET /contexts/{name}, names as in did.Contexts: bias-v1.jsonld,
// did-v1.jsonld...): the copy embedded in the binary, so that a JSON-LD
// processor can load bias's own context from any node, and the others
// without the network they are published on. Public and cacheable: a
// context under a versioned name changes only by added terms.
func (s *Server) jsonLDContext(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	name := r.PathValue("name")
	for _, c := range did.Contexts() {
		if c.Name != name {
			continue
		}
		b := c.Document()
		sum := sha256.Sum256(b)
		h := w.Header()
		h.Set("Content-Type", "application/ld+json")
		h.Set("Cache-Control", "public, max-age=86400")
		h.Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
		h.Set("Link", `<`+c.IRI+`>; rel="canonical"`)
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
		return nil
	}
	return fail(ReasonNotFound, "no such context; see the contexts section of docs/did-method.md")
}

package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/resolver"
	"github.com/bias-iot/bias/legacyid"
)

// representation is what a resolution request asked for.
type representation int

const (
	reprResult representation = iota // the resolution result
	reprJSON                         // the document, application/did+json
	reprLD                           // the document, application/did+ld+json
)

// negotiate picks a representation from the Accept header; false if none
// of the offered types is supported.
func negotiate(accept string) (representation, string, bool) {
	if strings.TrimSpace(accept) == "" {
		return reprResult, did.MediaTypeResolution, true
	}
	best, bestQ, found := reprResult, -1.0, false
	var bestType string
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		var r representation
		switch {
		case mt == did.MediaTypeResolution, mt == "*/*", mt == "application/*", mt == "application/json":
			r, mt = reprResult, did.MediaTypeResolution
		case mt == "application/ld+json" && params["profile"] == "https://w3id.org/did-resolution":
			r, mt = reprResult, did.MediaTypeResolutionLD
		case mt == did.MediaTypeLDJSON, mt == "application/ld+json":
			// Plain JSON-LD, as the DIF driver contract sends it: the
			// document, in its JSON-LD form, labelled as asked.
			r = reprLD
		case mt == did.MediaTypeJSON:
			r = reprJSON
		default:
			continue
		}
		if q > bestQ && q > 0 {
			best, bestQ, bestType, found = r, q, mt, true
		}
	}
	return best, bestType, found
}

// writeResolution writes a resolution result.
func writeResolution(w http.ResponseWriter, status int, ctype string, res *did.Result) {
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(res)
}

// resolutionFailure writes a failed resolution, with the error in both
// forms (the DID Core keyword and the DID Resolution error object).
func resolutionFailure(w http.ResponseWriter, status int, keyword, detail string) {
	writeResolution(w, status, did.MediaTypeResolution, &did.Result{
		Context: did.ContextResolution, ResolutionMetadata: did.NewProblem(keyword, detail),
		DocumentMetadata: &did.DocumentMetadata{},
	})
}

// resolutionInternal answers a resolution that failed in the node, not in
// the request, in the resolution's error form; the cause is logged, never
// sent.
func (s *Server) resolutionInternal(w http.ResponseWriter, id string, err error) {
	if errors.Is(err, context.Canceled) {
		// The client went away: nothing failed here, and nobody reads.
		resolutionFailure(w, 499, did.ErrInternal, "canceled")
		return
	}
	s.log.Error("resolution failed", "id", id, "err", err)
	resolutionFailure(w, http.StatusInternalServerError, did.ErrInternal, "the node could not read its state; try again, or another node")
}

func (s *Server) resolveHTTP(w http.ResponseWriter, r *http.Request) error {
	repr, ctype, ok := negotiate(r.Header.Get("Accept"))
	if !ok {
		resolutionFailure(w, http.StatusNotAcceptable, did.ErrRepresentationUnsupported,
			"supported: "+did.MediaTypeResolution+", "+did.MediaTypeLDJSON+", "+did.MediaTypeJSON)
		return nil
	}
	w.Header().Set("Access-Control-Allow-Origin", "*") // a public, read-only answer
	if m, ok := did.MethodOf(r.PathValue("did")); ok && m != did.Method {
		resolutionFailure(w, http.StatusNotImplemented, did.ErrMethodNotSupported, "this resolver resolves did:"+did.Method+", not did:"+m)
		return nil
	}
	d, err := did.ParseNoFragment(r.PathValue("did"))
	if err != nil {
		resolutionFailure(w, http.StatusBadRequest, did.ErrInvalidDID, err.Error())
		return nil
	}
	var o did.Options
	if v := r.URL.Query().Get("versionId"); v != "" {
		if o.VersionID, err = strconv.ParseUint(v, 10, 64); err != nil || o.VersionID == 0 {
			resolutionFailure(w, http.StatusBadRequest, did.ErrInvalidOptions, "versionId must be a positive integer")
			return nil
		}
	}
	if v := r.URL.Query().Get("versionTime"); v != "" {
		if o.VersionTime, err = time.Parse(time.RFC3339, v); err != nil {
			resolutionFailure(w, http.StatusBadRequest, did.ErrInvalidOptions, "versionTime must be an RFC 3339 time")
			return nil
		}
	}
	if o.VersionID > 0 && !o.VersionTime.IsZero() {
		resolutionFailure(w, http.StatusBadRequest, did.ErrInvalidOptions, "give versionId or versionTime, not both")
		return nil
	}
	return s.respondResolution(r.Context(), w, d, o, repr, ctype, nil)
}

// respondResolution resolves d and writes the representation asked for.
func (s *Server) respondResolution(ctx context.Context, w http.ResponseWriter, d did.DID, o did.Options, repr representation, ctype string, ident *did.IdentifierMetadata) error {
	if d.Network != s.network {
		resolutionFailure(w, http.StatusNotFound, did.ErrNotFound, "this node serves network "+s.network)
		return nil
	}
	res, err := s.res.Resolve(ctx, d.String(), o)
	if err != nil {
		s.resolutionInternal(w, d.String(), err)
		return nil
	}
	if res == nil {
		resolutionFailure(w, http.StatusNotFound, did.ErrNotFound, d.String()+" is not registered"+map[bool]string{true: " at that version or time", false: ""}[o.VersionID > 0 || !o.VersionTime.IsZero()])
		return nil
	}
	res.Identifier = ident
	status := http.StatusOK
	if res.DocumentMetadata.Deactivated {
		status = http.StatusGone
	}
	if repr == reprLD {
		res.Document = res.Document.LD()
	}
	res.ResolutionMetadata.ContentType = ctype
	if repr != reprResult && status == http.StatusOK {
		return writeDocument(w, ctype, res.Document)
	}
	res.Context = did.ContextResolution
	writeResolution(w, status, did.MediaTypeResolution, res)
	return nil
}

func writeDocument(w http.ResponseWriter, ctype string, d *did.Document) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return err
	}
	w.Header().Set("Content-Type", ctype)
	_, err := w.Write(buf.Bytes())
	return err
}

// identify resolves the entity that holds a legacy identifier.
func (s *Server) identify(w http.ResponseWriter, r *http.Request) error {
	repr, ctype, ok := negotiate(r.Header.Get("Accept"))
	if !ok {
		resolutionFailure(w, http.StatusNotAcceptable, did.ErrRepresentationUnsupported, "supported: "+did.MediaTypeResolution)
		return nil
	}
	raw := r.URL.Query().Get("id")
	canon, kind, err := legacyid.Normalize(raw)
	if err != nil {
		resolutionFailure(w, http.StatusBadRequest, did.ErrInvalidDID, err.Error())
		return nil
	}
	d, err := s.res.Identify(r.Context(), canon)
	if errors.Is(err, resolver.ErrNotHeld) {
		resolutionFailure(w, http.StatusNotFound, did.ErrNotFound, "no validated entity holds "+canon)
		return nil
	}
	if err != nil {
		s.resolutionInternal(w, canon, err)
		return nil
	}
	return s.respondResolution(r.Context(), w, d, did.Options{}, repr, ctype,
		&did.IdentifierMetadata{Identifier: raw, Canonical: canon, Kind: string(kind)})
}

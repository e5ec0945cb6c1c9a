package api

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/resolver"
	"github.com/bias-iot/bias/legacyid"
)

// representation is what a resolution or dereferencing answers with.
type representation int

const (
	reprDefault  representation = iota // no preference: the result of the function asked
	reprResult                         // the resolution result, application/did-resolution
	reprResultLD                       // its JSON-LD form (the did-resolution profile)
	reprDeref                          // the dereferencing result, application/did-url-dereferencing
	reprDoc                            // the document or resource alone, application/did+json
	reprDocLD                          // the same in JSON-LD: did+ld+json, ld+json or did
	reprURIList                        // the selected service endpoints: a 303 redirect
)

// offer is one acceptable representation, with the media type to label it.
type offer struct {
	repr  representation
	ctype string
	q     float64
}

// accepted reads an Accept header into the representations it accepts,
// best first; an empty header accepts the default.
func accepted(accept string) []offer {
	if strings.TrimSpace(accept) == "" {
		return []offer{{reprDefault, "", 1}}
	}
	var out []offer
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f <= 1 {
				q = f
			}
		}
		if q == 0 {
			continue
		}
		o := offer{q: q, ctype: mt}
		switch {
		case mt == "*/*", mt == "application/*", mt == "application/json":
			o.repr = reprDefault
		case mt == did.MediaTypeResolution:
			o.repr = reprResult
		case mt == "application/ld+json" && params["profile"] == "https://w3id.org/did-resolution":
			o.repr, o.ctype = reprResultLD, did.MediaTypeResolutionLD
		case mt == did.MediaTypeDereferencing:
			o.repr = reprDeref
		case mt == did.MediaTypeJSON:
			o.repr = reprDoc
		case mt == did.MediaTypeLDJSON, mt == "application/ld+json", mt == did.MediaTypeDID:
			// Plain JSON-LD, as the DIF driver contract sends it: the
			// document, in its JSON-LD form, labelled as asked.
			o.repr = reprDocLD
		case mt == did.MediaTypeURIList:
			o.repr = reprURIList
		default:
			continue
		}
		out = append(out, o)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].q > out[j].q })
	return out
}

// pick returns the best offer among the representations allowed; false
// if none of them is acceptable.
func pick(offers []offer, allowed ...representation) (offer, bool) {
	for _, o := range offers {
		for _, a := range allowed {
			if o.repr == a {
				return o, true
			}
		}
	}
	return offer{}, false
}

// request is a parsed resolution or dereferencing request.
type request struct {
	u                                 did.URL
	opts                              did.Options
	service, serviceType, relativeRef string
}

// deref reports whether the request dereferences more than the document:
// a path, a fragment or a service.
func (q *request) deref() bool {
	return q.u.Path != "" || q.u.Fragment != "" || q.service != "" || q.serviceType != ""
}

// looksLikeURL: s has a path, query or fragment after its DID.
func looksLikeURL(s string) bool { return strings.ContainsAny(s, "/?#") }

// parseRequest reads the DID or DID URL of the path and the resolution
// options of the query (where a client that did not encode its DID URL
// also puts its DID parameters), as DID Resolution's algorithms check
// them: syntax, method, supported options, valid options.
func parseRequest(raw string, query url.Values) (*request, *did.Problem) {
	invalid := did.ErrInvalidDID
	if looksLikeURL(raw) {
		invalid = did.ErrInvalidDIDURL
	}
	m, ok := did.MethodOf(raw)
	if !ok {
		return nil, did.NewProblem(invalid, "not a DID of the DID Core syntax")
	}
	if m != did.Method {
		return nil, did.NewProblem(did.ErrMethodNotSupported, "this resolver resolves did:"+did.Method+", not did:"+m)
	}
	u, err := did.ParseURL(raw)
	if err != nil {
		return nil, did.NewProblem(invalid, err.Error())
	}
	params := map[string]string{}
	for k, v := range u.Query {
		switch k {
		case did.ParamService, did.ParamServiceType, did.ParamRelativeRef, did.ParamVersionID, did.ParamVersionTime:
			params[k] = v
		default:
			return nil, did.NewProblem(did.ErrFeatureNotSupported, "DID parameter "+strconv.Quote(k)+" is not supported: did:bias knows service, serviceType, relativeRef, versionId and versionTime")
		}
	}
	for k, vs := range query {
		if len(vs) != 1 {
			return nil, did.NewProblem(did.ErrInvalidOptions, "option "+strconv.Quote(k)+" given more than once")
		}
		v := vs[0]
		switch k {
		case did.ParamService, did.ParamServiceType, did.ParamRelativeRef, did.ParamVersionID, did.ParamVersionTime:
			if old, ok := params[k]; ok && old != v {
				return nil, did.NewProblem(did.ErrInvalidOptions, strconv.Quote(k)+" differs between the DID URL and the options")
			}
			params[k] = v
		case "expandRelativeUrls", "noCache":
			// Documents hold absolute DID URLs only, and every answer is
			// read from the committed state: both are met either way.
			if v != "true" && v != "false" {
				return nil, did.NewProblem(did.ErrInvalidOptions, k+" must be true or false")
			}
		default:
			return nil, did.NewProblem(did.ErrFeatureNotSupported, "resolution option "+strconv.Quote(k)+" is not supported")
		}
	}
	q := &request{u: u, service: params[did.ParamService], serviceType: params[did.ParamServiceType], relativeRef: params[did.ParamRelativeRef]}
	if v, ok := params[did.ParamVersionID]; ok {
		if q.opts.VersionID, err = strconv.ParseUint(v, 10, 64); err != nil || q.opts.VersionID == 0 {
			return nil, did.NewProblem(did.ErrInvalidOptions, "versionId must be a positive integer")
		}
	}
	if v, ok := params[did.ParamVersionTime]; ok {
		if q.opts.VersionTime, err = time.Parse(time.RFC3339, v); err != nil {
			return nil, did.NewProblem(did.ErrInvalidOptions, "versionTime must be an RFC 3339 time")
		}
	}
	if q.opts.VersionID > 0 && !q.opts.VersionTime.IsZero() {
		return nil, did.NewProblem(did.ErrInvalidOptions, "give versionId or versionTime, not both")
	}
	if q.relativeRef != "" && q.service == "" && q.serviceType == "" {
		return nil, did.NewProblem(did.ErrInvalidDIDURL, "relativeRef needs service or serviceType")
	}
	return q, nil
}

// writeTyped writes v with a status and a media type.
func writeTyped(w http.ResponseWriter, status int, ctype string, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, ctype = http.StatusInternalServerError, did.MediaTypeResolution
		b, _ = json.Marshal(failedResult(did.NewProblem(did.ErrInternal, "the answer could not be encoded")))
	}
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func failedResult(p *did.Problem) *did.Result {
	return &did.Result{ResolutionMetadata: did.ResolutionMetadata{Error: p}, DocumentMetadata: &did.DocumentMetadata{}}
}

// failure writes a failed resolution (or dereferencing, when deref) in
// its result form, with the HTTP status of its error.
func failure(w http.ResponseWriter, deref bool, p *did.Problem) {
	status := p.Status()
	if p.Detail == "canceled" && p.Keyword() == did.ErrInternal {
		status = 499 // the client went away: nobody reads
	}
	if deref {
		writeTyped(w, status, did.MediaTypeDereferencing, &did.Dereferencing{Metadata: did.ResolutionMetadata{Error: p}, ContentMetadata: &did.DocumentMetadata{}})
		return
	}
	writeTyped(w, status, did.MediaTypeResolution, failedResult(p))
}

// internal turns a failure of the node, not of the request, into the
// resolution's error; the cause is logged, never sent.
func (s *Server) internal(id string, err error) *did.Problem {
	if errors.Is(err, context.Canceled) {
		return did.NewProblem(did.ErrInternal, "canceled")
	}
	s.log.Error("resolution failed", "id", id, "err", err)
	return did.NewProblem(did.ErrInternal, "the node could not read its state; try again, or another node")
}

// resolveHTTP is GET /1.0/identifiers/{did-or-did-url}: DID Resolution
// v1.0's HTTP(S) binding of resolution and of DID URL dereferencing.
func (s *Server) resolveHTTP(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Access-Control-Allow-Origin", "*") // a public, read-only answer
	raw := r.PathValue("did")
	offers := accepted(r.Header.Get("Accept"))
	// The error form: the dereferencing result for a DID URL or when it
	// is what the client prefers, else the resolution result.
	derefForm := looksLikeURL(raw) || len(offers) > 0 && offers[0].repr == reprDeref
	q, p := parseRequest(raw, r.URL.Query())
	if p != nil {
		failure(w, derefForm, p)
		return nil
	}
	allowed := []representation{reprDefault, reprResult, reprResultLD, reprDeref, reprDoc, reprDocLD}
	switch {
	case q.service != "" || q.serviceType != "":
		allowed = []representation{reprDefault, reprDeref, reprDoc, reprDocLD, reprURIList}
	case q.deref():
		allowed = []representation{reprDefault, reprDeref, reprDoc, reprDocLD}
	}
	o, ok := pick(offers, allowed...)
	if !ok {
		failure(w, derefForm, did.NewProblem(did.ErrRepresentationUnsupported, "supported: "+strings.Join(mediaTypes(allowed), ", ")))
		return nil
	}
	if o.repr == reprDefault {
		o = offer{repr: reprResult, ctype: did.MediaTypeResolution}
		if q.deref() {
			o = offer{repr: reprDeref, ctype: did.MediaTypeDereferencing}
		}
	}
	s.answer(r.Context(), w, q, o, nil)
	return nil
}

// mediaTypes names the media types of the representations.
func mediaTypes(rs []representation) []string {
	names := map[representation][]string{
		reprResult: {did.MediaTypeResolution}, reprResultLD: {did.MediaTypeResolutionLD}, reprDeref: {did.MediaTypeDereferencing},
		reprDoc: {did.MediaTypeJSON}, reprDocLD: {did.MediaTypeLDJSON, "application/ld+json", did.MediaTypeDID}, reprURIList: {did.MediaTypeURIList},
	}
	var out []string
	for _, r := range rs {
		out = append(out, names[r]...)
	}
	return out
}

// answer resolves the request's DID and writes the representation o of
// what it asked for.
func (s *Server) answer(ctx context.Context, w http.ResponseWriter, q *request, o offer, ident *did.IdentifierMetadata) {
	derefForm := o.repr == reprDeref || q.deref()
	d := q.u.DID
	if d.Network != s.network {
		failure(w, derefForm, did.NewProblem(did.ErrNotFound, "this node serves network "+s.network))
		return
	}
	res, err := s.res.Resolve(ctx, d.String(), q.opts)
	if err != nil {
		failure(w, derefForm, s.internal(d.String(), err))
		return
	}
	if res == nil {
		detail := d.String() + " is not registered"
		if q.opts.VersionID > 0 || !q.opts.VersionTime.IsZero() {
			detail += " at that version or time"
		}
		failure(w, derefForm, did.NewProblem(did.ErrNotFound, detail))
		return
	}
	res.Identifier = ident
	if res.DocumentMetadata.Deactivated {
		// 410, with the metadata and no document, in the result form.
		if derefForm {
			writeTyped(w, http.StatusGone, did.MediaTypeDereferencing, &did.Dereferencing{ContentMetadata: res.DocumentMetadata})
			return
		}
		writeTyped(w, http.StatusGone, did.MediaTypeResolution, res)
		return
	}
	if q.u.Path != "" {
		failure(w, derefForm, did.NewProblem(did.ErrNotFound, "did:bias defines no DID paths"))
		return
	}
	doc := res.Document
	if q.service != "" || q.serviceType != "" {
		if doc = doc.SelectServices(q.service, q.serviceType); len(doc.Service) == 0 {
			failure(w, derefForm, did.NewProblem(did.ErrNotFound, "no service of "+d.String()+" matches"))
			return
		}
		if o.repr == reprURIList {
			urls, err := did.ServiceURLs(doc.Service, q.relativeRef, q.u.Fragment)
			if err != nil {
				failure(w, true, did.NewProblem(did.ErrInvalidDIDURL, err.Error()))
				return
			}
			// The first selected endpoint (a serviceType may select more).
			w.Header().Set("Location", urls[0])
			w.WriteHeader(http.StatusSeeOther)
			return
		}
	}
	ld := o.repr != reprDoc
	if ld {
		doc = doc.LD()
	}
	var content any = doc
	if q.u.Fragment != "" {
		v, ok := doc.Fragment(q.u.Fragment)
		if !ok {
			failure(w, derefForm, did.NewProblem(did.ErrNotFound, d.String()+" has no verification method or service #"+q.u.Fragment))
			return
		}
		content = v
		if ld {
			content = withContext(v, doc.Context)
		}
	}
	switch o.repr {
	case reprDoc, reprDocLD:
		writeTyped(w, http.StatusOK, o.ctype, content)
	case reprDeref:
		writeTyped(w, http.StatusOK, did.MediaTypeDereferencing, &did.Dereferencing{
			Metadata: did.ResolutionMetadata{ContentType: did.MediaTypeLDJSON}, Content: content, ContentMetadata: res.DocumentMetadata,
		})
	case reprResultLD:
		res.Context = did.ResultContext()
		fallthrough
	default:
		res.Document = doc
		res.ResolutionMetadata.ContentType = did.MediaTypeLDJSON
		writeTyped(w, http.StatusOK, o.ctype, res)
	}
}

// withContext returns v (a verification method or service) as a JSON-LD
// object of its own, with the document's contexts.
func withContext(v any, context []string) map[string]any {
	b, _ := json.Marshal(v)
	m := map[string]any{}
	_ = json.Unmarshal(b, &m)
	m["@context"] = context
	return m
}

// identify resolves the entity that holds a legacy identifier.
func (s *Server) identify(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	o, ok := pick(accepted(r.Header.Get("Accept")), reprDefault, reprResult, reprResultLD, reprDoc, reprDocLD)
	if !ok {
		failure(w, false, did.NewProblem(did.ErrRepresentationUnsupported, "supported: "+strings.Join(mediaTypes([]representation{reprResult, reprResultLD, reprDoc, reprDocLD}), ", ")))
		return nil
	}
	if o.repr == reprDefault {
		o = offer{repr: reprResult, ctype: did.MediaTypeResolution}
	}
	raw := r.URL.Query().Get("id")
	canon, kind, err := legacyid.Normalize(raw)
	if err != nil {
		failure(w, false, did.NewProblem(did.ErrInvalidDID, err.Error()))
		return nil
	}
	d, err := s.res.Identify(r.Context(), canon)
	if errors.Is(err, resolver.ErrNotHeld) {
		failure(w, false, did.NewProblem(did.ErrNotFound, "no validated entity holds "+canon))
		return nil
	}
	if err != nil {
		failure(w, false, s.internal(canon, err))
		return nil
	}
	s.answer(r.Context(), w, &request{u: did.URL{DID: d}}, o, &did.IdentifierMetadata{Identifier: raw, Canonical: canon, Kind: string(kind)})
	return nil
}

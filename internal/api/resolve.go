package api

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"mime"
	"net/http"
	"slices"
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

// mediaTypeOf is the media type a representation is labelled with when
// the client named no type of it (a wildcard, or no Accept).
var mediaTypeOf = map[representation]string{
	reprResult: did.MediaTypeResolution, reprResultLD: did.MediaTypeResolutionLD, reprDeref: did.MediaTypeDereferencing,
	reprDoc: did.MediaTypeJSON, reprDocLD: did.MediaTypeLDJSON, reprURIList: did.MediaTypeURIList,
}

// offerOf maps one media range of an Accept header to a representation;
// false for a type bias does not serve.
func offerOf(mt string, params map[string]string) (offer, bool) {
	o := offer{ctype: mt}
	switch {
	case mt == "*/*", mt == "application/*", mt == "application/json":
		o.repr = reprDefault
	case mt == did.MediaTypeResolution:
		o.repr = reprResult
	case mt == "application/ld+json" && slices.Contains(strings.Fields(params["profile"]), "https://w3id.org/did-resolution"):
		o.repr, o.ctype = reprResultLD, did.MediaTypeResolutionLD
	case mt == did.MediaTypeDereferencing:
		o.repr = reprDeref
	case mt == did.MediaTypeJSON:
		o.repr = reprDoc
	case mt == did.MediaTypeLDJSON, mt == "application/ld+json", mt == did.MediaTypeDID:
		// Plain JSON-LD, as the DIF driver contract sends it: the
		// document, in its JSON-LD form, labelled as asked.
		o.repr = reprDocLD
	case mt == did.MediaTypeURIList, mt == "text/*":
		o.repr, o.ctype = reprURIList, did.MediaTypeURIList
	default:
		return o, false
	}
	return o, true
}

// negotiate picks the representation to answer with (RFC 9110 section
// 12.5.1): the acceptable one of highest q among those allowed, a
// wildcard standing for the default (deflt) or, if the client refused
// that with q=0, for the first allowed it did not refuse. No Accept
// header, or one of which no part parses, accepts the default. False:
// nothing allowed is acceptable.
func negotiate(accept string, deflt representation, allowed ...representation) (offer, bool) {
	var offers []offer
	refused := map[representation]bool{}
	parsed := false
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		parsed = true
		q := 1.0
		if v, ok := params["q"]; ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		o, ok := offerOf(mt, params)
		if !ok {
			continue
		}
		if o.q = q; q == 0 {
			refused[o.repr] = true
			continue
		}
		offers = append(offers, o)
	}
	if !parsed {
		return offer{repr: deflt, ctype: mediaTypeOf[deflt]}, true
	}
	sort.SliceStable(offers, func(i, j int) bool { return offers[i].q > offers[j].q })
	for _, o := range offers {
		if o.repr != reprDefault {
			if slices.Contains(allowed, o.repr) && !refused[o.repr] {
				return o, true
			}
			continue
		}
		if refused[reprDefault] {
			continue
		}
		for _, r := range append([]representation{deflt}, allowed...) {
			if !refused[r] {
				return offer{repr: r, ctype: mediaTypeOf[r], q: o.q}, true
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

// deref reports whether the request is a DID URL dereferencing (DID
// Resolution's HTTP binding: a DID URL, with a path, query or fragment,
// or DID parameters given as options) rather than a DID's resolution.
func (q *request) deref() bool {
	return !q.u.IsDID() || q.service != "" || q.serviceType != ""
}

// selects reports whether the request selects services.
func (q *request) selects() bool { return q.service != "" || q.serviceType != "" }

// looksLikeURL: s has a path, query or fragment after its DID.
func looksLikeURL(s string) bool { return strings.ContainsAny(s, "/?#") }

// parseRequest reads the DID or DID URL of the path and the resolution
// options of the query (where a client that did not encode its DID URL
// also puts its DID parameters), as DID Resolution's algorithms check
// them: syntax, method, supported options, valid options.
func parseRequest(raw, rawQuery string) (*request, *did.Problem) {
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
	for _, k := range slices.Sorted(maps.Keys(u.Query)) {
		v := u.Query[k]
		switch k {
		case did.ParamService, did.ParamServiceType, did.ParamRelativeRef, did.ParamVersionID, did.ParamVersionTime:
			params[k] = v
		default:
			return nil, did.NewProblem(did.ErrFeatureNotSupported, "DID parameter "+strconv.Quote(k)+" is not supported: did:bias knows service, serviceType, relativeRef, versionId and versionTime")
		}
	}
	query, err := did.ParseQuery(rawQuery)
	if err != nil {
		return nil, did.NewProblem(did.ErrInvalidOptions, "the options: "+strings.TrimPrefix(err.Error(), did.ErrURLSyntax.Error()+": "))
	}
	for _, k := range slices.Sorted(maps.Keys(query)) {
		v := query[k]
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
		if q.opts.VersionID, err = strconv.ParseUint(v, 10, 64); err != nil || q.opts.VersionID == 0 || v[0] == '0' || v[0] == '+' {
			return nil, did.NewProblem(did.ErrInvalidOptions, "versionId must be a positive integer in decimal")
		}
	}
	if v, ok := params[did.ParamVersionTime]; ok {
		if q.opts.VersionTime, err = parseTime(v); err != nil {
			return nil, did.NewProblem(did.ErrInvalidOptions, "versionTime must be an RFC 3339 time")
		}
	}
	if q.opts.VersionID > 0 && !q.opts.VersionTime.IsZero() {
		return nil, did.NewProblem(did.ErrInvalidOptions, "give versionId or versionTime, not both")
	}
	if q.relativeRef != "" && !q.selects() {
		return nil, did.NewProblem(did.ErrInvalidDIDURL, "relativeRef needs service or serviceType")
	}
	return q, nil
}

// parseTime parses an RFC 3339 time: "t" and "z" in either case, and a
// leap second (23:59:60 is the second after 23:59:59).
func parseTime(v string) (time.Time, error) {
	v = strings.ToUpper(v)
	t, err := time.Parse(time.RFC3339, v)
	if err != nil && len(v) >= 19 && v[17:19] == "60" {
		if t, err = time.Parse(time.RFC3339, v[:17]+"59"+v[19:]); err == nil {
			t = t.Add(time.Second)
		}
	}
	return t, err
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

// form is the result structure a failure (or a deactivated DID) is
// answered in.
type form int

const (
	formResult   form = iota // application/did-resolution
	formResultLD             // its JSON-LD profile, when that is what was asked
	formDeref                // application/did-url-dereferencing
)

// formOf is the form of the answers to q in representation o: the
// dereferencing result for a DID URL or when asked for, the JSON-LD
// profile when asked for, else the resolution result.
func formOf(q *request, o offer) form {
	switch {
	case q.deref() || o.repr == reprDeref:
		return formDeref
	case o.repr == reprResultLD:
		return formResultLD
	}
	return formResult
}

// failure writes a failed resolution (or dereferencing) in its result
// form, with the HTTP status of its error.
func failure(w http.ResponseWriter, f form, p *did.Problem) {
	status := p.Status()
	if p.Detail == detailCanceled && p.Keyword() == did.ErrInternal {
		status = 499 // the client went away: nobody reads
	}
	switch f {
	case formDeref:
		writeTyped(w, status, did.MediaTypeDereferencing, &did.Dereferencing{Metadata: did.ResolutionMetadata{Error: p}, ContentMetadata: &did.DocumentMetadata{}})
	case formResultLD:
		r := failedResult(p)
		r.Context = did.ResultContext()
		writeTyped(w, status, did.MediaTypeResolutionLD, r)
	default:
		writeTyped(w, status, did.MediaTypeResolution, failedResult(p))
	}
}

const detailCanceled = "canceled"

// internal turns a failure of the node, not of the request, into the
// resolution's error; the cause is logged, never sent.
func (s *Server) internal(id string, err error) *did.Problem {
	if errors.Is(err, context.Canceled) {
		return did.NewProblem(did.ErrInternal, detailCanceled)
	}
	s.log.Error("resolution failed", "id", id, "err", err)
	return did.NewProblem(did.ErrInternal, InternalResolutionDetail)
}

// InternalResolutionDetail is the detail of every internal error of a
// resolution: nothing of its cause.
const InternalResolutionDetail = "the node could not read its state; try again, or another node"

// resolutionHeaders marks a resolution answer public (CORS) and varying
// with Accept (for shared caches).
func resolutionHeaders(w http.ResponseWriter) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Add("Vary", "Accept")
}

// preflight answers a browser's CORS preflight of the public, read-only
// resolution routes: GET and HEAD, with any Accept.
func (s *Server) preflight(w http.ResponseWriter, _ *http.Request) error {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Accept")
	h.Set("Access-Control-Max-Age", "86400")
	h.Set("Allow", "GET, HEAD, OPTIONS")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// resolveHTTP is GET /1.0/identifiers/{did-or-did-url}: DID Resolution
// v1.0's HTTP(S) binding of resolution and of DID URL dereferencing.
func (s *Server) resolveHTTP(w http.ResponseWriter, r *http.Request) error {
	resolutionHeaders(w)
	raw := r.PathValue("did")
	q, p := parseRequest(raw, r.URL.RawQuery)
	if p != nil {
		f := formResult
		if looksLikeURL(raw) {
			f = formDeref
		}
		failure(w, f, p)
		return nil
	}
	deflt, allowed := reprResult, []representation{reprResult, reprResultLD, reprDeref, reprDoc, reprDocLD}
	switch {
	case q.selects():
		deflt, allowed = reprDeref, []representation{reprDeref, reprDoc, reprDocLD, reprURIList}
	case q.deref():
		deflt, allowed = reprDeref, []representation{reprDeref, reprDoc, reprDocLD}
	}
	o, ok := negotiate(r.Header.Get("Accept"), deflt, allowed...)
	if !ok {
		failure(w, formOf(q, offer{repr: deflt}), did.NewProblem(did.ErrRepresentationUnsupported, "supported: "+strings.Join(mediaTypes(allowed), ", ")))
		return nil
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

// Media types of a dereferenced verification method or service: a JSON
// object, or a JSON-LD node of its own; not a DID document.
const (
	mediaTypeResourceJSON = "application/json"
	mediaTypeResourceLD   = "application/ld+json"
)

// answer resolves the request's DID and writes the representation o of
// what it asked for.
func (s *Server) answer(ctx context.Context, w http.ResponseWriter, q *request, o offer, ident *did.IdentifierMetadata) {
	f := formOf(q, o)
	d := q.u.DID
	if d.Network != s.network {
		failure(w, f, did.NewProblem(did.ErrNotFound, "this node serves network "+s.network))
		return
	}
	res, err := s.res.Resolve(ctx, d.String(), q.opts)
	if err != nil {
		failure(w, f, s.internal(d.String(), err))
		return
	}
	if res == nil {
		detail := d.String() + " is not registered"
		if q.opts.VersionID > 0 || !q.opts.VersionTime.IsZero() {
			detail += " at that version or time"
		}
		failure(w, f, did.NewProblem(did.ErrNotFound, detail))
		return
	}
	res.Identifier = ident
	if res.DocumentMetadata.Deactivated {
		// 410, with the metadata and no document, in the result form.
		switch f {
		case formDeref:
			writeTyped(w, http.StatusGone, did.MediaTypeDereferencing, &did.Dereferencing{ContentMetadata: res.DocumentMetadata})
		case formResultLD:
			res.Context = did.ResultContext()
			writeTyped(w, http.StatusGone, did.MediaTypeResolutionLD, res)
		default:
			writeTyped(w, http.StatusGone, did.MediaTypeResolution, res)
		}
		return
	}
	if q.u.Path != "" {
		failure(w, f, did.NewProblem(did.ErrNotFound, "did:bias defines no DID paths"))
		return
	}
	doc := res.Document
	if q.selects() {
		if doc = doc.SelectServices(q.service, q.serviceType); len(doc.Service) == 0 {
			failure(w, f, did.NewProblem(did.ErrNotFound, "no service of "+d.String()+" matches"))
			return
		}
		if o.repr == reprURIList {
			urls, err := did.ServiceURLs(doc.Service, q.relativeRef, q.u.Fragment)
			if err != nil {
				failure(w, formDeref, did.NewProblem(did.ErrInvalidDIDURL, err.Error()))
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
	contentType, docType := did.MediaTypeLDJSON, o.ctype
	if q.u.Fragment != "" {
		v, ok := doc.Fragment(q.u.Fragment)
		if !ok {
			failure(w, f, did.NewProblem(did.ErrNotFound, d.String()+" has no verification method or service #"+q.u.Fragment))
			return
		}
		content, contentType, docType = v, mediaTypeResourceJSON, mediaTypeResourceJSON
		if ld {
			content, contentType, docType = withContext(v, doc.Context), mediaTypeResourceLD, mediaTypeResourceLD
		}
	}
	switch o.repr {
	case reprDoc, reprDocLD:
		writeTyped(w, http.StatusOK, docType, content)
	case reprDeref:
		writeTyped(w, http.StatusOK, did.MediaTypeDereferencing, &did.Dereferencing{
			Metadata: did.ResolutionMetadata{ContentType: contentType}, Content: content, ContentMetadata: res.DocumentMetadata,
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
	resolutionHeaders(w)
	allowed := []representation{reprResult, reprResultLD, reprDoc, reprDocLD}
	o, ok := negotiate(r.Header.Get("Accept"), reprResult, allowed...)
	if !ok {
		failure(w, formResult, did.NewProblem(did.ErrRepresentationUnsupported, "supported: "+strings.Join(mediaTypes(allowed), ", ")))
		return nil
	}
	f := formOf(&request{}, o)
	raw := r.URL.Query().Get("id")
	canon, kind, err := legacyid.Normalize(raw)
	if err != nil {
		failure(w, f, did.NewProblem(did.ErrInvalidDID, err.Error()))
		return nil
	}
	d, err := s.res.Identify(r.Context(), canon)
	if errors.Is(err, resolver.ErrNotHeld) {
		failure(w, f, did.NewProblem(did.ErrNotFound, "no validated entity holds "+canon))
		return nil
	}
	if err != nil {
		failure(w, f, s.internal(canon, err))
		return nil
	}
	s.answer(r.Context(), w, &request{u: did.URL{DID: d}}, o, &did.IdentifierMetadata{Identifier: raw, Canonical: canon, Kind: string(kind)})
	return nil
}

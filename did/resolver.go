package did

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Resolver resolves DIDs and identifies legacy identifiers through a bias
// node's resolution API (the DIF Universal Resolver driver interface).
//
//	r := did.NewResolver("http://127.0.0.1:8080")
//	res, err := r.Resolve(ctx, "did:bias:local:...", did.Options{})
type Resolver struct {
	URL  string
	HTTP *http.Client
}

// NewResolver returns a resolver of the node at baseURL.
func NewResolver(baseURL string) *Resolver {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64 // keep connections of concurrent callers alive
	return &Resolver{URL: strings.TrimRight(baseURL, "/"), HTTP: &http.Client{Timeout: 30 * time.Second, Transport: tr}}
}

// Options select a version of the document.
type Options struct {
	VersionID   uint64    // 0: the current version
	VersionTime time.Time // zero: now
}

// ResolutionError is a failed resolution: the HTTP status and the DID
// Core error keyword (notFound, invalidDid, ...). The Result, when the
// node sent one, is returned alongside.
type ResolutionError struct {
	Status  int
	Keyword string
	Detail  string
}

func (e *ResolutionError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Keyword, e.Status, e.Detail)
}

// Resolve resolves a DID. A deactivated DID (HTTP 410) returns its result
// and a *ResolutionError; check the result's metadata for the status
// (only "validated" presents a valid entity).
func (r *Resolver) Resolve(ctx context.Context, id string, o Options) (*Result, error) {
	q := url.Values{}
	if o.VersionID > 0 {
		q.Set("versionId", strconv.FormatUint(o.VersionID, 10))
	}
	if !o.VersionTime.IsZero() {
		q.Set("versionTime", o.VersionTime.UTC().Format(time.RFC3339Nano))
	}
	p := "/1.0/identifiers/" + url.PathEscape(id)
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	return r.get(ctx, p)
}

// Identify finds the entity that holds a legacy identifier (urn:imei:,
// tel:+, urn:epc:id:, urn:oid:, urn:dev:, ip:) and resolves it.
func (r *Resolver) Identify(ctx context.Context, identifier string) (*Result, error) {
	return r.get(ctx, "/1.0/identify?id="+url.QueryEscape(identifier))
}

func (r *Resolver) get(ctx context.Context, path string) (*Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", MediaTypeResolution)
	resp, err := r.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	var res Result
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, &ResolutionError{Status: resp.StatusCode, Keyword: ErrInternal, Detail: "the response is not a resolution result"}
	}
	if resp.StatusCode != http.StatusOK {
		e := &ResolutionError{Status: resp.StatusCode, Keyword: res.ResolutionMetadata.Error}
		if p := res.ResolutionMetadata.Problem; p != nil {
			e.Detail = p.Detail
		}
		if e.Keyword == "" && resp.StatusCode == http.StatusGone {
			e.Keyword = "deactivated"
		}
		return &res, e
	}
	return &res, nil
}

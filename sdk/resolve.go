package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/bias-iot/bias/did"
)

// ResolutionError is a failed resolution: the HTTP status, the DID Core
// keyword of the error's type (notFound, invalidDid, ...; "deactivated"
// for a 410) and its detail. The Result, when the node sent one, is
// returned alongside.
type ResolutionError struct {
	Status  int
	Keyword string
	Detail  string
}

func (e *ResolutionError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Keyword, e.Status, e.Detail)
}

// Resolve resolves a DID through the node's resolution API (W3C DID
// Resolution's HTTP binding, GET /1.0/identifiers/{did}). A deactivated
// DID (HTTP 410) returns its result, with its metadata and no document,
// and a *ResolutionError; check the result's metadata for the status (only
// "validated" presents a valid entity).
func (c *Client) Resolve(ctx context.Context, id string, o did.Options) (*did.Result, error) {
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
	return c.resolution(ctx, p)
}

// Identify finds the entity that holds a legacy identifier (urn:imei:,
// tel:+, urn:epc:id:, urn:oid:, urn:dev:, ip:) and resolves it.
func (c *Client) Identify(ctx context.Context, identifier string) (*did.Result, error) {
	return c.resolution(ctx, "/1.0/identify?id="+url.QueryEscape(identifier))
}

func (c *Client) resolution(ctx context.Context, path string) (*did.Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", did.MediaTypeResolution)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	var res did.Result
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, &ResolutionError{Status: resp.StatusCode, Keyword: did.ErrInternal, Detail: "the response is not a resolution result"}
	}
	if resp.StatusCode != http.StatusOK {
		e := &ResolutionError{Status: resp.StatusCode}
		if p := res.ResolutionMetadata.Error; p != nil {
			e.Keyword, e.Detail = p.Keyword(), p.Detail
		}
		if e.Keyword == "" && resp.StatusCode == http.StatusGone {
			e.Keyword = "deactivated"
		}
		return &res, e
	}
	return &res, nil
}

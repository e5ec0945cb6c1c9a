// Package sdk is the Go client of a bias node's HTTP API, for devices,
// services and providers. It does not depend on the node or the consensus
// engine.
//
//	c := sdk.NewClient("http://127.0.0.1:8080")
//	tx, id, _ := op.SignRegister(signer, "k1", payload)
//	res, err := c.Submit(ctx, tx) // waits for the block
//	e, err := c.Entity(ctx, id.String())
package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bias-iot/bias/lightclient"
	"github.com/bias-iot/bias/record"
)

// MediaTypeCOSE is the content type of a submitted operation.
const MediaTypeCOSE = "application/cose"

// Client calls a node's API.
type Client struct {
	URL  string
	HTTP *http.Client
}

// NewClient returns a client of the node at baseURL.
func NewClient(baseURL string) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256 // keep connections of concurrent callers alive
	return &Client{URL: strings.TrimRight(baseURL, "/"), HTTP: &http.Client{Timeout: 60 * time.Second, Transport: tr}}
}

// APIError is an error response: an HTTP status, a stable reason code and
// a safe message.
type APIError struct {
	Status  int
	Reason  string
	Message string
	// Proof proves the absence of what was asked for (a 404 for an
	// entity read with its proof).
	Proof *ProofView
	// Hash names the operation a submission's error is about; on a 504
	// timeout, look its outcome up with Operation(ctx, Hash, From).
	Hash string
	From int64
	// First is, on a 410 pruned, the first block the node holds.
	First int64
}

// errorOf is the *APIError of a response's status and body.
func errorOf(status int, b []byte) *APIError {
	var eb ErrorBody
	if json.Unmarshal(b, &eb) != nil || eb.Reason == "" {
		return &APIError{Status: status, Reason: "http", Message: strings.TrimSpace(string(b))}
	}
	return &APIError{Status: status, Reason: eb.Reason, Message: eb.Message, Proof: eb.Proof, Hash: eb.Hash, From: eb.From, First: eb.First}
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Reason, e.Status, e.Message)
}

// Submit sends a signed operation and waits for its result. A rejection
// is an *APIError with the reason.
func (c *Client) Submit(ctx context.Context, tx []byte) (*SubmitResult, error) {
	var out SubmitResult
	err := c.do(ctx, http.MethodPost, "/v1/operations", MediaTypeCOSE, tx, &out)
	return &out, err
}

// Operation looks a submitted operation up by its hash (hex SHA-256 of
// its bytes) in the blocks from height from (0: the node's last 1000):
// the answer Submit would have given, had it waited. After a 504 timeout
// the *APIError's Hash and From say what to ask; a 404 not-found means
// it is in none of those blocks (yet), and its From is where to ask
// again.
func (c *Client) Operation(ctx context.Context, hash string, from int64) (*SubmitResult, error) {
	var out SubmitResult
	p := "/v1/operations/" + url.PathEscape(hash)
	if from > 0 {
		p += "?from=" + strconv.FormatInt(from, 10)
	}
	return &out, c.do(ctx, http.MethodGet, p, "", nil, &out)
}

// Entity reads an entity's current record.
func (c *Client) Entity(ctx context.Context, did string) (*EntityView, error) {
	var out EntityView
	return &out, c.do(ctx, http.MethodGet, "/v1/entities/"+url.PathEscape(did), "", nil, &out)
}

// EntityProof reads an entity's record with its Merkle proof at height (0: latest).
func (c *Client) EntityProof(ctx context.Context, did string, height int64) (*EntityView, error) {
	var out EntityView
	p := "/v1/entities/" + url.PathEscape(did) + "?proof=true"
	if height > 0 {
		p += "&height=" + strconv.FormatInt(height, 10)
	}
	return &out, c.do(ctx, http.MethodGet, p, "", nil, &out)
}

// EntityVersion reads an entity as it was at version v.
func (c *Client) EntityVersion(ctx context.Context, did string, v uint64) (*EntityView, error) {
	var out EntityView
	p := "/v1/entities/" + url.PathEscape(did) + "/versions/" + strconv.FormatUint(v, 10)
	return &out, c.do(ctx, http.MethodGet, p, "", nil, &out)
}

// Provider reads a provider.
func (c *Client) Provider(ctx context.Context, did string) (*ProviderView, error) {
	var out ProviderView
	return &out, c.do(ctx, http.MethodGet, "/v1/providers/"+url.PathEscape(did), "", nil, &out)
}

// Providers lists the providers.
func (c *Client) Providers(ctx context.Context) ([]ProviderView, error) {
	var out []ProviderView
	return out, c.do(ctx, http.MethodGet, "/v1/providers", "", nil, &out)
}

// Header reads the header of block height.
func (c *Client) Header(ctx context.Context, height int64) (*HeaderView, error) {
	var out HeaderView
	return &out, c.do(ctx, http.MethodGet, "/v1/blocks/"+strconv.FormatInt(height, 10), "", nil, &out)
}

// SignedHeader reads block height's header with the commit that decided
// it, for lightclient.Verify.
func (c *Client) SignedHeader(ctx context.Context, height int64) (*lightclient.SignedHeader, error) {
	var out lightclient.SignedHeader
	return &out, c.do(ctx, http.MethodGet, "/v1/blocks/"+strconv.FormatInt(height, 10)+"/signed", "", nil, &out)
}

// Contract reads a provider's contract, at version (0: its current one).
func (c *Client) Contract(ctx context.Context, provider, name string, version uint64) (*ContractView, error) {
	return c.contract(ctx, provider, name, version, false)
}

// ContractProof reads a provider's current contract with its Merkle proof.
func (c *Client) ContractProof(ctx context.Context, provider, name string) (*ContractView, error) {
	return c.contract(ctx, provider, name, 0, true)
}

func (c *Client) contract(ctx context.Context, provider, name string, version uint64, prove bool) (*ContractView, error) {
	q := url.Values{}
	if version > 0 {
		q.Set("version", strconv.FormatUint(version, 10))
	}
	if prove {
		q.Set("proof", "true")
	}
	p := "/v1/providers/" + url.PathEscape(provider) + "/contracts/" + url.PathEscape(name)
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	var out ContractView
	return &out, c.do(ctx, http.MethodGet, p, "", nil, &out)
}

// Contracts lists a provider's contracts (their current versions).
func (c *Client) Contracts(ctx context.Context, provider string) ([]record.Contract, error) {
	var out []record.Contract
	return out, c.do(ctx, http.MethodGet, "/v1/providers/"+url.PathEscape(provider)+"/contracts", "", nil, &out)
}

// DryRun evaluates a contract on inputs at the node, without a
// transaction (POST /v1/contracts/dry-run).
func (c *Client) DryRun(ctx context.Context, req DryRunRequest) (*DryRunResult, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var out DryRunResult
	return &out, c.do(ctx, http.MethodPost, "/v1/contracts/dry-run", "application/json", body, &out)
}

// Status reads the node's status.
func (c *Client) Status(ctx context.Context) (*StatusView, error) {
	var out StatusView
	return &out, c.do(ctx, http.MethodGet, "/v1/status", "", nil, &out)
}

// Ready asks the node whether it can answer current reads and commit
// writes (GET /readyz): nil when it can, else an *APIError (503,
// reason unhealthy) whose message says why not.
func (c *Client) Ready(ctx context.Context) error {
	var out map[string]any
	return c.do(ctx, http.MethodGet, "/readyz", "", nil, &out)
}

func (c *Client) do(ctx context.Context, method, path, ctype string, body []byte, out any) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, r)
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return errorOf(resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode %s response: %w", path, err)
	}
	return nil
}

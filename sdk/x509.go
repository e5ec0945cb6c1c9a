package sdk

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// MediaTypePEMChain is the content type of GET /v1/x509/ca/{provider}.
const MediaTypePEMChain = "application/pem-certificate-chain"

// X509Certificate is a device certificate that a node's CA issued
// (POST /v1/x509/issue), with the CA certificate that chains it.
type X509Certificate struct {
	// Certificate and CA are PEM.
	Certificate string    `json:"certificate"`
	CA          string    `json:"ca"`
	Serial      string    `json:"serial"` // hex
	DID         string    `json:"did"`
	Provider    string    `json:"provider"` // whose CA issued it
	NotBefore   time.Time `json:"notBefore"`
	NotAfter    time.Time `json:"notAfter"`
}

// IssueCertificate asks the node's CA for a certificate with a signed
// request (x509ca.SignRequest). A refusal is an *APIError whose Reason is
// an x509ca.Reason.
func (c *Client) IssueCertificate(ctx context.Context, req []byte) (*X509Certificate, error) {
	var out X509Certificate
	return &out, c.do(ctx, http.MethodPost, "/v1/x509/issue", MediaTypeCOSE, req, &out)
}

// CACertificates returns the CA certificates (DER) that a provider
// publishes on the ledger, as the node reads them.
func (c *Client) CACertificates(ctx context.Context, provider string) ([][]byte, error) {
	b, err := c.raw(ctx, "/v1/x509/ca/"+url.PathEscape(provider))
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			out = append(out, blk.Bytes)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the node sent no CA certificate for %s", provider)
	}
	return out, nil
}

// CRL returns the CRL (DER) of the node's CA for provider.
func (c *Client) CRL(ctx context.Context, provider string) ([]byte, error) {
	return c.raw(ctx, "/v1/x509/crl/"+url.PathEscape(provider))
}

// raw GETs path and returns the body of a 2xx answer (at most 1 MiB);
// an error answer is an *APIError as do makes it.
func (c *Client) raw(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		var eb ErrorBody
		if json.Unmarshal(b, &eb) != nil || eb.Reason == "" {
			return nil, &APIError{Status: resp.StatusCode, Reason: "http", Message: strings.TrimSpace(string(b))}
		}
		return nil, &APIError{Status: resp.StatusCode, Reason: eb.Reason, Message: eb.Message}
	}
	return b, nil
}

package sdk

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/x509ca"
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
		return nil, errorOf(resp.StatusCode, b)
	}
	return b, nil
}

// RequestCertificate signs a certificate request with the device's key
// s (kid names it) for provider's CA, and has the node issue it. life 0
// asks for the CA's default; csr is optional (PKCS #10 DER).
func (c *Client) RequestCertificate(ctx context.Context, s cose.Signer, kid did.DID, provider string, life time.Duration, csr []byte) (*X509Certificate, error) {
	jti, err := x509ca.NewID()
	if err != nil {
		return nil, err
	}
	req, err := x509ca.SignRequest(s, kid, x509ca.Request{
		Audience: provider, IssuedAt: time.Now().Unix(), ID: jti, Lifetime: int64(life / time.Second), CSR: csr,
	})
	if err != nil {
		return nil, err
	}
	return c.IssueCertificate(ctx, req)
}

// Certificates is a device's X.509 client certificate from a node's CA,
// renewed on its own before it expires: its GetClientCertificate goes in
// a tls.Config (an HTTPS or MQTT client), and Certificate serves anyone
// else. The certificate is for the device's registered key (Key, which
// Kid names on the ledger): no new key is made.
//
//	certs := &sdk.Certificates{Client: sdk.NewClient(nodeURL), Key: key, Kid: kid, Provider: operatorB}
//	tlsConfig := &tls.Config{RootCAs: pool, GetClientCertificate: certs.GetClientCertificate}
type Certificates struct {
	Client   *Client
	Key      crypto.Signer
	Kid      did.DID
	Provider string        // the provider whose CA issues (its servers trust it)
	Lifetime time.Duration // 0: the CA's default
	// RenewAt is the fraction of the lifetime after which a certificate
	// is renewed (default 2/3).
	RenewAt float64
	Now     func() time.Time

	mu   sync.Mutex
	cur  *tls.Certificate
	from time.Time // the certificate's validity
	to   time.Time
}

// Certificate returns the current certificate, after getting a new one
// when there is none yet or its renewal time has come. If renewal fails
// while the current one is still valid, the current one is returned with
// no error (the next call tries again).
func (c *Certificates) Certificate(ctx context.Context) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	at := c.RenewAt
	if at <= 0 || at >= 1 {
		at = 2.0 / 3
	}
	if c.cur != nil && now.Before(c.from.Add(time.Duration(float64(c.to.Sub(c.from))*at))) {
		return c.cur, nil
	}
	s, err := cose.NewSigner(c.Key)
	if err != nil {
		return nil, err
	}
	got, err := c.Client.RequestCertificate(ctx, s, c.Kid, c.Provider, c.Lifetime, nil)
	if err != nil {
		if c.cur != nil && now.Before(c.to) {
			return c.cur, nil
		}
		return nil, err
	}
	blk, _ := pem.Decode([]byte(got.Certificate))
	if blk == nil {
		return nil, errors.New("the node sent no PEM certificate")
	}
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("issued certificate: %w", err)
	}
	c.cur = &tls.Certificate{Certificate: [][]byte{blk.Bytes}, PrivateKey: c.Key, Leaf: leaf}
	c.from, c.to = leaf.NotBefore.Add(x509ca.Backdate), leaf.NotAfter
	return c.cur, nil
}

// GetClientCertificate is for tls.Config.GetClientCertificate.
func (c *Certificates) GetClientCertificate(info *tls.CertificateRequestInfo) (*tls.Certificate, error) {
	ctx := context.Background()
	if info != nil && info.Context() != nil {
		ctx = info.Context()
	}
	return c.Certificate(ctx)
}

package sdk

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
)

// OAuth 2.0 (docs/oauth.md): a device gets access tokens for a service
// from any node's authorization server with an RFC 7523 assertion signed
// by its registered key.

// GrantJWTBearer is the grant type of an RFC 7523 assertion.
const GrantJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer" //nolint:gosec // a grant type's name, no credential

// assertionClaims are an RFC 7523 assertion's claims.
type assertionClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	Exp int64  `json:"exp"`
	Iat int64  `json:"iat"`
	Jti string `json:"jti"`
}

// SignAssertion makes an RFC 7523 assertion (a jwt-bearer grant, or a
// service's private_key_jwt client authentication) of the entity whose
// registered key kid (a DID URL) s holds, for the token endpoint aud,
// valid ttl seconds (at most 300) from now, with a random jti.
func SignAssertion(s cose.Signer, kid did.DID, aud string, now time.Time, ttl time.Duration) ([]byte, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return nil, err
	}
	self := kid.Base().String()
	return authn.SignJWT(s, "JWT", kid.String(), assertionClaims{Iss: self, Sub: self, Aud: aud, Iat: now.Unix(),
		Exp: now.Add(ttl).Unix(), Jti: base64.RawURLEncoding.EncodeToString(jti)})
}

// OAuthSource gets access tokens for a device: an oauth2.TokenSource
// (golang.org/x/oauth2) that signs a fresh assertion for each token.
// Wrap it in oauth2.ReuseTokenSource to keep a token until it expires.
//
//	ts := oauth2.ReuseTokenSource(nil, &sdk.OAuthSource{Signer: key, Kid: kid,
//		TokenURL: "https://id.op-b.example/oauth/token", Resource: service})
//	client := oauth2.NewClient(ctx, ts)
type OAuthSource struct {
	Signer   cose.Signer
	Kid      did.DID // the device's registered key
	TokenURL string  // the authorization server's token endpoint
	Resource string  // the DID of the service the token is for (RFC 8707)
	Scope    string  // space-separated; "openid" also asks for an ID token
	// DPoP, when set, binds the token to the device's key (RFC 9449):
	// each request must then carry a DPoP proof (authn.SignDPoP).
	DPoP       bool
	HTTPClient *http.Client
	Now        func() time.Time
	Context    context.Context //nolint:containedctx // oauth2.TokenSource's Token takes none
}

var _ oauth2.TokenSource = (*OAuthSource)(nil)

// Token implements oauth2.TokenSource. A refusal is an
// *oauth2.RetrieveError with the RFC 6749 error code; the ID token, if
// one came, is in Extra("id_token").
func (o *OAuthSource) Token() (*oauth2.Token, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	ctx := o.Context
	if ctx == nil {
		ctx = context.Background()
	}
	a, err := SignAssertion(o.Signer, o.Kid, o.TokenURL, now(), 60*time.Second)
	if err != nil {
		return nil, err
	}
	form := url.Values{"grant_type": {GrantJWTBearer}, "assertion": {string(a)}, "resource": {o.Resource}}
	if o.Scope != "" {
		form.Set("scope", o.Scope)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if o.DPoP {
		u, err := url.Parse(o.TokenURL)
		if err != nil {
			return nil, err
		}
		jti := make([]byte, 16)
		if _, err := rand.Read(jti); err != nil {
			return nil, err
		}
		p, err := authn.SignDPoP(o.Signer, http.MethodPost, authn.HTU(u), nil, now().Unix(), jti)
		if err != nil {
			return nil, err
		}
		req.Header.Set("DPoP", string(p))
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(body, &e)
		return nil, &oauth2.RetrieveError{Response: resp, Body: body, ErrorCode: e.Error, ErrorDescription: e.Description}
	}
	var t struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
		Scope       string `json:"scope"`
		IDToken     string `json:"id_token"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
		return nil, errors.New("oauth: the token response has no access_token")
	}
	if t.ExpiresIn < 1 {
		return nil, fmt.Errorf("oauth: expires_in %d", t.ExpiresIn)
	}
	tok := &oauth2.Token{AccessToken: t.AccessToken, TokenType: t.TokenType, ExpiresIn: t.ExpiresIn,
		Expiry: now().Add(time.Duration(t.ExpiresIn) * time.Second)}
	return tok.WithExtra(map[string]any{"id_token": t.IDToken, "scope": t.Scope}), nil
}

// OAuthMetadata is what a device needs of an authorization server's
// metadata (RFC 8414).
type OAuthMetadata struct {
	Issuer        string `json:"issuer"`
	TokenEndpoint string `json:"token_endpoint"`
	JWKSURI       string `json:"jwks_uri"`
}

// OAuthMetadata reads the metadata of the node's authorization server
// (GET /.well-known/oauth-authorization-server).
func (c *Client) OAuthMetadata(ctx context.Context) (*OAuthMetadata, error) {
	var out OAuthMetadata
	return &out, c.do(ctx, http.MethodGet, "/.well-known/oauth-authorization-server", "", nil, &out)
}

// DPoPTransport presents the DPoP-bound access tokens of Source (an
// OAuthSource with DPoP set, wrapped or not in oauth2.ReuseTokenSource)
// with a fresh DPoP proof of the device's key for each request (RFC 9449
// section 7): Authorization: DPoP <token>, and DPoP: a proof of the
// method, the URL and the token.
type DPoPTransport struct {
	Source oauth2.TokenSource
	Signer cose.Signer // the device's key the tokens are bound to
	Base   http.RoundTripper
	Now    func() time.Time
}

// RoundTrip implements http.RoundTripper.
func (t *DPoPTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.Source.Token()
	if err != nil {
		return nil, err
	}
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return nil, err
	}
	proof, err := authn.SignDPoP(t.Signer, req.Method, authn.HTU(req.URL), []byte(tok.AccessToken), now().Unix(), jti)
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "DPoP "+tok.AccessToken)
	r.Header.Set("DPoP", string(proof))
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

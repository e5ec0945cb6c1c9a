package sdk

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
)

// Device is the device side of bias authentication: it checks a service's
// challenge against its node's view of the ledger and answers with a proof
// signed by its registered key (one verification, one signature). The
// Signer may be any crypto.Signer through cose.NewSigner: a key file, a
// TPM, a secure element.
type Device struct {
	Signer   cose.Signer
	Kid      did.DID // the device's key
	View     authn.View
	Encoding authn.Encoding // of its proofs; default: that of the challenge
	Now      func() time.Time
	// Credential, when set, is the credential the device's provider
	// issued it (off the ledger): a proof answering a challenge that asks
	// claims carries it with the disclosures of those claims only.
	Credential *authn.Credential
}

func (d *Device) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// RefusedError is the device's refusal of a service's challenge, with
// the decision's reason (fail/wrong-origin for a challenge of another
// origin than the one the device talks to: a relay).
type RefusedError struct{ Decision authn.Decision }

func (e *RefusedError) Error() string {
	return fmt.Sprintf("service refused: %s: %s", e.Decision.Reason, e.Decision.Detail)
}

// Answer verifies a challenge that the service at serviceURL (its origin,
// or any URL of it: the one the device sent its request to) sent, and
// returns the proof that answers it, or a *RefusedError. A challenge that
// names another origin is refused (fail/wrong-origin): the host at
// serviceURL would hand the device another service's challenge to use its
// proof there.
func (d *Device) Answer(ctx context.Context, serviceURL string, challenge []byte) ([]byte, error) {
	u, err := url.Parse(serviceURL)
	if err != nil {
		return nil, &RefusedError{authn.Decision{Reason: authn.FailWrongOrigin, Detail: "the service's URL does not parse"}}
	}
	origin, err := authn.OriginOf(u)
	if err != nil {
		return nil, &RefusedError{authn.Decision{Reason: authn.FailWrongOrigin, Detail: err.Error()}}
	}
	c, dec := authn.VerifyChallenge(ctx, d.View, origin, challenge, d.now().Unix())
	if !dec.OK {
		return nil, &RefusedError{dec}
	}
	enc := d.Encoding
	if enc == "" {
		enc = authn.DetectEncoding(challenge)
	}
	return d.answer(c, enc)
}

// answer signs the proof of a challenge already verified, for its origin
// (the one the device talks to).
func (d *Device) answer(c *authn.Challenge, enc authn.Encoding) ([]byte, error) {
	nonce := make([]byte, authn.NonceLen)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	p := &authn.Proof{
		Device: d.Kid.Base(), Kid: d.Kid, Service: c.Service, Origin: c.Origin, ServiceNonce: c.Nonce, DeviceNonce: nonce, IssuedAt: d.now().Unix(),
	}
	if d.Credential != nil && !c.Claims.Empty() {
		// Only what the challenge asks: nothing more reaches the service.
		p.Presentation = d.Credential.Present(c.Claims.Names())
		enc = authn.JWS // an SD-JWT is presented in a JWS proof, an SD-CWT in a COSE one
		if d.Credential.CWT != nil {
			enc = authn.COSE
		}
	}
	return authn.SignProof(d.Signer, p, enc)
}

// Transport is an http.RoundTripper that answers a bias challenge (401
// with WWW-Authenticate: Bias challenge=...) and retries the request once
// with the proof. Requests with a body must be replayable (GetBody set, as
// http.NewRequest does for in-memory bodies).
//
// It answers only a challenge that names the origin of the request's URL
// (the one the 401 came from): a host that hands the device another
// service's challenge gets no proof, and the request fails with a
// *RefusedError of reason fail/wrong-origin. A challenge that does not
// verify otherwise (an unknown or revoked service) is not answered
// either, and its 401 is returned.
//
// A session token that a service returns (header Bias-Token) is kept and
// presented (Authorization: DPoP, with a DPoP proof signed by the device's
// key for each request, RFC 9449) only to the origins (scheme, host and
// port) of its audience: the origin that issued it, and an origin whose
// signed challenge names a service of the token's audience (the service
// itself, or one bound to an access contract of it). Any other host, and
// a host a redirect leads to, gets no token; it may challenge the device,
// which answers with a proof of that challenge alone.
type Transport struct {
	Device *Device
	Base   http.RoundTripper

	mu       sync.Mutex
	token    string
	iss      string
	aud      []string
	admitted map[string]bool // origins the token is presented to
}

// Token returns the session token held, if any.
func (t *Transport) Token() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.token
}

// origin is u's origin (authn.OriginOf), or its scheme and host in lower
// case for a URL that has none (it can be no challenge's).
func origin(u *url.URL) string {
	if o, err := authn.OriginOf(u); err == nil {
		return o
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// verify checks a challenge that came in the answer to r: it must name
// r's origin.
func (t *Transport) verify(r *http.Request, ch []byte) (*authn.Challenge, authn.Decision) {
	return authn.VerifyChallenge(r.Context(), t.Device.View, origin(r.URL), ch, t.Device.now().Unix())
}

// refused is the outcome of a challenge the device does not answer: a
// relayed one is an error; another's 401 is the answer.
func refused(resp *http.Response, d authn.Decision) (*http.Response, error) {
	if d.Reason == authn.FailWrongOrigin {
		drain(resp)
		return nil, &RefusedError{d}
	}
	return resp, nil
}

// keep holds the session token that the answer to the device's proof
// of c carries, if that service issued it (an answer to anything else is
// not a service's word on this device, and another issuer's token, which
// the host could only have taken elsewhere, may not replace the token
// held).
func (t *Transport) keep(r *http.Request, resp *http.Response, c *authn.Challenge) {
	tok := resp.Header.Get(TokenHeader)
	if tok == "" {
		return
	}
	iss, aud, err := authn.PeekToken([]byte(tok))
	if err != nil || iss != c.Service.Base().String() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.token, t.iss, t.aud, t.admitted = tok, iss, aud, map[string]bool{origin(r.URL): true}
}

// tokenFor returns the token to present at r's origin, if any.
func (t *Transport) tokenFor(r *http.Request) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.admitted[origin(r.URL)] {
		return t.token
	}
	return ""
}

// admit presents the token at r's origin from now on if the service whose
// challenge it answered (verified) is of the token's audience; it reports
// whether it did.
func (t *Transport) admit(ctx context.Context, r *http.Request, c *authn.Challenge) bool {
	t.mu.Lock()
	tok, iss, aud := t.token, t.iss, t.aud
	t.mu.Unlock()
	if tok == "" {
		return false
	}
	// The service accepts the token by the rule every verifier runs.
	issuer, err := did.ParseNoFragment(iss)
	if err != nil {
		return false
	}
	e, d := authn.Standing(ctx, t.Device.View, issuer, op.KindService)
	ok := d.OK && authn.Federated(ctx, t.Device.View, e, c.Service, aud).OK
	if ok {
		t.mu.Lock()
		if t.token == tok {
			t.admitted[origin(r.URL)] = true
		}
		t.mu.Unlock()
	}
	return ok
}

// withToken is r with the session token and a DPoP proof for it.
func (t *Transport) withToken(r *http.Request, tok string) (*http.Request, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return nil, err
	}
	proof, err := authn.SignDPoP(t.Device.Signer, r.Method, authn.HTU(r.URL), []byte(tok), t.Device.now().Unix(), jti)
	if err != nil {
		return nil, err
	}
	out, err := replay(r)
	if err != nil {
		return nil, err
	}
	out.Header.Set("Authorization", "DPoP "+tok)
	out.Header.Set("DPoP", string(proof))
	return out, nil
}

// replay is a copy of r to send again, with its body anew.
func replay(r *http.Request) (*http.Request, error) {
	out := r.Clone(r.Context())
	if r.Body != nil && r.GetBody != nil {
		b, err := r.GetBody()
		if err != nil {
			return nil, err
		}
		out.Body = b
	} else if r.Body != nil {
		out.Body = io.NopCloser(bytes.NewReader(nil))
	}
	return out, nil
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	first := r
	presented := false
	if tok := t.tokenFor(r); tok != "" && r.Header.Get("Authorization") == "" {
		var err error
		if first, err = t.withToken(r, tok); err != nil {
			return nil, err
		}
		presented = true
	}
	resp, err := base.RoundTrip(first)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	v, ok := param(resp.Header.Get("WWW-Authenticate"), "challenge")
	if !ok {
		return resp, nil
	}
	ch, err := authn.DecodeText(v)
	if err != nil {
		return resp, nil //nolint:nilerr // not a bias challenge: the service's 401 is the answer
	}
	c, dec := t.verify(r, ch)
	if !dec.OK {
		return refused(resp, dec) // the service is not trusted: show its 401
	}
	drain(resp)
	// A service of the token's audience gets the token; one that refused
	// it (or any other) gets a proof of its challenge.
	if !presented && r.Header.Get("Authorization") == "" && t.admit(r.Context(), r, c) {
		withTok, err := t.withToken(r, t.tokenFor(r))
		if err != nil {
			return nil, err
		}
		if resp, err = base.RoundTrip(withTok); err != nil || resp.StatusCode != http.StatusUnauthorized {
			return resp, err
		}
		if v, ok = param(resp.Header.Get("WWW-Authenticate"), "challenge"); !ok {
			return resp, nil
		}
		if ch, err = authn.DecodeText(v); err != nil {
			return resp, nil //nolint:nilerr // not a bias challenge: the service's 401 is the answer
		}
		if c, dec = t.verify(r, ch); !dec.OK {
			return refused(resp, dec) // the service is not trusted: show its 401
		}
		drain(resp)
	}
	enc := t.Device.Encoding
	if enc == "" {
		enc = authn.DetectEncoding(ch)
	}
	proof, err := t.Device.answer(c, enc)
	if err != nil {
		return nil, err
	}
	retry, err := replay(r)
	if err != nil {
		return nil, err
	}
	retry.Header.Set("Authorization", AuthScheme+` proof="`+authn.EncodeText(proof)+`"`)
	resp, err = base.RoundTrip(retry)
	if err == nil {
		t.keep(r, resp, c)
	}
	return resp, err
}

// drain reads what is left of a response that will not be returned, so
// that its connection is reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

package sdk

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
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
}

// Answer verifies a challenge and returns the proof that answers it, or
// the decision that refused the service.
func (d *Device) Answer(ctx context.Context, challenge []byte) ([]byte, error) {
	now := time.Now()
	if d.Now != nil {
		now = d.Now()
	}
	c, dec := authn.VerifyChallenge(ctx, d.View, challenge, now.Unix())
	if !dec.OK {
		return nil, fmt.Errorf("service refused: %s: %s", dec.Reason, dec.Detail)
	}
	nonce := make([]byte, authn.NonceLen)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	enc := d.Encoding
	if enc == "" {
		enc = authn.DetectEncoding(challenge)
	}
	return authn.SignProof(d.Signer, &authn.Proof{
		Device: d.Kid.Base(), Kid: d.Kid, Service: c.Service, ServiceNonce: c.Nonce, DeviceNonce: nonce, IssuedAt: now.Unix(),
	}, enc)
}

// Transport is an http.RoundTripper that answers a bias challenge (401
// with WWW-Authenticate: Bias challenge=...) and retries the request once
// with the proof. Requests with a body must be replayable (GetBody set, as
// http.NewRequest does for in-memory bodies).
//
// A session token that a service returns (header Bias-Token) is kept and
// sent as a bearer token to later requests, to any host: the services of
// its audience accept it without a new challenge; the others answer with
// a challenge, which the transport answers.
type Transport struct {
	Device *Device
	Base   http.RoundTripper

	mu    sync.Mutex
	token string
}

// Token returns the session token held, if any.
func (t *Transport) Token() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.token
}

func (t *Transport) keep(resp *http.Response) {
	if tok := resp.Header.Get(TokenHeader); tok != "" {
		t.mu.Lock()
		t.token = tok
		t.mu.Unlock()
	}
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	first := r
	if tok := t.Token(); tok != "" && r.Header.Get("Authorization") == "" {
		first = r.Clone(r.Context())
		first.Header.Set("Authorization", "Bearer "+tok)
		if r.Body != nil && r.GetBody != nil {
			b, err := r.GetBody()
			if err != nil {
				return nil, err
			}
			first.Body = b
		}
	}
	resp, err := base.RoundTrip(first)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		if err == nil {
			t.keep(resp)
		}
		return resp, err
	}
	v, ok := param(resp.Header.Get("WWW-Authenticate"), "challenge")
	if !ok {
		return resp, nil
	}
	ch, err := authn.DecodeText(v)
	if err != nil {
		return resp, nil
	}
	proof, err := t.Device.Answer(r.Context(), ch)
	if err != nil {
		return resp, nil // the service is not trusted: show its 401
	}
	_, _ = io.Copy(io.Discard, resp.Body) // drained for the connection's reuse; the retry answers
	resp.Body.Close()
	retry := r.Clone(r.Context())
	if r.Body != nil && r.GetBody != nil {
		if retry.Body, err = r.GetBody(); err != nil {
			return nil, err
		}
	} else if r.Body != nil {
		retry.Body = io.NopCloser(bytes.NewReader(nil))
	}
	retry.Header.Set("Authorization", AuthScheme+` proof="`+authn.EncodeText(proof)+`"`)
	resp, err = base.RoundTrip(retry)
	if err == nil {
		t.keep(resp)
	}
	return resp, err
}

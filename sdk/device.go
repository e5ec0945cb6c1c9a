package sdk

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
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
type Transport struct {
	Device *Device
	Base   http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	v, ok := param(resp.Header.Get("WWW-Authenticate"), "challenge")
	if !ok {
		return resp, nil
	}
	ch, ok := decodeMessage(v)
	if !ok {
		return resp, nil
	}
	proof, err := t.Device.Answer(r.Context(), ch)
	if err != nil {
		return resp, nil // the service is not trusted: show its 401
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	retry := r.Clone(r.Context())
	if r.Body != nil && r.GetBody != nil {
		if retry.Body, err = r.GetBody(); err != nil {
			return nil, err
		}
	} else if r.Body != nil {
		retry.Body = io.NopCloser(bytes.NewReader(nil))
	}
	retry.Header.Set("Authorization", AuthScheme+` proof="`+encodeMessage(proof)+`"`)
	return base.RoundTrip(retry)
}

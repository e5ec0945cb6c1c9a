package node_test

import (
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// relay is a malicious host: asked without credentials, it fetches a
// challenge of the service at target and hands it to the device in its
// own 401; a request with credentials it forwards to the service, to be
// admitted there as the device.
type relay struct {
	*httptest.Server
	forwarded atomic.Int32 // proofs forwarded
	admitted  atomic.Int32 // of them, accepted by the service
	refusal   atomic.Value // the service's last reason
}

func newRelay(t *testing.T, target string) *relay {
	t.Helper()
	m := &relay{}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, target, nil)
		if err != nil {
			t.Error(err)
			return
		}
		auth := r.Header.Get("Authorization")
		if auth != "" {
			req.Header.Set("Authorization", auth)
			m.forwarded.Add(1)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		defer func() { _ = resp.Body.Close() }()
		if auth != "" {
			if resp.StatusCode == http.StatusOK {
				m.admitted.Add(1)
			}
			_, reason, _ := strings.Cut(resp.Header.Get("WWW-Authenticate"), `error="`)
			m.refusal.Store(strings.TrimSuffix(reason, `"`))
		}
		w.Header().Set("WWW-Authenticate", resp.Header.Get("WWW-Authenticate"))
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(m.Close)
	return m
}

// TestChallengeRelayRefused (the relay finding of docs/security.md): a
// host that a device talks to fetches a real service's challenge, hands
// it to the device in its own 401, and forwards what the device answers
// to the service. The challenge names the service's origin under its
// signature, so the device refuses it (fail/wrong-origin) and sends no
// proof; and a device that answered anyway, for the origin it talks to,
// would have its proof refused by the service (a proof names its origin:
// in COSE under the signature, so fail/bad-signature). The service never
// admits the device through the relay; directly, it does.
func TestChallengeRelayRefused(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	view := sdk.View{C: h.Client}
	svcE := h.RegisterValidated(op.KindService, cose.AlgEdDSA)
	devE := h.RegisterValidated(op.KindDevice, cose.AlgES256)
	for _, mode := range []struct {
		name string
		enc  authn.Encoding
		node bool
		// the service's reason for a proof made for the relay's origin
		sloppy authn.Reason
	}{
		{"jws-local", authn.JWS, false, authn.FailWrongOrigin},
		{"cose-local", authn.COSE, false, authn.FailBadSignature},
		{"jws-at-node", authn.JWS, true, authn.FailWrongOrigin},
		{"cose-at-node", authn.COSE, true, authn.FailBadSignature},
	} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			var admitted atomic.Int32
			svc := &sdk.Service{Signer: svcE.Signer, Kid: svcE.DID.WithFragment("k1"), View: view, Encoding: mode.enc, TokenTTL: time.Minute}
			if mode.node {
				svc.Node = h.Client
			}
			srv := httptest.NewServer(svc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				admitted.Add(1)
				_, _ = io.WriteString(w, "ok")
			})))
			t.Cleanup(srv.Close)
			svc.URL = srv.URL
			m := newRelay(t, srv.URL)

			dev := &sdk.Device{Signer: devE.Signer, Kid: devE.DID.WithFragment("k1"), View: view}
			tr := &sdk.Transport{Device: dev}
			resp, err := (&http.Client{Transport: tr}).Get(m.URL + "/print")
			if err == nil {
				_ = resp.Body.Close()
				t.Fatalf("the device answered the relayed challenge: %d", resp.StatusCode)
			}
			var refused *sdk.RefusedError
			if !errors.As(err, &refused) || refused.Decision.Reason != authn.FailWrongOrigin {
				t.Fatalf("the device's error: %v, want a *sdk.RefusedError of %s", err, authn.FailWrongOrigin)
			}
			if n := m.forwarded.Load(); n != 0 {
				t.Fatalf("the relay got %d proofs from the device", n)
			}
			if tr.Token() != "" {
				t.Fatal("the device holds a token")
			}

			// The device's own check, outside the transport.
			challenge := relayedChallenge(t, m.URL)
			if _, err := dev.Answer(t.Context(), m.URL, challenge); !errors.As(err, &refused) || refused.Decision.Reason != authn.FailWrongOrigin {
				t.Fatalf("Answer at the relay's origin: %v, want %s", err, authn.FailWrongOrigin)
			}

			// A device that answered anyway, for the origin it talks to:
			// the service refuses the proof the relay forwards.
			c, _, err := authn.DecodeChallenge(challenge)
			if err != nil {
				t.Fatal(err)
			}
			relayOrigin, err := authn.ParseOrigin(m.URL)
			if err != nil {
				t.Fatal(err)
			}
			dn := make([]byte, authn.NonceLen)
			_, _ = rand.Read(dn)
			proof, err := authn.SignProof(devE.Signer, &authn.Proof{Device: devE.DID, Kid: dev.Kid, Service: c.Service, Origin: relayOrigin,
				ServiceNonce: c.Nonce, DeviceNonce: dn, IssuedAt: time.Now().Unix()}, mode.enc)
			if err != nil {
				t.Fatal(err)
			}
			if code, reason := call(t, m.URL, sdk.AuthScheme+` proof="`+authn.EncodeText(proof)+`"`); code != http.StatusUnauthorized {
				t.Fatalf("a proof for the relay's origin, forwarded: %d %s", code, reason)
			}
			if got := m.refusal.Load(); got != string(mode.sloppy) {
				t.Fatalf("the service refused the forwarded proof with %v, want %s", got, mode.sloppy)
			}
			if n := m.admitted.Load(); n != 0 || admitted.Load() != 0 {
				t.Fatalf("the service admitted the device through the relay (%d, %d)", n, admitted.Load())
			}

			// Directly, the same device gets in.
			resp, err = (&http.Client{Transport: tr}).Get(srv.URL + "/print")
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK || admitted.Load() != 1 {
				t.Fatalf("the device at the service itself: %d", resp.StatusCode)
			}
		})
	}
}

// relayedChallenge is the challenge that a host's 401 carries.
func relayedChallenge(t *testing.T, at string) []byte {
	t.Helper()
	resp, err := http.Get(at)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	v, ok := strings.CutPrefix(resp.Header.Get("WWW-Authenticate"), sdk.AuthScheme+` challenge="`)
	if !ok {
		t.Fatalf("no challenge: %d", resp.StatusCode)
	}
	v, _, _ = strings.Cut(v, `"`)
	b, err := authn.DecodeText(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

package node_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// protect serves an "ok" behind svc's middleware.
func protect(t *testing.T, svc *sdk.Service) string {
	t.Helper()
	srv := httptest.NewServer(svc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if _, err := io.WriteString(w, "ok"); err != nil {
			t.Error(err)
		}
	})))
	t.Cleanup(srv.Close)
	return srv.URL
}

// call sends a request with an Authorization header and returns the
// status and the WWW-Authenticate error, if any.
func call(t *testing.T, url, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	_, reason, _ := strings.Cut(resp.Header.Get("WWW-Authenticate"), `error="`)
	return resp.StatusCode, strings.TrimSuffix(reason, `"`)
}

// challengeOf asks url for a challenge and answers it as dev.
func challengeOf(t *testing.T, url string, dev *sdk.Device) (challenge, proof []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	h := resp.Header.Get("WWW-Authenticate")
	v, ok := strings.CutPrefix(h, sdk.AuthScheme+` challenge="`)
	if !ok {
		t.Fatalf("no challenge: %d %q", resp.StatusCode, h)
	}
	v, _, _ = strings.Cut(v, `"`)
	if challenge, err = authn.DecodeText(v); err != nil {
		t.Fatal(err)
	}
	if proof, err = dev.Answer(t.Context(), challenge); err != nil {
		t.Fatal(err)
	}
	return challenge, proof
}

// TestProofReplayAcrossNodes (issue 18, finding 5): a challenge is bound
// to the service instance that issued it (a MAC key of its own), and that
// instance keeps the set of answered nonces. A captured proof is refused
// by the same instance whichever node it asks (replayed), by a replica of
// the service (another instance: unknown-challenge) and by the service
// after a restart (a new instance). The node a service asks does not
// decide single use, so failing over between nodes changes nothing.
func TestProofReplayAcrossNodes(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	svcE := h.RegisterValidated(op.KindService, cose.AlgEdDSA)
	devE := h.RegisterValidated(op.KindDevice, cose.AlgEdDSA)
	dev := &sdk.Device{Signer: devE.Signer, Kid: devE.DID.WithFragment("k1"), View: sdk.View{C: h.Client}}
	instance := func(node bool) string {
		s := &sdk.Service{Signer: svcE.Signer, Kid: svcE.DID.WithFragment("k1"), View: sdk.View{C: h.Client}}
		if node {
			s.Node = h.Client
		}
		return protect(t, s)
	}
	for _, mode := range []struct {
		name string
		node bool
	}{{"local", false}, {"at-node", true}} {
		t.Run(mode.name, func(t *testing.T) {
			a, replica, restarted := instance(mode.node), instance(mode.node), instance(mode.node)
			_, proof := challengeOf(t, a, dev)
			auth := sdk.AuthScheme + ` proof="` + authn.EncodeText(proof) + `"`
			if code, reason := call(t, a, auth); code != 200 {
				t.Fatalf("the genuine answer: %d %s", code, reason)
			}
			for name, c := range map[string]struct {
				url  string
				want authn.Reason
			}{
				"fail/replayed-nonce-same-instance":    {a, authn.FailReplayedNonce},
				"fail/unknown-challenge-replica":       {replica, authn.FailUnknownChallenge},
				"fail/unknown-challenge-after-restart": {restarted, authn.FailUnknownChallenge},
			} {
				if code, reason := call(t, c.url, auth); code != 401 || reason != string(c.want) {
					t.Errorf("%s: %d %q, want 401 %s", name, code, reason, c.want)
				}
			}
		})
	}
}

// TestForgedProofDoesNotSpendChallenge (issue 18, finding 11): at a
// service deciding at its node, a forged proof that names an observed
// nonce is refused and spends nothing: the genuine answer still gets in.
func TestForgedProofDoesNotSpendChallenge(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	svcE := h.RegisterValidated(op.KindService, cose.AlgEdDSA)
	devE := h.RegisterValidated(op.KindDevice, cose.AlgEdDSA)
	url := protect(t, &sdk.Service{Signer: svcE.Signer, Kid: svcE.DID.WithFragment("k1"), View: sdk.View{C: h.Client}, Node: h.Client})
	dev := &sdk.Device{Signer: devE.Signer, Kid: devE.DID.WithFragment("k1"), View: sdk.View{C: h.Client}}
	challenge, proof := challengeOf(t, url, dev)
	// The forger saw the challenge; it signs an answer with its own key
	// under the device's kid.
	forger := &sdk.Device{Signer: nodetest.NewKey(t, cose.AlgEdDSA), Kid: devE.DID.WithFragment("k1"), View: sdk.View{C: h.Client}}
	forged, err := forger.Answer(t.Context(), challenge)
	if err != nil {
		t.Fatal(err)
	}
	if code, reason := call(t, url, sdk.AuthScheme+` proof="`+authn.EncodeText(forged)+`"`); code != 401 || reason != string(authn.FailBadSignature) {
		t.Fatalf("the forged answer: %d %q", code, reason)
	}
	if code, reason := call(t, url, sdk.AuthScheme+` proof="`+authn.EncodeText(proof)+`"`); code != 200 {
		t.Fatalf("the genuine answer after a forged one: %d %q", code, reason)
	}
}

package node_test

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
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
	if svc.URL == "" {
		svc.URL = srv.URL // what DPoP proofs name
	}
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
	if proof, err = dev.Answer(t.Context(), url, challenge); err != nil {
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
	// An instance at url ("": its own), as replicas behind one public URL.
	instance := func(node bool, url string) string {
		s := &sdk.Service{Signer: svcE.Signer, Kid: svcE.DID.WithFragment("k1"), View: sdk.View{C: h.Client}, URL: url}
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
			a := instance(mode.node, "")
			replica, restarted := instance(mode.node, a), instance(mode.node, a)
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
	forged, err := forger.Answer(t.Context(), url, challenge)
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

// presentToken sets a request's session token with its DPoP proof, signed
// by the device key s (RFC 9449).
func presentToken(t *testing.T, req *http.Request, s cose.Signer, token string) {
	t.Helper()
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		t.Fatal(err)
	}
	proof, err := authn.SignDPoP(s, req.Method, authn.HTU(req.URL), []byte(token), time.Now().Unix(), jti)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "DPoP "+token)
	req.Header.Set("DPoP", string(proof))
}

// TestTokenNotSentToOtherHosts (issue 18, finding 1): the SDK's transport
// presents its session token only to the origins of the token's audience,
// never to another host nor across a redirect to one; and a token that
// leaks anyway is of no use without the device's key (DPoP, RFC 9449).
func TestTokenNotSentToOtherHosts(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	view := sdk.View{C: h.Client}
	printing, sharing := h.RegisterValidated(op.KindService, cose.AlgEdDSA), h.RegisterValidated(op.KindService, cose.AlgEdDSA)
	stranger := h.RegisterValidated(op.KindService, cose.AlgEdDSA) // not of the token's audience
	camera := h.RegisterValidated(op.KindDevice, cose.AlgEdDSA)
	aud := []did.DID{printing.DID, sharing.DID}
	service := func(e nodetest.Entity, ttl time.Duration) *sdk.Service {
		return &sdk.Service{Signer: e.Signer, Kid: e.DID.WithFragment("k1"), View: view, TokenTTL: ttl, Audience: aud}
	}
	s1 := protect(t, service(printing, 5*time.Minute))
	s2 := protect(t, service(sharing, 0))
	// Hosts that are not of the audience, recording what they are sent.
	var mu sync.Mutex
	var seen []string
	record := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen = append(seen, r.Header.Get("Authorization")+"|"+r.Header.Get("DPoP"))
			mu.Unlock()
			next.ServeHTTP(w, r)
		})
	}
	plain := httptest.NewServer(record(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello") })))
	t.Cleanup(plain.Close)
	strangerSvc := service(stranger, 0)
	strangerSrv := httptest.NewServer(record(strangerSvc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))))
	t.Cleanup(strangerSrv.Close)
	strangerSvc.URL = strangerSrv.URL
	redirect := httptest.NewServer(http.RedirectHandler(plain.URL+"/elsewhere", http.StatusFound))
	t.Cleanup(redirect.Close)

	tr := &sdk.Transport{Device: &sdk.Device{Signer: camera.Signer, Kid: camera.DID.WithFragment("k1"), View: view}}
	c := &http.Client{Transport: tr}
	get := func(url string) int {
		resp, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(s1); code != 200 || tr.Token() == "" {
		t.Fatalf("printing: %d, token %q", code, tr.Token())
	}
	token := tr.Token()
	if code := get(s2); code != 200 {
		t.Fatalf("sharing, of the audience: %d", code)
	}
	for name, url := range map[string]string{"plain host": plain.URL, "a service not of the audience": strangerSrv.URL, "a redirect": redirect.URL} {
		if code := get(url); code != 200 {
			t.Fatalf("%s: %d", name, code)
		}
	}
	mu.Lock()
	for _, s := range seen {
		if strings.Contains(s, token) || strings.Contains(s, "DPoP") {
			t.Errorf("a host outside the audience was sent the token: %q", s)
		}
	}
	mu.Unlock()

	// A leaked token, at a service of its audience, is refused...
	leak := func(auth func(r *http.Request)) string {
		req, err := http.NewRequest(http.MethodGet, s2, nil)
		if err != nil {
			t.Fatal(err)
		}
		auth(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode == 200 {
			return "200"
		}
		_, reason, _ := strings.Cut(resp.Header.Get("WWW-Authenticate"), `error="`)
		return strings.TrimSuffix(reason, `"`)
	}
	thief := nodetest.NewKey(t, cose.AlgEdDSA)
	var captured http.Header
	for name, c := range map[string]struct {
		auth func(r *http.Request)
		want authn.Reason
	}{
		"fail/bearer":             {func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }, authn.FailUnboundToken},
		"fail/dpop-without-proof": {func(r *http.Request) { r.Header.Set("Authorization", "DPoP "+token) }, authn.FailUnboundToken},
		"fail/dpop-other-key":     {func(r *http.Request) { presentToken(t, r, thief, token) }, authn.FailBadDPoP},
		"fail/dpop-for-another-service-with-its-host": {func(r *http.Request) {
			// A proof the device made for printing (an audience member
			// that saw it), replayed at sharing with printing's Host: the
			// URL is checked against sharing's own, not the Host header.
			other, err := http.NewRequest(http.MethodGet, s1, nil)
			if err != nil {
				t.Fatal(err)
			}
			presentToken(t, other, camera.Signer, token)
			r.Header, r.Host = other.Header, other.URL.Host
		}, authn.FailBadDPoP},
		"fail/dpop-other-url": {func(r *http.Request) {
			other := r.Clone(r.Context())
			other.URL.Path = "/elsewhere"
			presentToken(t, other, camera.Signer, token)
			r.Header = other.Header
		}, authn.FailBadDPoP},
	} {
		if got := leak(c.auth); got != string(c.want) {
			t.Errorf("%s: %s, want %s", name, got, c.want)
		}
	}
	// ...and so is a proof seen once, used again (its jti).
	if got := leak(func(r *http.Request) { presentToken(t, r, camera.Signer, token); captured = r.Header.Clone() }); got != "200" {
		t.Fatalf("the device's own request: %s", got)
	}
	if got := leak(func(r *http.Request) { r.Header = captured }); got != string(authn.FailBadDPoP) {
		t.Fatalf("a captured DPoP proof replayed: %s", got)
	}
}

// TestSelfAssertedAttributesHeld (issue 18, finding 3): a validated
// device that changes its own attributes waits for its provider again,
// so an access contract that reads device_attrs (the documented
// single-sign-on contract reads the class) never sees a self-asserted
// value as the provider's: a meter that makes itself a camera is not
// admitted. Its other changes (a key rotation) keep it validated, and the
// provider's own change of its attributes too.
func TestSelfAssertedAttributesHeld(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	prov := h.Provider
	cams := prov.DID.String() + "/cams"
	h.MustSubmit(h.Sign(prov.Signer, prov.Kid, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{Provider: prov.DID.String(), Name: "cams",
		Kind: op.ContractAccess, Source: `device_attrs[?"class"].orValue("") == "camera"`}}))
	svc := h.RegisterValidated(op.KindService, cose.AlgEdDSA)
	h.MustSubmit(h.Sign(prov.Signer, prov.Kid, op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: svc.DID.String(), Version: 2,
		Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", svc.Signer.Public())}, Access: []string{cams}}}}))
	s := nodetest.NewKey(t, cose.AlgEdDSA)
	p := h.RegisterPayload(op.KindDevice, prov.DID, s)
	p.Register.Doc.Attrs = []op.Attr{{K: "class", V: "meter"}}
	tx, meter := h.SignRegister(s, p)
	h.MustSubmit(tx)
	h.MustSubmit(h.Sign(prov.Signer, prov.Kid, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: meter.String(), Version: 1}}))
	url := protect(t, &sdk.Service{Signer: svc.Signer, Kid: svc.DID.WithFragment("k1"), View: sdk.View{C: h.Client}, Node: h.Client})
	dev := &sdk.Device{Signer: s, Kid: meter.WithFragment("k1"), View: sdk.View{C: h.Client}}
	admitted := func() string {
		_, proof := challengeOf(t, url, dev)
		code, reason := call(t, url, sdk.AuthScheme+` proof="`+authn.EncodeText(proof)+`"`)
		if code == 200 {
			return "ok"
		}
		return reason
	}
	if got := admitted(); got != string(authn.FailContractDenied) {
		t.Fatalf("the meter as a meter: %s", got)
	}
	update := func(signer cose.Signer, kid did.DID, version uint64, doc op.Document) *sdk.SubmitResult {
		return h.MustSubmit(h.Sign(signer, kid, op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: meter.String(), Version: version, Doc: doc}}))
	}
	camera := op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}, Attrs: []op.Attr{{K: "class", V: "camera"}}}
	// A registration contract that validates on keys alone does not
	// undo the hold.
	h.MustSubmit(h.Sign(prov.Signer, prov.Kid, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{Provider: prov.DID.String(), Name: "keys",
		Kind: op.ContractRegistration, Source: `keys.all(k, k["alg"] == "EdDSA") ? "validate" : "pending"`}}))
	// The meter makes itself a camera: held for its provider, and held
	// still when it says so again.
	for v := uint64(2); v <= 3; v++ {
		if res := update(s, meter.WithFragment("k1"), v, camera); res.EntityStatus != op.StatusPending {
			t.Fatalf("a self-asserted class (version %d): %s, want pending", v, res.EntityStatus)
		}
	}
	if got := admitted(); got != string(authn.FailNotValidated) {
		t.Fatalf("the meter calling itself a camera: %s, want %s", got, authn.FailNotValidated)
	}
	// The provider validates what it vouches for: then it is its word.
	h.MustSubmit(h.Sign(prov.Signer, prov.Kid, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: meter.String(), Version: 4}}))
	if got := admitted(); got != "ok" {
		t.Fatalf("once the provider validated the class: %s", got)
	}
	// A change of its own that leaves the attributes keeps it validated.
	s2 := nodetest.NewKey(t, cose.AlgEdDSA)
	rotated := op.Document{Keys: []op.Key{op.KeyFrom("k2", s2.Public())}, Attrs: camera.Attrs}
	if res := update(s, meter.WithFragment("k1"), 5, rotated); res.EntityStatus != op.StatusValidated {
		t.Fatalf("a key rotation: %s, want validated", res.EntityStatus)
	}
	// The provider may change the attributes and keep it validated.
	rotated.Attrs = []op.Attr{{K: "class", V: "camera"}, {K: "fw", V: "2.1"}}
	if res := update(prov.Signer, prov.Kid, 6, rotated); res.EntityStatus != op.StatusValidated {
		t.Fatalf("the provider's change of attributes: %s, want validated", res.EntityStatus)
	}
}

// freezer is a TCP proxy to a node whose event streams can be held back,
// the way a half-open connection holds them: the client's connection
// stays open and nothing arrives; other requests pass.
type freezer struct {
	url    string
	mu     sync.Mutex
	frozen bool
}

func newFreezer(t *testing.T, target string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	f := &freezer{url: "http://" + ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			var stream atomic.Bool // this connection carries an event stream
			go func() {            // a request for a stream marks its connection (pooled ones too)
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if strings.HasPrefix(string(buf[:n]), "GET /v1/events") {
						stream.Store(true)
					}
					if n > 0 {
						if _, werr := s.Write(buf[:n]); werr != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				_ = s.Close()
			}()
			go func() {
				defer func() { _ = c.Close() }()
				buf := make([]byte, 32<<10)
				for {
					n, err := s.Read(buf)
					for stream.Load() && f.isFrozen() {
						time.Sleep(20 * time.Millisecond)
					}
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return f
}

func (f *freezer) isFrozen() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.frozen
}

func (f *freezer) freeze() {
	f.mu.Lock()
	f.frozen = true
	f.mu.Unlock()
}

// TestStalledStreamFallsBackToNode (issue 18, finding 6): a cached view
// whose event stream goes silent, as a half-open connection does, stops
// trusting its cache within its staleness bound and asks the node: a
// device revoked meanwhile is refused, and the view says the stream
// stalled.
func TestStalledStreamFallsBackToNode(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	svcE := h.RegisterValidated(op.KindService, cose.AlgEdDSA)
	devE := h.RegisterValidated(op.KindDevice, cose.AlgEdDSA)
	fz := newFreezer(t, h.Node.HTTPAddr())
	var staleSaid atomic.Bool
	cv := sdk.NewCachedView(sdk.NewClient(fz.url))
	cv.StaleAfter, cv.OnStale = 2*time.Second, func() { staleSaid.Store(true) }
	ran := make(chan error, 1)
	go func() { ran <- cv.Run(t.Context()) }()
	svc := &sdk.Service{Signer: svcE.Signer, Kid: svcE.DID.WithFragment("k1"), View: cv, URL: "https://printer.example"}
	dev := &sdk.Device{Signer: devE.Signer, Kid: devE.DID.WithFragment("k1"), View: sdk.View{C: h.Client}}
	auth := authenticator(t, svc, dev)
	// The view caches while its stream is alive (events keep it so).
	waitCached(t, cv, auth, func() { h.RegisterValidated(op.KindDevice, cose.AlgEdDSA) })
	fz.freeze()
	if err := decide(t, h, op.TypeRevoke, devE.DID, 2); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		d := auth()
		if d.Reason == authn.FailRevoked {
			break
		}
		if !d.OK || time.Since(start) > 10*time.Second {
			t.Fatalf("a revoked device is still accepted through a stalled stream after %v: %+v", time.Since(start), d)
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case err := <-ran:
		if !errors.Is(err, sdk.ErrStreamStalled) || !staleSaid.Load() {
			t.Fatalf("Run: %v (stale said: %v), want ErrStreamStalled", err, staleSaid.Load())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not end with the stalled stream")
	}
}

// TestTokenKeptOnlyFromItsIssuer: a service the device proves itself to
// may answer with a session token of its own, never replace the device's
// token with one naming another issuer (which it could only have taken
// elsewhere, or forged).
func TestTokenKeptOnlyFromItsIssuer(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	view := sdk.View{C: h.Client}
	printing, mallory := h.RegisterValidated(op.KindService, cose.AlgEdDSA), h.RegisterValidated(op.KindService, cose.AlgEdDSA)
	camera := h.RegisterValidated(op.KindDevice, cose.AlgEdDSA)
	s1 := protect(t, &sdk.Service{Signer: printing.Signer, Kid: printing.DID.WithFragment("k1"), View: view, TokenTTL: 5 * time.Minute, Audience: []did.DID{printing.DID}})
	enc := base64.RawURLEncoding.EncodeToString
	forged := enc([]byte(`{"alg":"EdDSA"}`)) + "." + enc([]byte(`{"iss":"`+printing.DID.String()+`","aud":["`+printing.DID.String()+`"]}`)) + "." + enc([]byte("sig"))
	m := &sdk.Service{Signer: mallory.Signer, Kid: mallory.DID.WithFragment("k1"), View: view}
	srv := httptest.NewServer(m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set(sdk.TokenHeader, forged)
		_, _ = io.WriteString(w, "ok")
	})))
	t.Cleanup(srv.Close)
	m.URL = srv.URL

	tr := &sdk.Transport{Device: &sdk.Device{Signer: camera.Signer, Kid: camera.DID.WithFragment("k1"), View: view}}
	c := &http.Client{Transport: tr}
	for _, u := range []string{s1, srv.URL} {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", u, resp.StatusCode)
		}
		if u == s1 && tr.Token() == "" {
			t.Fatal("no token from printing")
		}
	}
	if tr.Token() == forged {
		t.Fatal("the device took another service's word for printing's token")
	}
	if iss, _, err := authn.PeekToken([]byte(tr.Token())); err != nil || iss != printing.DID.String() {
		t.Fatalf("token held: %q %v", iss, err)
	}
}

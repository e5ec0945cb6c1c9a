package console_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/console"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// server is a console over a real node, serving on 127.0.0.1:0.
type server struct {
	h     *nodetest.Harness
	url   string
	login string
	acts  atomic.Int64 // actions the actor made
}

// startConsole serves a console whose actor signs with the harness's
// provider key, as the CLI's does with its admin key file.
func startConsole(t *testing.T) *server { return startConsoleTLS(t, nil) }

// startConsoleTLS is startConsole over TLS with tlsConf (nil: plain HTTP).
func startConsoleTLS(t *testing.T, tlsConf *tls.Config) *server {
	t.Helper()
	h := nodetest.Start(t)
	s := &server{h: h}
	actor := console.ActorFunc(func(ctx context.Context, a console.Action) (*sdk.SubmitResult, error) {
		s.acts.Add(1)
		if a.Version == 0 { // the current version, as the CLI's actor does
			e, err := h.Client.Entity(ctx, a.DID)
			if err != nil {
				return nil, err
			}
			a.Version = e.Version
		}
		tx, err := op.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Network: h.Network, Type: a.Type, Status: &op.Status{DID: a.DID, Version: a.Version, Reason: a.Reason}})
		if err != nil {
			return nil, err
		}
		return h.Client.Submit(ctx, tx)
	})
	c, err := console.New(console.Config{Client: h.Client, Provider: h.Provider.DID.String(), Actor: actor, Log: nodetest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Serve(ctx, ln, tlsConf) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	s.url = "http://" + ln.Addr().String()
	if tlsConf != nil {
		s.url = "https://" + ln.Addr().String()
	}
	s.login = c.LoginURL(s.url)
	return s
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// browserTrusting is browser over TLS, trusting roots.
func browserTrusting(t *testing.T, roots *x509.CertPool) *http.Client {
	t.Helper()
	c := browser(t)
	c.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}
	return c
}

// answer is a response, read.
type answer struct {
	StatusCode int
	Status     string
	Header     http.Header
}

func do(t *testing.T, c *http.Client, req *http.Request) (answer, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Status, resp.Header}, string(b)
}

func get(t *testing.T, c *http.Client, u string) (answer, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, c, req)
}

func post(t *testing.T, c *http.Client, u string, form url.Values, header map[string]string) (answer, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return do(t, c, req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// loggedIn opens a session and returns its client and CSRF token.
func (s *server) loggedIn(t *testing.T) (*http.Client, string) {
	t.Helper()
	return s.loggedInWith(t, browser(t))
}

func (s *server) loggedInWith(t *testing.T, c *http.Client) (*http.Client, string) {
	t.Helper()
	resp, _ := get(t, c, s.login)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %s", resp.Status)
	}
	ck := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(ck, want) {
			t.Errorf("session cookie %q lacks %s", ck, want)
		}
	}
	if secure := strings.HasPrefix(s.url, "https:"); strings.Contains(ck, "; Secure") != secure {
		t.Errorf("session cookie %q: Secure should be %v (served over TLS: %v)", ck, secure, secure)
	}
	resp, body := get(t, c, s.url+"/revoke")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke page: %s\n%s", resp.Status, body)
	}
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", body)
	}
	return c, m[1]
}

// TestConsoleRefusesUnauthenticated: without a session, every page, the
// live stream and every action answer 401, and nothing is signed; a
// wrong login token is refused.
func TestConsoleRefusesUnauthenticated(t *testing.T) {
	t.Parallel()
	s := startConsole(t)
	e := s.h.Register(op.KindDevice, s.h.Provider.DID, cose.AlgEdDSA)
	c := browser(t)
	for _, path := range []string{"/", "/entities", "/pending", "/revoke", "/stream", "/stream/events", "/contracts"} {
		if resp, _ := get(t, c, s.url+path); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without a session: %s, want 401", path, resp.Status)
		}
	}
	for _, verb := range []string{"validate", "reject", "revoke"} {
		resp, _ := post(t, c, s.url+"/actions/"+verb, url.Values{"did": {e.DID.String()}, "csrf": {"x"}}, nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST /actions/%s without a session: %s, want 401", verb, resp.Status)
		}
	}
	// A forged cookie is no session.
	u, _ := url.Parse(s.url)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: "bias_console_session", Value: "forged"}}) //nolint:gosec // a forged cookie, sent by the test
	if resp, _ := post(t, c, s.url+"/actions/validate", url.Values{"did": {e.DID.String()}}, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST with a forged cookie: %s, want 401", resp.Status)
	}
	if resp, _ := get(t, c, s.url+"/login?token=wrong-token-of-some-length"); resp.StatusCode != http.StatusForbidden || resp.Header.Get("Set-Cookie") != "" {
		t.Errorf("login with a wrong token: %s, cookie %q", resp.Status, resp.Header.Get("Set-Cookie"))
	}
	if s.acts.Load() != 0 {
		t.Errorf("the actor signed %d operations for unauthenticated requests", s.acts.Load())
	}
	if got := s.h.Entity(e.DID).Status; got != op.StatusPending {
		t.Errorf("status %s, want pending", got)
	}
}

// TestConsoleCSRF: a session's POST without its CSRF token, with another
// token, or from another origin is refused (403) and signs nothing; with
// it, the validation commits.
func TestConsoleCSRF(t *testing.T) {
	t.Parallel()
	s := startConsole(t)
	e := s.h.Register(op.KindDevice, s.h.Provider.DID, cose.AlgEdDSA)
	c, csrf := s.loggedIn(t)
	id := e.DID.String()
	other := []byte(csrf) // the session's token with its last character changed
	other[len(other)-1] ^= 1
	for _, tc := range []struct {
		name   string
		form   url.Values
		header map[string]string
	}{
		{"fail/no-csrf", url.Values{"did": {id}}, nil},
		{"fail/wrong-csrf", url.Values{"did": {id}, "csrf": {string(other)}}, nil},
		{"fail/cross-origin", url.Values{"did": {id}, "csrf": {csrf}}, map[string]string{"Origin": "http://evil.example"}},
		{"fail/cross-site", url.Values{"did": {id}, "csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
	} {
		resp, body := post(t, c, s.url+"/actions/validate", tc.form, tc.header)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %s, want 403\n%s", tc.name, resp.Status, body)
		}
	}
	if s.acts.Load() != 0 {
		t.Fatalf("the actor signed %d operations for refused requests", s.acts.Load())
	}
	// A GET does not act.
	if resp, _ := get(t, c, s.url+"/actions/validate?did="+url.QueryEscape(id)+"&csrf="+csrf); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET of an action: %s, want 405", resp.Status)
	}
	resp, body := post(t, c, s.url+"/actions/validate", url.Values{"did": {id}, "csrf": {csrf}, "version": {"1"}}, map[string]string{"Origin": s.url, "Sec-Fetch-Site": "same-origin"})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("validate: %s\n%s", resp.Status, body)
	}
	if got := s.h.Entity(e.DID).Status; got != op.StatusValidated {
		t.Errorf("status %s after the console's validate, want validated", got)
	}
	_, page := get(t, c, s.url+resp.Header.Get("Location"))
	if !strings.Contains(page, `id="found-status" class="st-validated">validated<`) {
		t.Errorf("the entity page after the action does not show it validated:\n%s", page)
	}
}

// TestConsoleHeadersAndBounds: pages are not framed, stored or open to
// inline script; oversized inputs are refused by name.
func TestConsoleHeadersAndBounds(t *testing.T) {
	t.Parallel()
	s := startConsole(t)
	c, csrf := s.loggedIn(t)
	resp, _ := get(t, c, s.url+"/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("health: %s", resp.Status)
	}
	for k, want := range map[string]string{
		"X-Frame-Options": "DENY", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if p := resp.Header.Get("Content-Security-Policy"); !strings.Contains(p, "script-src 'self'") || strings.Contains(p, "unsafe-inline") || !strings.Contains(p, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", p)
	}
	for _, tc := range []struct {
		name string
		code int
		do   func() answer
	}{
		{"fail/long-search", http.StatusBadRequest, func() answer {
			r, _ := get(t, c, s.url+"/entities?q="+strings.Repeat("a", 513))
			return r
		}},
		{"fail/unknown-status", http.StatusBadRequest, func() answer {
			r, _ := get(t, c, s.url+"/entities?status=lost")
			return r
		}},
		{"fail/long-reason", http.StatusBadRequest, func() answer {
			r, _ := post(t, c, s.url+"/actions/revoke", url.Values{"csrf": {csrf}, "did": {"did:bias:x:y"}, "reason": {strings.Repeat("r", 257)}}, nil)
			return r
		}},
		{"fail/not-a-did", http.StatusBadRequest, func() answer {
			r, _ := post(t, c, s.url+"/actions/revoke", url.Values{"csrf": {csrf}, "did": {"urn:imei:490154203237518"}}, nil)
			return r
		}},
		{"fail/oversized-form", http.StatusBadRequest, func() answer {
			r, _ := post(t, c, s.url+"/actions/revoke", url.Values{"csrf": {csrf}, "pad": {strings.Repeat("p", 9<<10)}}, nil)
			return r
		}},
		{"fail/static-listing", http.StatusNotFound, func() answer {
			r, _ := get(t, c, s.url+"/static/")
			return r
		}},
		{"static-script", http.StatusOK, func() answer {
			r, _ := get(t, c, s.url+"/static/console.js")
			return r
		}},
		{"fail/unknown-action", http.StatusNotFound, func() answer {
			r, _ := post(t, c, s.url+"/actions/deactivate", url.Values{"csrf": {csrf}, "did": {"did:bias:x:y"}}, nil)
			return r
		}},
	} {
		if r := tc.do(); r.StatusCode != tc.code {
			t.Errorf("%s: %s, want %d", tc.name, r.Status, tc.code)
		}
	}
	if s.acts.Load() != 0 {
		t.Errorf("the actor signed %d operations for refused inputs", s.acts.Load())
	}
}

// TestConsoleSearchAndReject: an entity is found by its legacy identifier
// and by its DID; another provider's entity shows no action; a reject
// commits; an action on a version the entity has left is refused by the
// ledger (stale-version), and the page shows the node's reason.
func TestConsoleSearchAndReject(t *testing.T) {
	t.Parallel()
	s := startConsole(t)
	h := s.h
	key := nodetest.NewKey(t, cose.AlgEdDSA)
	p := h.RegisterPayload(op.KindDevice, h.Provider.DID, key)
	p.Register.Doc.Aliases = []string{"urn:imei:490154203237518"}
	tx, held := h.SignRegister(key, p)
	h.MustSubmit(tx)
	h.MustSubmit(h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: held.String(), Version: 1}}))
	other := h.Register(op.KindDevice, h.Other.DID, cose.AlgEdDSA)
	pending := h.Register(op.KindDevice, h.Provider.DID, cose.AlgES256)
	c, csrf := s.loggedIn(t)

	for _, tc := range []struct{ name, q, want, notWant string }{
		{"imei", "urn:imei:490154203237518", `<code id="found-did">` + held.String() + `</code>`, ""},
		{"did", held.String(), `id="found-status" class="st-validated">validated<`, ""},
		{"other-provider", other.DID.String(), "another provider", `action="/actions/`},
		{"pending-actions", pending.DID.String(), `action="/actions/reject"`, ""},
		{"unknown-imei", "urn:imei:356938035643809", `id="not-found"`, ""},
		{"unknown-did", "did:bias:" + h.Network + ":aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", `id="not-found"`, ""},
	} {
		resp, body := get(t, c, s.url+"/entities?q="+url.QueryEscape(tc.q))
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, tc.want) || (tc.notWant != "" && strings.Contains(body, tc.notWant)) {
			t.Errorf("%s: %s; want %q, not %q in:\n%s", tc.name, resp.Status, tc.want, tc.notWant, body)
		}
	}

	// The pending device, rejected.
	resp, body := post(t, c, s.url+"/actions/reject", url.Values{"csrf": {csrf}, "did": {pending.DID.String()}, "version": {"1"}, "reason": {"unknown serial"}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reject: %s\n%s", resp.Status, body)
	}
	if e := h.Entity(pending.DID); e.Status != op.StatusRejected || e.StatusReason != "unknown serial" {
		t.Errorf("after reject: %s (%q)", e.Status, e.StatusReason)
	}
	if _, list := get(t, c, s.url+"/pending"); strings.Contains(list, pending.DID.String()) {
		t.Errorf("%s still pending after its rejection:\n%s", pending.DID, list)
	}
	// Validated again from a page that still showed version 1: stale.
	resp, body = post(t, c, s.url+"/actions/validate", url.Values{"csrf": {csrf}, "did": {pending.DID.String()}, "version": {"1"}}, nil)
	if resp.StatusCode/100 != 4 || !strings.Contains(body, string(op.ReasonStaleVersion)) {
		t.Errorf("fail/stale-version: %s\n%s", resp.Status, body)
	}
	if e := h.Entity(pending.DID); e.Status != op.StatusRejected {
		t.Errorf("a stale action changed the entity: %s", e.Status)
	}
}

// TestConsoleTLS: over TLS the session cookie is Secure, and a form from
// the console's https origin is taken.
func TestConsoleTLS(t *testing.T) {
	t.Parallel()
	cert, roots := selfSigned(t)
	s := startConsoleTLS(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	e := s.h.Register(op.KindDevice, s.h.Provider.DID, cose.AlgEdDSA)
	c, csrf := s.loggedInWith(t, browserTrusting(t, roots))
	resp, body := post(t, c, s.url+"/actions/revoke", url.Values{"csrf": {csrf}, "did": {e.DID.String()}}, map[string]string{"Origin": s.url, "Sec-Fetch-Site": "same-origin"})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke over TLS: %s\n%s", resp.Status, body)
	}
	if got := s.h.Entity(e.DID).Status; got != op.StatusRevoked {
		t.Errorf("status %s, want revoked", got)
	}
	// The plain-HTTP origin of the same host is another origin.
	resp, _ = post(t, c, s.url+"/actions/revoke", url.Values{"csrf": {csrf}, "did": {e.DID.String()}}, map[string]string{"Origin": "http" + strings.TrimPrefix(s.url, "https")})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("fail/http-origin over TLS: %s, want 403", resp.Status)
	}
}

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "console"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}

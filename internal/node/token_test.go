package node_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// TestSingleSignOn: a camera authenticates once to a printing service,
// whose session token a sharing service accepts without a challenge; an
// independent JWT library verifies the token with the JWK Set the node
// publishes; a revocation kills the token. On each ledger engine.
func TestSingleSignOn(t *testing.T) {
	t.Parallel()
	eachEngine(t, testSingleSignOn)
}

func testSingleSignOn(t *testing.T, h *nodetest.Harness) {
	view := sdk.View{C: h.Client}
	reg := h.RegisterValidated
	printing, sharing := reg(op.KindService, cose.AlgES256), reg(op.KindService, cose.AlgEdDSA)
	camera := reg(op.KindDevice, cose.AlgEdDSA)

	var proofs atomic.Int64
	serve := func(e nodetest.Entity, ttl time.Duration) *httptest.Server {
		svc := &sdk.Service{Signer: e.Signer, Kid: e.DID.WithFragment("k1"), View: view, TokenTTL: ttl, Audience: []did.DID{printing.DID, sharing.DID}}
		protected := svc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			d, _ := sdk.DecisionFrom(r.Context())
			if _, err := io.WriteString(w, d.Device); err != nil {
				t.Error(err)
			}
		}))
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.Header.Get("Authorization"), sdk.AuthScheme+" ") {
				proofs.Add(1) // the device answered a challenge
			}
			protected.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		svc.URL = srv.URL // what DPoP proofs name
		return srv
	}
	s1, s2 := serve(printing, 5*time.Minute), serve(sharing, 0)
	tr := &sdk.Transport{Device: &sdk.Device{Signer: camera.Signer, Kid: camera.DID.WithFragment("k1"), View: view}}
	c := &http.Client{Transport: tr}
	get := func(url string) (int, string) {
		resp, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(s1.URL); code != 200 || body != camera.DID.String() {
		t.Fatalf("printing: %d %s", code, body)
	}
	token := tr.Token()
	if token == "" || proofs.Load() != 1 {
		t.Fatalf("no session token, or %d proofs", proofs.Load())
	}
	if code, body := get(s2.URL); code != 200 || body != camera.DID.String() {
		t.Fatalf("sharing with the token: %d %s", code, body)
	}
	if proofs.Load() != 1 {
		t.Fatalf("the camera answered the sharing service's challenge (%d proofs): the token did not stand", proofs.Load())
	}

	// An independent library verifies the token with the node's JWK Set.
	resp, err := http.Get(h.Node.URL() + "/v1/entities/" + printing.DID.String() + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("JWK Set has no key %q", tok.Headers[0].KeyID)
	}
	var claims jwt.Claims
	var extra struct {
		Cnf struct {
			Kid string `json:"kid"`
		} `json:"cnf"`
	}
	if err := tok.Claims(keys[0].Key, &claims, &extra); err != nil {
		t.Fatalf("go-jose rejects the token: %v", err)
	}
	if err := claims.Validate(jwt.Expected{Issuer: printing.DID.String(), Subject: camera.DID.String(), AnyAudience: jwt.Audience{sharing.DID.String()}, Time: time.Now()}); err != nil {
		t.Fatalf("claims: %v", err)
	}
	if extra.Cnf.Kid != camera.DID.WithFragment("k1").String() || claims.ID == "" {
		t.Fatalf("cnf %q jti %q", extra.Cnf.Kid, claims.ID)
	}

	// The token dies with the camera's revocation.
	if err := decide(t, h, op.TypeRevoke, camera.DID, 2); err != nil {
		t.Fatal(err)
	}
	_, d := authn.VerifyToken(t.Context(), view, []byte(token), sharing.DID, time.Now().Unix())
	if d.Reason != authn.FailRevoked {
		t.Fatalf("token of a revoked device: %+v", d)
	}
	if code, _ := get(s2.URL); code != 401 {
		t.Fatalf("sharing after revocation: %d", code)
	}
	// Not for an audience it does not name.
	other := reg(op.KindService, cose.AlgEdDSA)
	if _, d := authn.VerifyToken(t.Context(), view, []byte(token), other.DID, time.Now().Unix()); d.OK || !strings.HasPrefix(string(d.Reason), "fail/") {
		t.Fatalf("token at another service: %+v", d)
	}
}

// TestSingleSignOnByContract: printing and sharing services bind operator
// A's access contract "cameras"; the printing service decides at the node
// (the contract runs) and issues a token with no audience configured: the
// contract is its audience, so the sharing service accepts it without a
// challenge and names the contract, while a service bound to another
// contract refuses it. An independent JWT library sees the contract in aud.
func TestSingleSignOnByContract(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	view := sdk.View{C: h.Client}
	prov := h.Provider
	for _, name := range []string{"cameras", "others"} {
		h.MustSubmit(h.Sign(prov.Signer, prov.Kid, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{
			Provider: prov.DID.String(), Name: name, Kind: op.ContractAccess,
			Source: `device_attrs[?"class"].orValue("") == "camera" && service_attrs[?"tier"].orValue("") != "restricted"`}}))
	}
	cameras := prov.DID.String() + "/cameras"
	bound := func(ref string, attrs ...op.Attr) nodetest.Entity {
		e := h.RegisterValidated(op.KindService, cose.AlgEdDSA)
		h.MustSubmit(h.Sign(prov.Signer, prov.Kid, op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: e.DID.String(), Version: 2,
			Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", e.Signer.Public())}, Access: []string{ref}, Attrs: attrs}}}))
		return e
	}
	printing, sharing, stranger := bound(cameras), bound(cameras), bound(prov.DID.String()+"/others")
	restricted := bound(cameras, op.Attr{K: "tier", V: "restricted"})
	s := nodetest.NewKey(t, cose.AlgEdDSA)
	p := h.RegisterPayload(op.KindDevice, prov.DID, s)
	p.Register.Doc.Attrs = []op.Attr{{K: "class", V: "camera"}}
	tx, camID := h.SignRegister(s, p)
	h.MustSubmit(tx)
	h.MustSubmit(h.Sign(prov.Signer, prov.Kid, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: camID.String(), Version: 1}}))

	serve := func(e nodetest.Entity, ttl time.Duration) *httptest.Server {
		svc := &sdk.Service{Signer: e.Signer, Kid: e.DID.WithFragment("k1"), View: view, Node: h.Client, TokenTTL: ttl}
		srv := httptest.NewServer(svc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			d, _ := sdk.DecisionFrom(r.Context())
			if _, err := io.WriteString(w, d.Device+" "+strings.Join(d.Contract, ",")); err != nil {
				t.Error(err)
			}
		})))
		t.Cleanup(srv.Close)
		svc.URL = srv.URL // what DPoP proofs name
		return srv
	}
	s1, s2, s3, s4 := serve(printing, 5*time.Minute), serve(sharing, 0), serve(stranger, 0), serve(restricted, 0)
	tr := &sdk.Transport{Device: &sdk.Device{Signer: s, Kid: camID.WithFragment("k1"), View: view}}
	c := &http.Client{Transport: tr}
	get := func(url string, token string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		var resp *http.Response
		var err error
		if token != "" {
			presentToken(t, req, s, token)
			resp, err = http.DefaultClient.Do(req)
		} else {
			resp, err = c.Do(req)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(s1.URL, ""); code != 200 || !strings.HasPrefix(body, camID.String()+" "+cameras+"@1") {
		t.Fatalf("printing: %d %s", code, body)
	}
	token := tr.Token()
	if token == "" {
		t.Fatal("no session token")
	}
	// The sharing service's own contracts decide its access, at its node.
	if code, body := get(s2.URL, token); code != 200 || body != camID.String()+" "+cameras+"@1" {
		t.Fatalf("sharing with the token: %d %s", code, body)
	}
	if code, body := get(s3.URL, token); code != 401 || !strings.Contains(body, string(authn.FailWrongService)) {
		t.Fatalf("a service of another contract: %d %s", code, body)
	}
	// Bound to the same contract, but the contract refuses this service:
	// the printing service's decision does not carry over.
	if code, body := get(s4.URL, token); code != 401 || !strings.Contains(body, string(authn.FailContractDenied)) {
		t.Fatalf("a service the contract refuses: %d %s", code, body)
	}
	// A service cannot join the contract's services by itself: binding a
	// contract needs its provider's signature.
	_, err := h.Submit(h.Sign(stranger.Signer, stranger.DID.WithFragment("k1"), op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: stranger.DID.String(), Version: 3,
		Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", stranger.Signer.Public())}, Access: []string{prov.DID.String() + "/others", cameras}}}}))
	if !isReason(err, op.ReasonUnauthorized) {
		t.Fatalf("a service binding a contract by itself: %v", err)
	}
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&claims); err != nil {
		t.Fatal(err)
	}
	if err := claims.Validate(jwt.Expected{Issuer: printing.DID.String(), AnyAudience: jwt.Audience{cameras}, Time: time.Now()}); err != nil {
		t.Fatalf("claims %+v: %v", claims, err)
	}
}

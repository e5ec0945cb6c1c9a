package node_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/internal/oauth"
	"github.com/bias-iot/bias/keyfile"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// twoOperators is a two-validator network on loopback: node 0 is
// operator A's, node 1 operator B's, each its own authorization server.
type twoOperators struct {
	nodes   []node.TestnetNode
	clients []*sdk.Client
	a, b    nodetest.Provider
}

func startTwoOperators(t *testing.T) *twoOperators {
	t.Helper()
	nodes, err := node.InitTestnet(node.TestnetConfig{
		Dir: t.TempDir(), Network: "testnet", Validators: 2, Host: "127.0.0.1",
		HTTPBase: freePorts(t, 2), P2PBase: freePorts(t, 2), TimeoutCommit: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	o := &twoOperators{nodes: nodes}
	for i, n := range nodes {
		run, err := node.Start(n.Config, nodetest.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := run.Close(); err != nil {
				t.Error(err)
			}
		})
		o.clients = append(o.clients, sdk.NewClient(run.URL()))
		if i == 1 {
			// Runs first (cleanups are last in, first out): see quiesce.
			t.Cleanup(func() { o.quiesce(t) })
		}
		s, err := keyfile.Load(n.AdminKey)
		if err != nil {
			t.Fatal(err)
		}
		id := did.MustParse(n.ProviderDID)
		p := nodetest.Provider{DID: id, Signer: s, Kid: id.WithFragment(node.AdminKeyID)}
		if i == 0 {
			o.a = p
		} else {
			o.b = p
		}
	}
	return o
}

// quiesce waits until both nodes are at the same height, and then for
// longer than CometBFT's PeerQueryMaj23SleepDuration (2 s), before they
// stop: CometBFT v0.38's consensus reactor may wake from that sleep and
// read a commit for a peer that catches up after its node closed the block
// store (queryMaj23Routine: "panic: leveldb: closed"), and two in-process
// validators a block apart are that case.
func (o *twoOperators) quiesce(t *testing.T) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		a, err1 := o.clients[0].Status(context.Background())
		b, err2 := o.clients[1].Status(context.Background())
		if err1 == nil && err2 == nil && a.Height == b.Height {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2500 * time.Millisecond)
	t.Log("quiet")
}

// submit submits tx at A's node, retrying while the network is starting.
func (o *twoOperators) submit(t *testing.T, tx []byte) *sdk.SubmitResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for {
		res, err := o.clients[0].Submit(ctx, tx)
		if err == nil {
			return res
		}
		var ae *sdk.APIError
		if errors.As(err, &ae) && ae.Reason != string(op.ReasonTimeout) && ae.Reason != "unhealthy" && ae.Reason != string(op.ReasonUnknownProvider) {
			t.Fatalf("submit: %v", err)
		}
		if ctx.Err() != nil {
			t.Fatalf("submit: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func sign(t *testing.T, s cose.Signer, kid did.DID, p op.Payload) []byte {
	t.Helper()
	p.Network = kid.Network
	tx, err := op.Sign(s, kid, p)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestOAuthAcrossOperators: a camera of operator A, roaming, gets an
// access token from operator B's node for A's service (A's access contract
// admits B). Independent libraries do the rest: golang.org/x/oauth2
// obtains it (and reads a refusal's RFC 6749 code); a resource server on
// github.com/coreos/go-oidc/v3 (discovery at B's issuer, its remote key
// set) and one on github.com/go-jose/go-jose/v4 (B's JWK Set as A's node
// serves it from the ledger, RFC 9068 typ, DPoP per RFC 9449) accept it;
// the DPoP-bound token without its proof is refused; B's node introspects
// it as inactive once A revokes the camera at A's node, within a block.
func TestOAuthAcrossOperators(t *testing.T) {
	t.Parallel()
	o := startTwoOperators(t)
	a, b := o.a, o.b
	// A's contract admits cameras, and B as a binder.
	o.submit(t, sign(t, a.Signer, a.Kid, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{
		Provider: a.DID.String(), Name: "cams", Kind: op.ContractAccess, Binders: []string{b.DID.String()},
		Source: `device_attrs[?"class"].orValue("") == "camera"`}}))
	register := func(kind string, attrs ...op.Attr) nodetest.Entity {
		s := nodetest.NewKey(t, cose.AlgES256)
		p := op.Payload{Network: "testnet", Register: &op.Register{Kind: kind, Provider: a.DID.String(),
			Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}, Attrs: attrs}, Nonce: []byte(time.Now().Format(time.RFC3339Nano))}}
		tx, id, err := op.SignRegister(s, "k1", p)
		if err != nil {
			t.Fatal(err)
		}
		o.submit(t, tx)
		o.submit(t, sign(t, a.Signer, a.Kid, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: id.String(), Version: 1}}))
		return nodetest.Entity{Signer: s, KeyID: "k1", DID: id}
	}
	svc := register(op.KindService)
	o.submit(t, sign(t, a.Signer, a.Kid, op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: svc.DID.String(), Version: 2,
		Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", svc.Signer.Public())}, Access: []string{a.DID.String() + "/cams"}}}}))
	cam := register(op.KindDevice, op.Attr{K: "class", V: "camera"})
	w := &oauthWorld{}
	w.waitPublished(t, o.clients[0], b.DID) // B's token key, as A's node reads the ledger
	issuerB := o.clients[1].URL
	tokenB := issuerB + oauth.PathToken
	// B's node holds the records A's node committed once it has the block.
	waitEntity(t, o.clients[1], cam.DID, op.StatusValidated)
	waitEntity(t, o.clients[1], svc.DID, op.StatusValidated)

	// golang.org/x/oauth2 obtains the token at B's node (jwt-bearer).
	ctx := t.Context()
	cfg := oauth2.Config{ClientID: cam.DID.String(), Endpoint: oauth2.Endpoint{TokenURL: tokenB, AuthStyle: oauth2.AuthStyleInParams}}
	asrt, err := sdk.SignAssertion(cam.Signer, cam.DID.WithFragment("k1"), tokenB, time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	params := []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("grant_type", oauth.GrantJWTBearer), oauth2.SetAuthURLParam("assertion", string(asrt)),
		oauth2.SetAuthURLParam("resource", svc.DID.String()), oauth2.SetAuthURLParam("scope", "read openid")}
	tok, err := cfg.Exchange(ctx, "", params...)
	if err != nil {
		t.Fatalf("x/oauth2: %v", err)
	}
	if tok.Type() != "Bearer" || tok.Extra("id_token") == nil || tok.Expiry.IsZero() {
		t.Fatalf("x/oauth2 token: %+v", tok)
	}
	// The same assertion again: x/oauth2 reads the RFC 6749 error.
	var re *oauth2.RetrieveError
	if _, err := cfg.Exchange(ctx, "", params...); !errors.As(err, &re) || re.ErrorCode != oauth.ErrInvalidGrant {
		t.Fatalf("replayed assertion through x/oauth2: %v", err)
	}

	// A resource server on go-oidc: discovery at B's issuer, B's key set.
	prov, err := oidc.NewProvider(ctx, issuerB)
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	verifier := prov.Verifier(&oidc.Config{ClientID: svc.DID.String(), SupportedSigningAlgs: []string{oidc.ES256}})
	// ... and one that takes B's keys from A's node: the ledger's copy.
	ledgerKeys := oidc.NewVerifier(issuerB, oidc.NewRemoteKeySet(ctx, o.clients[0].URL+oauth.JWKSPath(b.DID.String())),
		&oidc.Config{ClientID: svc.DID.String(), SupportedSigningAlgs: []string{oidc.ES256}})
	oidcRS := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			http.Error(rw, "no bearer token", http.StatusUnauthorized)
			return
		}
		for _, v := range []*oidc.IDTokenVerifier{verifier, ledgerKeys} {
			if _, err := v.Verify(r.Context(), raw); err != nil {
				http.Error(rw, err.Error(), http.StatusUnauthorized)
				return
			}
		}
		t, _ := verifier.Verify(r.Context(), raw)
		_, _ = io.WriteString(rw, t.Subject) //nolint:gosec // a test's text/plain answer
	}))
	t.Cleanup(oidcRS.Close)
	// The client x/oauth2 makes presents the token.
	if code, body := getWith(t, cfg.Client(ctx, tok), oidcRS.URL, nil); code != 200 || body != cam.DID.String() {
		t.Fatalf("go-oidc resource server: %d %s", code, body)
	}
	// go-oidc reads the ID token too: sub is the DID.
	idv := prov.Verifier(&oidc.Config{ClientID: cam.DID.String(), SupportedSigningAlgs: []string{oidc.ES256}})
	idt, err := idv.Verify(ctx, tok.Extra("id_token").(string))
	if err != nil || idt.Subject != cam.DID.String() {
		t.Fatalf("id token: %+v %v", idt, err)
	}
	// A token for another audience is refused by both.
	if code, _ := getWith(t, http.DefaultClient, oidcRS.URL, map[string]string{"Authorization": "Bearer " + tok.Extra("id_token").(string)}); code != 401 {
		t.Fatalf("go-oidc accepted the ID token as an access token: %d", code)
	}

	// A resource server on go-jose, DPoP per RFC 9449.
	joseRS := httptest.NewServer(joseResourceServer(t, o.clients[0].URL+oauth.JWKSPath(b.DID.String()), issuerB, svc.DID.String()))
	t.Cleanup(joseRS.Close)
	// The SDK's token source (x/oauth2's interface), DPoP-bound.
	src := oauth2.ReuseTokenSource(nil, &sdk.OAuthSource{Signer: cam.Signer, Kid: cam.DID.WithFragment("k1"), TokenURL: tokenB, Resource: svc.DID.String(), DPoP: true, Context: ctx})
	bound, err := src.Token()
	if err != nil || bound.Type() != "DPoP" {
		t.Fatalf("sdk token source: %+v %v", bound, err)
	}
	if again, err := src.Token(); err != nil || again.AccessToken != bound.AccessToken {
		t.Fatalf("reuse: %v", err)
	}
	u, _ := url.Parse(joseRS.URL + "/photos")
	proof := dpopProof(t, cam.Signer, http.MethodGet, authn.HTU(u), []byte(bound.AccessToken))
	if code, body := getWith(t, http.DefaultClient, u.String(), map[string]string{"Authorization": "DPoP " + bound.AccessToken, "DPoP": proof}); code != 200 || body != cam.DID.String() {
		t.Fatalf("go-jose with DPoP: %d %s", code, body)
	}
	for name, hdr := range map[string]map[string]string{
		"fail/bound-token-as-bearer":  {"Authorization": "Bearer " + bound.AccessToken},
		"fail/bound-token-no-proof":   {"Authorization": "DPoP " + bound.AccessToken},
		"fail/proof-of-another-key":   {"Authorization": "DPoP " + bound.AccessToken, "DPoP": dpopProof(t, nodetest.NewKey(t, cose.AlgES256), http.MethodGet, authn.HTU(u), []byte(bound.AccessToken))},
		"fail/proof-for-another-path": {"Authorization": "DPoP " + bound.AccessToken, "DPoP": dpopProof(t, cam.Signer, http.MethodGet, joseRS.URL+"/other", []byte(bound.AccessToken))},
	} {
		if code, body := getWith(t, http.DefaultClient, u.String(), hdr); code != 401 {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}
	// The SDK's DPoP transport makes the proofs.
	dc := &http.Client{Transport: &sdk.DPoPTransport{Source: src, Signer: cam.Signer}}
	if code, body := getWith(t, dc, u.String(), nil); code != 200 || body != cam.DID.String() {
		t.Fatalf("go-jose through sdk.DPoPTransport: %d %s", code, body)
	}
	// The bearer token from x/oauth2 is accepted by go-jose too.
	if code, body := getWith(t, cfg.Client(ctx, tok), u.String(), nil); code != 200 || body != cam.DID.String() {
		t.Fatalf("go-jose bearer: %d %s", code, body)
	}

	// Revoked at A's node: inactive at B's within one block.
	intro := func() (map[string]any, int64) {
		_, out := introspectAs(t, issuerB+oauth.PathIntrospect, bound.AccessToken, svc, svc.Signer, issuerB+oauth.PathIntrospect)
		st, err := o.clients[1].Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return out, st.Height
	}
	if out, _ := intro(); out["active"] != true || out["token_type"] != "DPoP" {
		t.Fatalf("before the revocation: %v", out)
	}
	res := o.submit(t, sign(t, a.Signer, a.Kid, op.Payload{Type: op.TypeRevoke, Status: &op.Status{DID: cam.DID.String(), Version: 2, Reason: "stolen"}}))
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, h := intro()
		if out["active"] == false {
			if h > res.Height+1 {
				t.Fatalf("inactive at B's node at height %d; revoked at %d", h, res.Height)
			}
			break
		}
		if h > res.Height {
			t.Fatalf("active at B's node at height %d, after the revocation at %d", h, res.Height)
		}
		if time.Now().After(deadline) {
			t.Fatal("B's node never saw the revocation")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// And no new token for the revoked camera.
	a2, _ := sdk.SignAssertion(cam.Signer, cam.DID.WithFragment("k1"), tokenB, time.Now(), time.Minute)
	if _, err := cfg.Exchange(ctx, "", oauth2.SetAuthURLParam("grant_type", oauth.GrantJWTBearer), oauth2.SetAuthURLParam("assertion", string(a2)),
		oauth2.SetAuthURLParam("resource", svc.DID.String())); !errors.As(err, &re) || re.ErrorCode != oauth.ErrInvalidGrant {
		t.Fatalf("revoked camera: %v", err)
	}
}

func waitEntity(t *testing.T, c *sdk.Client, id did.DID, status string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for {
		e, err := c.Entity(ctx, id.String())
		if err == nil && e.Status == status {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("%s never %s: %v", id, status, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func getWith(t *testing.T, c *http.Client, u string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// joseResourceServer is a resource server written with go-jose alone: it
// takes the issuer's keys from jwksURL, accepts an RFC 9068 access token
// (typ at+jwt, iss, aud, exp) and, for a token with cnf.jkt, only with a
// DPoP proof (RFC 9449 section 7) of that key for this request and token.
func joseResourceServer(t *testing.T, jwksURL, issuer, audience string) http.Handler {
	t.Helper()
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		deny := func(why string) { http.Error(rw, why, http.StatusUnauthorized) }
		resp, err := http.Get(jwksURL) //nolint:noctx // a test's resource server
		if err != nil {
			deny(err.Error())
			return
		}
		var set jose.JSONWebKeySet
		err = json.NewDecoder(resp.Body).Decode(&set)
		_ = resp.Body.Close()
		if err != nil {
			deny(err.Error())
			return
		}
		scheme, raw, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
		if err != nil || len(tok.Headers) != 1 || tok.Headers[0].ExtraHeaders["typ"] != "at+jwt" {
			deny("not an RFC 9068 access token")
			return
		}
		keys := set.Key(tok.Headers[0].KeyID)
		if len(keys) != 1 {
			deny("unknown kid")
			return
		}
		var c jwt.Claims
		var extra struct {
			Cnf *struct {
				Jkt string `json:"jkt"`
			} `json:"cnf"`
		}
		if err := tok.Claims(keys[0].Key, &c, &extra); err != nil {
			deny(err.Error())
			return
		}
		if err := c.Validate(jwt.Expected{Issuer: issuer, AnyAudience: jwt.Audience{audience}, Time: time.Now()}); err != nil {
			deny(err.Error())
			return
		}
		switch {
		case extra.Cnf == nil && scheme == "Bearer":
		case extra.Cnf != nil && scheme == "DPoP":
			if err := checkDPoP(r, raw, extra.Cnf.Jkt); err != nil {
				deny(err.Error())
				return
			}
		default:
			deny("a DPoP-bound token comes as DPoP with its proof; a bearer token as Bearer")
			return
		}
		_, _ = io.WriteString(rw, c.Subject)
	})
}

// checkDPoP checks a DPoP proof with go-jose: typ dpop+jwt, signed by its
// header's jwk, whose thumbprint is jkt, for this method and URL, fresh,
// for this token.
func checkDPoP(r *http.Request, token, jkt string) error {
	p, err := jose.ParseSigned(r.Header.Get("DPoP"), []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
	if err != nil || len(p.Signatures) != 1 {
		return errors.New("no DPoP proof")
	}
	h := p.Signatures[0].Protected
	if h.ExtraHeaders["typ"] != "dpop+jwt" || h.JSONWebKey == nil || !h.JSONWebKey.IsPublic() {
		return errors.New("not a DPoP proof")
	}
	tp, err := h.JSONWebKey.Thumbprint(crypto.SHA256)
	if err != nil || base64.RawURLEncoding.EncodeToString(tp) != jkt {
		return errors.New("the proof's key is not the token's")
	}
	b, err := p.Verify(h.JSONWebKey)
	if err != nil {
		return err
	}
	var c struct {
		Htm string `json:"htm"`
		Htu string `json:"htu"`
		Iat int64  `json:"iat"`
		Ath string `json:"ath"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(token))
	if c.Htm != r.Method || c.Htu != "http://"+r.Host+r.URL.Path || c.Ath != base64.RawURLEncoding.EncodeToString(sum[:]) ||
		time.Since(time.Unix(c.Iat, 0)).Abs() > time.Minute {
		return errors.New("the proof is for another request or token, or stale")
	}
	return nil
}

package node_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

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

// oauthWorld is a node that acts for operator B (the harness's default
// provider), and operator A's (the harness's other provider) devices and
// services: A's access contract "cams" admits B as a binder, so B's node
// issues tokens for A's service svc, bound to it, to A's cameras.
type oauthWorld struct {
	h              *nodetest.Harness
	a, b           nodetest.Provider
	svc, unbound   nodetest.Entity // A's services: bound to A/cams; bound to nothing
	cam, meter     nodetest.Entity // A's devices, validated
	pending        nodetest.Entity // A's device, never validated
	client         nodetest.Entity // B's service, a private_key_jwt client
	issuer, token  string
	kid            string // the node's token key id
	cams           string
	introspectPath string
}

func newOAuthWorld(t testing.TB) *oauthWorld {
	t.Helper()
	h := nodetest.Start(t)
	w := &oauthWorld{h: h, a: h.Other, b: h.Provider}
	w.issuer = h.Node.URL()
	w.token = w.issuer + oauth.PathToken
	w.introspectPath = w.issuer + oauth.PathIntrospect
	w.cams = w.a.DID.String() + "/cams"
	h.MustSubmit(h.Sign(w.a.Signer, w.a.Kid, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{
		Provider: w.a.DID.String(), Name: "cams", Kind: op.ContractAccess, Binders: []string{w.b.DID.String()},
		Source: `device_attrs[?"class"].orValue("") == "camera" && request[?"scope"].orValue("read") != "delete"`}}))
	validate := func(p nodetest.Provider, e nodetest.Entity) {
		h.MustSubmit(h.Sign(p.Signer, p.Kid, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: e.DID.String(), Version: 1}}))
	}
	w.svc = h.Register(op.KindService, w.a.DID, cose.AlgEdDSA)
	validate(w.a, w.svc)
	h.MustSubmit(h.Sign(w.a.Signer, w.a.Kid, op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: w.svc.DID.String(), Version: 2,
		Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", w.svc.Signer.Public())}, Access: []string{w.cams}}}}))
	w.unbound = h.Register(op.KindService, w.a.DID, cose.AlgEdDSA)
	validate(w.a, w.unbound)
	device := func(class string, alg cose.Alg) nodetest.Entity {
		s := nodetest.NewKey(t, alg)
		p := h.RegisterPayload(op.KindDevice, w.a.DID, s)
		p.Register.Doc.Attrs = []op.Attr{{K: "class", V: class}}
		tx, id := h.SignRegister(s, p)
		h.MustSubmit(tx)
		return nodetest.Entity{Signer: s, KeyID: "k1", DID: id}
	}
	w.cam, w.meter, w.pending = device("camera", cose.AlgES256), device("meter", cose.AlgEdDSA), device("camera", cose.AlgEdDSA)
	validate(w.a, w.cam)
	validate(w.a, w.meter)
	w.client = h.Register(op.KindService, w.b.DID, cose.AlgEdDSA)
	validate(w.b, w.client)
	w.kid = w.waitPublished(t, h.Client, w.b.DID)
	return w
}

// waitPublished waits until provider's publication holds a token key,
// and returns its JWK kid.
func (w *oauthWorld) waitPublished(t testing.TB, c *sdk.Client, provider did.DID) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		p, err := c.Provider(ctx, provider.String())
		if err == nil && p.Publication != nil && len(p.Publication.TokenKeys) > 0 {
			return provider.WithFragment(p.Publication.TokenKeys[len(p.Publication.TokenKeys)-1].ID).String()
		}
		if ctx.Err() != nil {
			t.Fatalf("the token key of %s was not published: %+v %v", provider, p, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func randomJTI(t testing.TB) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// assertion signs claims as e's assertion (kid e#k1 unless kid is set).
func assertion(t testing.TB, s cose.Signer, kid string, claims any) string {
	t.Helper()
	b, err := authn.SignJWT(s, "JWT", kid, claims)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (w *oauthWorld) assertionOf(t testing.TB, e nodetest.Entity) string {
	t.Helper()
	now := time.Now().Unix()
	return assertion(t, e.Signer, e.DID.WithFragment("k1").String(), map[string]any{
		"iss": e.DID.String(), "sub": e.DID.String(), "aud": w.token, "iat": now, "exp": now + 60, "jti": randomJTI(t)})
}

// introspectAs asks the introspection endpoint at u about tok,
// authenticated as the resource server e (private_key_jwt signed by s,
// for the audience aud), as RFC 7662 section 2.1 wants.
func introspectAs(t testing.TB, u, tok string, e nodetest.Entity, s cose.Signer, aud string) (int, map[string]any) {
	t.Helper()
	now, id := time.Now().Unix(), e.DID.String()
	ca := assertion(t, s, e.DID.WithFragment("k1").String(), map[string]any{"iss": id, "sub": id, "aud": aud, "iat": now, "exp": now + 60, "jti": randomJTI(t)})
	return post(t, u, url.Values{"token": {tok}, "client_assertion_type": {oauth.ClientAssertionType}, "client_assertion": {ca}}, "")
}

// introspect asks about tok as the resource server it names as aud (one
// of the world's services; svc for any other).
func (w *oauthWorld) introspect(t testing.TB, tok string) (int, map[string]any) {
	t.Helper()
	rs := w.svc
	if c, _, _, err := oauth.DecodeAccessToken([]byte(tok)); err == nil {
		for _, e := range []nodetest.Entity{w.unbound, w.client} {
			if c.Aud == e.DID.String() {
				rs = e
			}
		}
	}
	return introspectAs(t, w.introspectPath, tok, rs, rs.Signer, w.introspectPath)
}

// post sends a form to url (with a DPoP header unless ""), and returns the
// status and the decoded JSON answer.
func post(t testing.TB, u string, form url.Values, dpop string) (int, map[string]any) {
	t.Helper()
	return postBody(t, u, "application/x-www-form-urlencoded", []byte(form.Encode()), dpop)
}

func postBody(t testing.TB, u, ctype string, body []byte, dpop string) (int, map[string]any) {
	t.Helper()
	code, out, _ := postWith(t, u, ctype, body, map[string]string{"DPoP": dpop})
	return code, out
}

// postAuthorized sends a form with an Authorization header, and returns
// the status, the decoded answer and its WWW-Authenticate header.
func postAuthorized(t testing.TB, u string, form url.Values, authorization string) (int, map[string]any, string) {
	t.Helper()
	return postWith(t, u, "application/x-www-form-urlencoded", []byte(form.Encode()), map[string]string{"Authorization": authorization})
}

// postWith sends body with the headers that are not "".
func postWith(t testing.TB, u, ctype string, body []byte, hdr map[string]string) (int, map[string]any, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	for k, v := range hdr {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%d %s: %v", resp.StatusCode, b, err)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	return resp.StatusCode, out, resp.Header.Get("WWW-Authenticate")
}

func (w *oauthWorld) bearer(t testing.TB, e nodetest.Entity, resource, scope string) url.Values {
	t.Helper()
	f := url.Values{"grant_type": {oauth.GrantJWTBearer}, "assertion": {w.assertionOf(t, e)}, "resource": {resource}}
	if scope != "" {
		f.Set("scope", scope)
	}
	return f
}

func dpopProof(t testing.TB, s cose.Signer, method, htu string, token []byte) string {
	t.Helper()
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		t.Fatal(err)
	}
	p, err := authn.SignDPoP(s, method, htu, token, time.Now().Unix(), jti)
	if err != nil {
		t.Fatal(err)
	}
	return string(p)
}

// TestOAuthToken: a camera of operator A gets an RFC 9068 access token
// from operator B's node for A's service (A's contract admits B), with the
// scope the contract allows, DPoP-bound when it asks; its claims.
func TestOAuthToken(t *testing.T) {
	t.Parallel()
	w := newOAuthWorld(t)
	code, out := post(t, w.token, w.bearer(t, w.cam, w.svc.DID.String(), "read openid"), "")
	if code != 200 || out["token_type"] != "Bearer" || out["expires_in"] != float64(300) || out["scope"] != "read openid" || out["id_token"] == nil {
		t.Fatalf("token: %d %v", code, out)
	}
	c, kid, _, err := oauth.DecodeAccessToken([]byte(out["access_token"].(string)))
	if err != nil {
		t.Fatal(err)
	}
	if kid.String() != w.kid || c.Iss != w.issuer || c.Sub != w.cam.DID.String() || c.Aud != w.svc.DID.String() || c.ClientID != w.cam.DID.String() ||
		c.Scope != "read openid" || c.Exp-c.Iat != 300 || c.Jti == "" || c.Cnf != nil {
		t.Fatalf("claims: %+v kid %s", c, kid)
	}
	// DPoP: bound to the device key that proved the request.
	f := w.bearer(t, w.cam, w.svc.DID.String(), "")
	code, out = post(t, w.token, f, dpopProof(t, w.cam.Signer, http.MethodPost, w.token, nil))
	if code != 200 || out["token_type"] != "DPoP" {
		t.Fatalf("dpop token: %d %v", code, out)
	}
	c, _, _, _ = oauth.DecodeAccessToken([]byte(out["access_token"].(string)))
	jkt, _ := did.JWKThumbprint(w.cam.Signer.Public())
	if c.Cnf == nil || c.Cnf.Jkt != jkt {
		t.Fatalf("cnf: %+v", c.Cnf)
	}
	// The JWK Set of B, from the ledger, holds the key that signed.
	resp, err := http.Get(w.issuer + oauth.JWKSPath(w.b.DID.String()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var set oauth.JWKSet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || len(set.Keys) != 1 || set.Keys[0].Kid != w.kid || set.Keys[0].Alg != "ES256" ||
		resp.Header.Get("Content-Type") != "application/jwk-set+json" {
		t.Fatalf("jwks: %+v %v", set, err)
	}
}

// TestOAuthRefusals: a named case for every refusal of the token
// endpoint, with its RFC 6749 section 5.2 (RFC 8707, RFC 9449) error code;
// no token is issued.
func TestOAuthRefusals(t *testing.T) {
	t.Parallel()
	w := newOAuthWorld(t)
	now := time.Now().Unix()
	cam, svc := w.cam.DID.String(), w.svc.DID.String()
	claims := func(mod func(m map[string]any)) map[string]any {
		m := map[string]any{"iss": cam, "sub": cam, "aud": w.token, "iat": now, "exp": now + 60, "jti": randomJTI(t)}
		if mod != nil {
			mod(m)
		}
		return m
	}
	camKid := w.cam.DID.WithFragment("k1").String()
	signed := func(mod func(m map[string]any)) string { return assertion(t, w.cam.Signer, camKid, claims(mod)) }
	grant := func(a string) url.Values {
		return url.Values{"grant_type": {oauth.GrantJWTBearer}, "assertion": {a}, "resource": {svc}}
	}
	replayed := w.bearer(t, w.cam, svc, "")
	if code, out := post(t, w.token, replayed, ""); code != 200 {
		t.Fatalf("first use: %d %v", code, out)
	}
	revoked := w.h.Register(op.KindDevice, w.a.DID, cose.AlgEdDSA)
	w.h.MustSubmit(w.h.Sign(w.a.Signer, w.a.Kid, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: revoked.DID.String(), Version: 1}}))
	revokedGrant := w.bearer(t, revoked, svc, "")
	w.h.MustSubmit(w.h.Sign(w.a.Signer, w.a.Kid, op.Payload{Type: op.TypeRevoke, Status: &op.Status{DID: revoked.DID.String(), Version: 2, Reason: "stolen"}}))
	other := nodetest.NewKey(t, cose.AlgES256)
	dpopUsed := dpopProof(t, w.cam.Signer, http.MethodPost, w.token, nil)
	if code, out := post(t, w.token, w.bearer(t, w.cam, svc, ""), dpopUsed); code != 200 {
		t.Fatalf("dpop first use: %d %v", code, out)
	}
	clientAssertion := func(s cose.Signer) string {
		id := w.client.DID.String()
		return assertion(t, s, w.client.DID.WithFragment("k1").String(), map[string]any{"iss": id, "sub": id, "aud": w.token, "iat": now, "exp": now + 60, "jti": randomJTI(t)})
	}
	withClient := func(f url.Values, typ, a string) url.Values {
		f.Set("client_assertion_type", typ)
		f.Set("client_assertion", a)
		return f
	}
	session := w.sessionToken(t, svc)
	for name, c := range map[string]struct {
		form  url.Values
		body  []byte // instead of form
		ctype string // default form
		dpop  string
		code  string
	}{
		"fail/malformed-assertion": {form: grant("not.a.jwt"), code: oauth.ErrInvalidGrant},
		"fail/actor-token": {form: func() url.Values {
			f := url.Values{"grant_type": {oauth.GrantExchange}, "subject_token": {session}, "subject_token_type": {oauth.TokenTypeJWT}, "resource": {svc}}
			f.Set("actor_token", session)
			f.Set("actor_token_type", oauth.TokenTypeJWT)
			return f
		}(), code: oauth.ErrInvalidRequest},
		"fail/oversized-assertion":     {form: grant(strings.Repeat("a", oauth.MaxJWTBytes+1)), code: oauth.ErrInvalidGrant},
		"fail/case-variant-claim":      {form: grant(signed(func(m map[string]any) { m["ISS"] = "did:bias:local:other" })), code: oauth.ErrInvalidGrant},
		"fail/expired-assertion":       {form: grant(signed(func(m map[string]any) { m["iat"], m["exp"] = now-200, now-100 })), code: oauth.ErrInvalidGrant},
		"fail/long-lived-assertion":    {form: grant(signed(func(m map[string]any) { m["exp"] = now + 3600 })), code: oauth.ErrInvalidGrant},
		"fail/future-assertion":        {form: grant(signed(func(m map[string]any) { m["iat"], m["exp"] = now+600, now+700 })), code: oauth.ErrInvalidGrant},
		"fail/replayed-assertion":      {form: replayed, code: oauth.ErrInvalidGrant},
		"fail/wrong-audience":          {form: grant(signed(func(m map[string]any) { m["aud"] = "https://as.other.example/oauth/token" })), code: oauth.ErrInvalidGrant},
		"fail/no-jti":                  {form: grant(signed(func(m map[string]any) { delete(m, "jti") })), code: oauth.ErrInvalidGrant},
		"fail/iss-not-signer":          {form: grant(signed(func(m map[string]any) { m["iss"], m["sub"] = w.meter.DID.String(), w.meter.DID.String() })), code: oauth.ErrInvalidGrant},
		"fail/unknown-key":             {form: grant(assertion(t, w.cam.Signer, w.cam.DID.WithFragment("k9").String(), claims(nil))), code: oauth.ErrInvalidGrant},
		"fail/bad-signature":           {form: grant(assertion(t, other, camKid, claims(nil))), code: oauth.ErrInvalidGrant},
		"fail/unvalidated-device":      {form: w.bearer(t, w.pending, svc, ""), code: oauth.ErrInvalidGrant},
		"fail/revoked-device":          {form: revokedGrant, code: oauth.ErrInvalidGrant},
		"fail/service-as-device":       {form: w.bearer(t, w.client, svc, ""), code: oauth.ErrInvalidGrant},
		"fail/contract-refused-scope":  {form: w.bearer(t, w.cam, svc, "read delete"), code: oauth.ErrInvalidScope},
		"fail/malformed-scope":         {form: w.bearer(t, w.cam, svc, "read  read"), code: oauth.ErrInvalidScope},
		"fail/contract-refused-device": {form: w.bearer(t, w.meter, svc, ""), code: oauth.ErrInvalidTarget},
		"fail/no-resource":             {form: w.bearer(t, w.cam, "", ""), code: oauth.ErrInvalidTarget},
		"fail/resource-not-a-did":      {form: w.bearer(t, w.cam, "https://printer.example", ""), code: oauth.ErrInvalidTarget},
		"fail/resource-is-a-device":    {form: w.bearer(t, w.cam, w.meter.DID.String(), ""), code: oauth.ErrInvalidTarget},
		"fail/resource-not-admitted":   {form: w.bearer(t, w.cam, w.unbound.DID.String(), ""), code: oauth.ErrInvalidTarget},
		"fail/unsupported-grant":       {form: url.Values{"grant_type": {"password"}, "username": {"cam"}}, code: oauth.ErrUnsupportedGrantType},
		"fail/no-grant-type":           {form: url.Values{"assertion": {"x"}}, code: oauth.ErrInvalidRequest},
		"fail/no-assertion":            {form: url.Values{"grant_type": {oauth.GrantJWTBearer}, "resource": {svc}}, code: oauth.ErrInvalidRequest},
		"fail/parameter-twice":         {form: url.Values{"grant_type": {oauth.GrantJWTBearer}, "assertion": {"a", "b"}}, code: oauth.ErrInvalidRequest},
		"fail/not-a-form":              {body: []byte(`{"grant_type": "x"}`), ctype: "application/json", code: oauth.ErrInvalidRequest},
		"fail/oversized-request":       {body: []byte("grant_type=x&pad=" + strings.Repeat("a", oauth.MaxRequestBytes)), code: oauth.ErrInvalidRequest},
		"fail/dpop-of-another-key":     {form: w.bearer(t, w.cam, svc, ""), dpop: dpopProof(t, other, http.MethodPost, w.token, nil), code: oauth.ErrInvalidDPoPProof},
		"fail/dpop-for-another-url":    {form: w.bearer(t, w.cam, svc, ""), dpop: dpopProof(t, w.cam.Signer, http.MethodPost, "https://elsewhere.example/token", nil), code: oauth.ErrInvalidDPoPProof},
		"fail/dpop-replayed":           {form: w.bearer(t, w.cam, svc, ""), dpop: dpopUsed, code: oauth.ErrInvalidDPoPProof},
		"fail/client-bad-signature":    {form: withClient(w.bearer(t, w.cam, svc, ""), oauth.ClientAssertionType, clientAssertion(other)), code: oauth.ErrInvalidClient},
		"fail/client-assertion-type":   {form: withClient(w.bearer(t, w.cam, svc, ""), "urn:x", clientAssertion(w.client.Signer)), code: oauth.ErrInvalidClient},
		"fail/client-id-not-the-client": {form: func() url.Values {
			f := w.bearer(t, w.cam, svc, "")
			f.Set("client_id", w.client.DID.String())
			return f
		}(), code: oauth.ErrInvalidClient},
		"fail/exchange-without-dpop":     {form: url.Values{"grant_type": {oauth.GrantExchange}, "subject_token": {session}, "subject_token_type": {oauth.TokenTypeJWT}, "resource": {svc}}, code: oauth.ErrInvalidDPoPProof},
		"fail/exchange-not-a-token":      {form: url.Values{"grant_type": {oauth.GrantExchange}, "subject_token": {"x.y.z"}, "subject_token_type": {oauth.TokenTypeJWT}, "resource": {svc}}, code: oauth.ErrInvalidGrant},
		"fail/exchange-for-another-aud":  {form: url.Values{"grant_type": {oauth.GrantExchange}, "subject_token": {session}, "subject_token_type": {oauth.TokenTypeJWT}, "resource": {w.unbound.DID.String()}}, code: oauth.ErrInvalidGrant},
		"fail/exchange-wrong-token-type": {form: url.Values{"grant_type": {oauth.GrantExchange}, "subject_token": {session}, "subject_token_type": {oauth.TokenTypeAccess}, "resource": {svc}}, code: oauth.ErrInvalidRequest},
		"fail/proof-malformed":           {form: url.Values{"grant_type": {oauth.GrantProof}, "challenge": {"x"}, "proof": {"y"}}, code: oauth.ErrInvalidGrant},
	} {
		t.Run(name, func(t *testing.T) {
			body, ctype := c.body, c.ctype
			if body == nil {
				body = []byte(c.form.Encode())
			}
			if ctype == "" {
				ctype = "application/x-www-form-urlencoded"
			}
			status, out := postBody(t, w.token, ctype, body, c.dpop)
			want := http.StatusBadRequest
			if c.code == oauth.ErrInvalidClient {
				want = http.StatusUnauthorized
			}
			if status != want || out["error"] != c.code || out["access_token"] != nil {
				t.Fatalf("got %d %v, want %d %s", status, out, want, c.code)
			}
			t.Logf("%d %v", status, out)
			if d, _ := out["error_description"].(string); d == "" || strings.Contains(d, "BEGIN") {
				t.Fatalf("description %q", d)
			}
		})
	}
}

// sessionToken is a bias session token for w.cam, DPoP-bound to its key,
// issued by A's service w.svc for itself.
func (w *oauthWorld) sessionToken(t *testing.T, aud string) string {
	t.Helper()
	kid := w.cam.DID.WithFragment("k1")
	d := authn.Decision{OK: true, Reason: authn.OK, Device: w.cam.DID.String(), Kid: kid.String()}
	tok, err := authn.IssueBoundToken(w.svc.Signer, w.svc.DID.WithFragment("k1"), d, w.cam.Signer.Public(), []did.DID{did.MustParse(aud)}, time.Now().Unix(), 600, []byte(randomJTI(t)))
	if err != nil {
		t.Fatal(err)
	}
	return string(tok)
}

// TestOAuthOtherGrants: a session token exchanged (RFC 8693) with a DPoP
// proof of its key; a challenge and proof of the service; a service
// that authenticates as the client (private_key_jwt) is the client_id.
func TestOAuthOtherGrants(t *testing.T) {
	t.Parallel()
	w := newOAuthWorld(t)
	svc := w.svc.DID.String()
	f := url.Values{"grant_type": {oauth.GrantExchange}, "subject_token": {w.sessionToken(t, svc)}, "subject_token_type": {oauth.TokenTypeJWT}, "resource": {svc}}
	code, out := post(t, w.token, f, dpopProof(t, w.cam.Signer, http.MethodPost, w.token, nil))
	if code != 200 || out["issued_token_type"] != oauth.TokenTypeAccess || out["token_type"] != "DPoP" {
		t.Fatalf("exchange: %d %v", code, out)
	}
	// A proof of another key than the session token's is refused.
	f.Set("subject_token", w.sessionToken(t, svc))
	other := nodetest.NewKey(t, cose.AlgES256)
	if code, out := post(t, w.token, f, dpopProof(t, other, http.MethodPost, w.token, nil)); code != 400 || out["error"] != oauth.ErrInvalidDPoPProof {
		t.Fatalf("exchange with another key: %d %v", code, out)
	}
	// The challenge of the service and the camera's proof.
	const svcOrigin = "https://printer.example"
	iss := authn.NewIssuer(w.svc.DID.WithFragment("k1"), svcOrigin, make([]byte, 32), authn.NewMemorySpentSet(16))
	now := time.Now().Unix()
	ch, err := iss.New(now, 60)
	if err != nil {
		t.Fatal(err)
	}
	chb, err := authn.SignChallenge(w.svc.Signer, ch, authn.JWS)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := authn.SignProof(w.cam.Signer, &authn.Proof{Device: w.cam.DID, Kid: w.cam.DID.WithFragment("k1"), Service: w.svc.DID, Origin: svcOrigin, ServiceNonce: ch.Nonce,
		DeviceNonce: make([]byte, authn.NonceLen), IssuedAt: now}, authn.JWS)
	if err != nil {
		t.Fatal(err)
	}
	pf := url.Values{"grant_type": {oauth.GrantProof}, "challenge": {string(chb)}, "proof": {string(pr)}, "scope": {"read"}}
	code, out = post(t, w.token, pf, "")
	if code != 200 {
		t.Fatalf("proof grant: %d %v", code, out)
	}
	c, _, _, _ := oauth.DecodeAccessToken([]byte(out["access_token"].(string)))
	if c.Aud != svc || c.Sub != w.cam.DID.String() {
		t.Fatalf("proof grant claims: %+v", c)
	}
	if code, out := post(t, w.token, pf, ""); code != 400 || out["error"] != oauth.ErrInvalidGrant {
		t.Fatalf("proof replayed: %d %v", code, out)
	}
	// private_key_jwt: B's service is the client.
	now = time.Now().Unix()
	id := w.client.DID.String()
	ca := assertion(t, w.client.Signer, w.client.DID.WithFragment("k1").String(), map[string]any{"iss": id, "sub": id, "aud": w.token, "iat": now, "exp": now + 60, "jti": randomJTI(t)})
	f = w.bearer(t, w.cam, svc, "")
	f.Set("client_assertion_type", oauth.ClientAssertionType)
	f.Set("client_assertion", ca)
	f.Set("client_id", id)
	code, out = post(t, w.token, f, "")
	if code != 200 {
		t.Fatalf("private_key_jwt: %d %v", code, out)
	}
	c, _, _, _ = oauth.DecodeAccessToken([]byte(out["access_token"].(string)))
	if c.ClientID != id {
		t.Fatalf("client_id %q", c.ClientID)
	}
}

// TestOAuthIntrospectRevoked: introspection answers from the ledger: a
// token is active until its device is revoked, and inactive from the
// block that commits the revocation on.
func TestOAuthIntrospectRevoked(t *testing.T) {
	t.Parallel()
	w := newOAuthWorld(t)
	code, out := post(t, w.token, w.bearer(t, w.cam, w.svc.DID.String(), "read"), dpopProof(t, w.cam.Signer, http.MethodPost, w.token, nil))
	if code != 200 {
		t.Fatalf("token: %d %v", code, out)
	}
	tok := out["access_token"].(string)
	// Anonymous introspection is refused (RFC 7662 section 2.1), and so is
	// an Authorization header this server has no credentials for.
	if code, out := post(t, w.introspectPath, url.Values{"token": {tok}}, ""); code != 401 || out["error"] != oauth.ErrInvalidClient || len(out) != 2 {
		t.Fatalf("fail/anonymous: %d %v", code, out)
	}
	for _, hdr := range []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("svc:secret")), "Bearer " + tok} {
		code, out, wa := postAuthorized(t, w.introspectPath, url.Values{"token": {tok}}, hdr)
		if scheme, _, _ := strings.Cut(hdr, " "); code != 401 || out["error"] != oauth.ErrInvalidClient || !strings.HasPrefix(wa, scheme+" ") {
			t.Fatalf("fail/authorization-%s: %d %v %q", scheme, code, out, wa)
		}
	}
	code, out = w.introspect(t, tok)
	jkt, _ := did.JWKThumbprint(w.cam.Signer.Public())
	if code != 200 || out["active"] != true || out["sub"] != w.cam.DID.String() || out["scope"] != "read" || out["token_type"] != "DPoP" ||
		out["cnf"].(map[string]any)["jkt"] != jkt || out["iss"] != w.issuer {
		t.Fatalf("introspect: %d %v", code, out)
	}
	// A resource server learns only of the tokens for it.
	if code, out := introspectAs(t, w.introspectPath, tok, w.client, w.client.Signer, w.introspectPath); code != 200 || out["active"] != false || len(out) != 1 {
		t.Fatalf("introspected by another service: %d %v", code, out)
	}
	if code, out := introspectAs(t, w.introspectPath, tok, w.svc, w.client.Signer, w.introspectPath); code != 401 || out["error"] != oauth.ErrInvalidClient {
		t.Fatalf("fail/client-bad-signature: %d %v", code, out)
	}
	if code, out := introspectAs(t, w.introspectPath, tok, w.svc, w.svc.Signer, "https://elsewhere.example"); code != 401 || out["error"] != oauth.ErrInvalidClient {
		t.Fatalf("fail/client-wrong-audience: %d %v", code, out)
	}
	// A token B's key signed for a service B may not issue for (A's
	// service bound to no contract that admits B) is not active anywhere.
	tk, err := keyfile.Load(node.TokenKeyPath(w.h.Home))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	beyond, err := authn.SignJWT(tk, oauth.TypAccessToken, w.kid, oauth.AccessClaims{Iss: w.issuer, Sub: w.cam.DID.String(), Aud: w.unbound.DID.String(),
		ClientID: w.cam.DID.String(), Iat: now, Exp: now + 60, AuthTime: now, Jti: randomJTI(t)})
	if err != nil {
		t.Fatal(err)
	}
	if code, out := w.introspect(t, string(beyond)); code != 200 || out["active"] != false {
		t.Fatalf("fail/issuer-not-admitted: %d %v", code, out)
	}
	// The same key, for the service it may issue for: active (the check
	// above fails for the reason it names).
	within, err := authn.SignJWT(tk, oauth.TypAccessToken, w.kid, oauth.AccessClaims{Iss: w.issuer, Sub: w.cam.DID.String(), Aud: w.svc.DID.String(),
		ClientID: w.cam.DID.String(), Iat: now, Exp: now + 60, AuthTime: now, Jti: randomJTI(t)})
	if err != nil {
		t.Fatal(err)
	}
	if code, out := w.introspect(t, string(within)); code != 200 || out["active"] != true {
		t.Fatalf("the same key within its rights: %d %v", code, out)
	}
	// The operator's key naming another issuer (posing as another
	// operator): not active; and no token lives longer than any operator
	// may let it.
	posing, err := authn.SignJWT(tk, oauth.TypAccessToken, w.kid, oauth.AccessClaims{Iss: "https://id.operator-a.example", Sub: w.cam.DID.String(), Aud: w.svc.DID.String(),
		ClientID: w.cam.DID.String(), Iat: now, Exp: now + 60, AuthTime: now, Jti: randomJTI(t)})
	if err != nil {
		t.Fatal(err)
	}
	if code, out := w.introspect(t, string(posing)); code != 200 || out["active"] != false {
		t.Fatalf("fail/iss-of-another-operator: %d %v", code, out)
	}
	forever, err := authn.SignJWT(tk, oauth.TypAccessToken, w.kid, oauth.AccessClaims{Iss: w.issuer, Sub: w.cam.DID.String(), Aud: w.svc.DID.String(),
		ClientID: w.cam.DID.String(), Iat: 1, Exp: now + 10*365*86400, AuthTime: 1, Jti: randomJTI(t)})
	if err != nil {
		t.Fatal(err)
	}
	if code, out := w.introspect(t, string(forever)); code != 200 || out["active"] != false {
		t.Fatalf("fail/lives-ten-years: %d %v", code, out)
	}
	// The device's key rotated out: the DPoP-bound token is over with it.
	k2 := nodetest.NewKey(t, cose.AlgES256)
	w.h.MustSubmit(w.h.Sign(w.a.Signer, w.a.Kid, op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: w.cam.DID.String(), Version: 2, Doc: op.Document{
		Keys: []op.Key{op.KeyFrom("k1", w.cam.Signer.Public()), op.KeyFrom("k2", k2.Public())}}}}))
	if code, out := w.introspect(t, tok); code != 200 || out["active"] != true {
		t.Fatalf("with its key still held: %d %v", code, out)
	}
	w.h.MustSubmit(w.h.Sign(w.a.Signer, w.a.Kid, op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: w.cam.DID.String(), Version: 3, Doc: op.Document{
		Keys: []op.Key{op.KeyFrom("k2", k2.Public())}}}}))
	if code, out := w.introspect(t, tok); code != 200 || out["active"] != false {
		t.Fatalf("fail/key-rotated-out: %d %v", code, out)
	}
	// A bearer token (bound to no key) stands until the revocation.
	tok = string(within)
	if code, out := w.introspect(t, tok); code != 200 || out["active"] != true {
		t.Fatalf("before the revocation: %d %v", code, out)
	}
	res := w.h.MustSubmit(w.h.Sign(w.a.Signer, w.a.Kid, op.Payload{Type: op.TypeRevoke, Status: &op.Status{DID: w.cam.DID.String(), Version: 4, Reason: "stolen"}}))
	// The submission returns once its block is committed: the next
	// introspection reads that state.
	code, out = w.introspect(t, tok)
	if code != 200 || out["active"] != false || len(out) != 1 {
		t.Fatalf("after the revocation at height %d: %d %v", res.Height, code, out)
	}
	if h := w.h.Node.Height(); h > res.Height+1 {
		t.Fatalf("inactive only at height %d, revoked at %d", h, res.Height)
	}
	for name, tok := range map[string]string{
		"fail/garbage":   "garbage",
		"fail/tampered":  tok[:len(tok)-4] + "AAAA",
		"fail/oversized": strings.Repeat("a", oauth.MaxJWTBytes+1),
	} {
		if code, out := w.introspect(t, tok); code != 200 || out["active"] != false {
			t.Errorf("%s: %d %v", name, code, out)
		}
	}
	if code, out := post(t, w.introspectPath, url.Values{}, ""); code != 400 || out["error"] != oauth.ErrInvalidRequest {
		t.Errorf("no token: %d %v", code, out)
	}
}

// TestOAuthMetadata: the metadata documents hold every field RFC 8414
// section 2 and OpenID Connect Discovery 1.0 section 3 require, with the
// issuer they are served for, and endpoints under it.
func TestOAuthMetadata(t *testing.T) {
	t.Parallel()
	w := newOAuthWorld(t)
	for _, path := range []string{oauth.PathMetadata, oauth.PathOIDC} {
		resp, err := http.Get(w.issuer + path)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		err = json.NewDecoder(resp.Body).Decode(&m)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, err)
		}
		// RFC 8414 section 2: issuer, response_types_supported required;
		// authorization_endpoint and token_endpoint (grants use them),
		// jwks_uri (keys). OIDC Discovery 1.0 section 3 adds
		// subject_types_supported and id_token_signing_alg_values_supported.
		for _, f := range []string{"issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported",
			"subject_types_supported", "id_token_signing_alg_values_supported"} {
			if v, ok := m[f]; !ok || v == "" || v == nil {
				t.Errorf("%s: %s is missing", path, f)
			}
		}
		if m["issuer"] != w.issuer {
			t.Errorf("%s: issuer %v", path, m["issuer"])
		}
		for _, f := range []string{"authorization_endpoint", "token_endpoint", "jwks_uri", "introspection_endpoint"} {
			u, _ := m[f].(string)
			if !strings.HasPrefix(u, w.issuer+"/") {
				t.Errorf("%s: %s %q is not under the issuer", path, f, u)
			}
		}
		for _, f := range []string{"response_types_supported", "subject_types_supported", "id_token_signing_alg_values_supported", "grant_types_supported"} {
			if l, ok := m[f].([]any); !ok || len(l) == 0 {
				t.Errorf("%s: %s is not a non-empty array", path, f)
			}
		}
		if u, _ := url.Parse(w.issuer); u.RawQuery != "" || u.Fragment != "" {
			t.Errorf("issuer %s has a query or fragment", w.issuer)
		}
		// Resource servers authenticate to introspect (RFC 7662 section
		// 2.1): the metadata does not offer "none".
		if l, _ := m["introspection_endpoint_auth_methods_supported"].([]any); len(l) != 1 || l[0] != "private_key_jwt" {
			t.Errorf("%s: introspection_endpoint_auth_methods_supported %v", path, l)
		}
	}
	// The issuer has no path: no metadata under a path (RFC 8414 section 3).
	resp, err := http.Get(w.issuer + oauth.PathMetadata + "/tenant")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("metadata under a path the issuer does not have: %d", resp.StatusCode)
	}
}

// TestOAuthConfig: the issuer and lifetime bounds.
func TestOAuthConfig(t *testing.T) {
	for name, c := range map[string]node.OAuthConfig{
		"fail/http-issuer":     {Issuer: "http://id.example"},
		"fail/issuer-query":    {Issuer: "https://id.example?x=1"},
		"fail/issuer-fragment": {Issuer: "https://id.example#f"},
		"fail/issuer-slash":    {Issuer: "https://id.example/"},
		"fail/issuer-case":     {Issuer: "https://ID.example"},
		"fail/issuer-port-443": {Issuer: "https://id.example:443"},
		"fail/long-lifetime":   {TokenLifetime: node.Duration(2 * time.Hour)},
		"fail/neg-lifetime":    {TokenLifetime: node.Duration(-time.Second)},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, c := range []node.OAuthConfig{{}, {Issuer: "https://id.operator-b.example"}, {Issuer: "http://127.0.0.1:8080", TokenLifetime: node.Duration(time.Minute)}} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// TestOAuthSyntaxBeforeSpending: a request refused for its form (a
// malformed scope, a resource that is no DID, two resources, an
// Authorization header) spends nothing: the same assertion then gets a token.
func TestOAuthSyntaxBeforeSpending(t *testing.T) {
	t.Parallel()
	w := newOAuthWorld(t)
	f := w.bearer(t, w.cam, w.svc.DID.String(), "read  read")
	if code, out := post(t, w.token, f, ""); code != 400 || out["error"] != oauth.ErrInvalidScope {
		t.Fatalf("malformed scope: %d %v", code, out)
	}
	f.Set("scope", "read")
	f.Set("resource", "https://not-a-did.example")
	if code, out := post(t, w.token, f, ""); code != 400 || out["error"] != oauth.ErrInvalidTarget {
		t.Fatalf("a resource that is no DID: %d %v", code, out)
	}
	// A token for two services (RFC 8707: a target this server does not
	// serve), and client_secret_basic, which bias has no secrets for (RFC
	// 6749 section 5.2: 401, WWW-Authenticate naming the scheme).
	f["resource"] = []string{w.svc.DID.String(), w.unbound.DID.String()}
	if code, out := post(t, w.token, f, ""); code != 400 || out["error"] != oauth.ErrInvalidTarget {
		t.Fatalf("two resources: %d %v", code, out)
	}
	f.Set("resource", w.svc.DID.String())
	if code, out, wa := postAuthorized(t, w.token, f, "Basic "+base64.StdEncoding.EncodeToString([]byte(w.cam.DID.String()+":x"))); code != 401 || out["error"] != oauth.ErrInvalidClient || wa != `Basic realm="bias"` {
		t.Fatalf("client_secret_basic: %d %v %q", code, out, wa)
	}
	if code, out := post(t, w.token, f, ""); code != 200 {
		t.Fatalf("the same assertion, well formed: %d %v", code, out)
	}
}

// TestOAuthRefusedRequestLeavesTheAssertion: a request refused for its
// DPoP proof or its scope does not spend the device's assertion: the
// corrected request gets the token, and then the assertion is spent.
func TestOAuthRefusedRequestLeavesTheAssertion(t *testing.T) {
	t.Parallel()
	w := newOAuthWorld(t)
	f := w.bearer(t, w.cam, w.svc.DID.String(), "read")
	other := nodetest.NewKey(t, cose.AlgES256)
	if code, out := post(t, w.token, f, dpopProof(t, other, http.MethodPost, w.token, nil)); code != 400 || out["error"] != oauth.ErrInvalidDPoPProof {
		t.Fatalf("a proof of another key: %d %v", code, out)
	}
	if code, out := post(t, w.token, f, dpopProof(t, w.cam.Signer, http.MethodPost, w.token, nil)); code != 200 {
		t.Fatalf("the same assertion, with the device's proof: %d %v", code, out)
	}
	if code, out := post(t, w.token, f, dpopProof(t, w.cam.Signer, http.MethodPost, w.token, nil)); code != 400 || out["error"] != oauth.ErrInvalidGrant {
		t.Fatalf("the assertion again: %d %v", code, out)
	}
}

// TestOAuthAnonymousLoadDoesNotDenyDevices: assertions that do not verify
// spend nothing: a flood of forgeries naming the camera, one of them with
// the jti of the camera's next assertion, leaves that assertion good (the
// replay cache keeps only what a device's signature vouches for, a
// bounded share per device).
func TestOAuthAnonymousLoadDoesNotDenyDevices(t *testing.T) {
	t.Parallel()
	w := newOAuthWorld(t)
	now := time.Now().Unix()
	cam := w.cam.DID.String()
	jti := randomJTI(t)
	forger := nodetest.NewKey(t, cose.AlgES256)
	for i := range 300 {
		j := randomJTI(t)
		if i == 0 {
			j = jti
		}
		forged := assertion(t, forger, w.cam.DID.WithFragment("k1").String(), map[string]any{"iss": cam, "sub": cam, "aud": w.token, "iat": now, "exp": now + 60, "jti": j})
		if code, out := post(t, w.token, url.Values{"grant_type": {oauth.GrantJWTBearer}, "assertion": {forged}, "resource": {w.svc.DID.String()}}, ""); code != 400 || out["error"] != oauth.ErrInvalidGrant {
			t.Fatalf("forgery %d: %d %v", i, code, out)
		}
	}
	good := assertion(t, w.cam.Signer, w.cam.DID.WithFragment("k1").String(), map[string]any{"iss": cam, "sub": cam, "aud": w.token, "iat": now, "exp": now + 60, "jti": jti})
	if code, out := post(t, w.token, url.Values{"grant_type": {oauth.GrantJWTBearer}, "assertion": {good}, "resource": {w.svc.DID.String()}}, ""); code != 200 {
		t.Fatalf("the camera after the flood: %d %v", code, out)
	}
}

// TestOAuthTokenKeyPublication: the node publishes its token key on
// start by read-modify-write of the provider's publication: the CA
// certificates published meanwhile stay, and a new token key (the old
// one removed from the home) is published beside the old one.
func TestOAuthTokenKeyPublication(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	w := &oauthWorld{}
	first := w.waitPublished(t, h.Client, h.Provider.DID)
	// The node's publications at start settle: its token key and its
	// X.509 CA, each published keeping the other.
	settle := func(done func(*sdk.PublicationView) bool) *sdk.ProviderView {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		for {
			p, err := h.Client.Provider(ctx, h.Provider.DID.String())
			if err == nil && p.Publication != nil && done(p.Publication) {
				return p
			}
			if ctx.Err() != nil {
				t.Fatalf("publication: %+v %v", p, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	p := settle(func(pub *sdk.PublicationView) bool { return len(pub.TokenKeys) == 1 && len(pub.CA) == 1 })
	nodeCA := p.Publication.CA[0]
	// Another publisher (the X.509 CA) publishes a CA certificate, keeping
	// the token key.
	_, caKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
		BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := keyfile.Load(node.TokenKeyPath(h.Home))
	if err != nil {
		t.Fatal(err)
	}
	old := op.KeyFrom(node.TokenKeyID(tk.Public()), tk.Public())
	nodeDER, err := base64.StdEncoding.DecodeString(nodeCA)
	if err != nil {
		t.Fatal(err)
	}
	h.MustSubmit(h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypePublish, Publish: &op.Publish{
		Provider: h.Provider.DID.String(), Version: p.Publication.Version, CA: [][]byte{nodeDER, der}, TokenKeys: []op.Key{old}}}))
	// A new token key: restart without the old file.
	h.Stop()
	if err := os.Remove(node.TokenKeyPath(h.Home)); err != nil {
		t.Fatal(err)
	}
	h.Restart()
	pub := settle(func(pub *sdk.PublicationView) bool { return len(pub.TokenKeys) == 2 }).Publication
	if !slices.Contains(pub.CA, base64.StdEncoding.EncodeToString(der)) || !slices.Contains(pub.CA, nodeCA) ||
		h.Provider.DID.WithFragment(pub.TokenKeys[0].ID).String() != first || pub.TokenKeys[1].ID == pub.TokenKeys[0].ID {
		t.Fatalf("after the new token key: %+v", pub)
	}
	info, err := os.Stat(node.TokenKeyPath(h.Home))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("token key file: %v %v", info, err)
	}
}

// TestOAuthDefaultIssuerOffLoopback: a provider's node that listens
// beyond loopback, with no oauth.issuer, starts (an authorization
// server is a feature of the node, not a condition of running it) and
// serves no metadata until an https issuer is configured.
func TestOAuthDefaultIssuerOffLoopback(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	cfg := node.Test(home)
	if _, err := node.Init(cfg); err != nil {
		t.Fatal(err)
	}
	cfg.HTTP = "0.0.0.0:0"
	n, err := node.Start(cfg, nodetest.Logger(t))
	if err != nil {
		t.Fatalf("the node did not start: %v", err)
	}
	t.Cleanup(func() { _ = n.Close() })
	_, port, err := net.SplitHostPort(n.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://127.0.0.1:" + port + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("metadata without an issuer: %d", resp.StatusCode)
	}
}

// TestOAuthForeignAssertions: assertions as other implementations make
// them (RFC 7523 section 3, RFC 7519, RFC 7515): claims bias does not
// read, no iat, a fractional exp, typ in lower case, no kid, header
// members bias does not read; and a crit header refused.
func TestOAuthForeignAssertions(t *testing.T) {
	t.Parallel()
	w := newOAuthWorld(t)
	svc := w.svc.DID.String()
	id := w.cam.DID.String()
	kid := w.cam.DID.WithFragment("k1").String()
	raw := func(header, claims map[string]any) string {
		enc := func(v any) string {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			return base64.RawURLEncoding.EncodeToString(b)
		}
		in := enc(header) + "." + enc(claims)
		sig, err := w.cam.Signer.SignMessage([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		return in + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	alg := w.cam.Signer.Public().Alg().String()
	for name, c := range map[string]struct {
		header map[string]any
		claims func(now int64) map[string]any
		ok     bool
	}{
		"other-claims": {map[string]any{"alg": alg, "typ": "JWT", "kid": kid}, func(now int64) map[string]any {
			return map[string]any{"iss": id, "sub": id, "aud": w.token, "iat": now, "exp": now + 60, "jti": randomJTI(t), "scope": "x", "admin": true}
		}, true},
		"no-iat-fractional-exp": {map[string]any{"alg": alg, "kid": kid}, func(now int64) map[string]any {
			return map[string]any{"iss": id, "sub": id, "aud": w.token, "exp": float64(now) + 60.5, "jti": randomJTI(t)}
		}, true},
		"typ-lower-case-other-header-members": {map[string]any{"alg": alg, "typ": "jwt", "kid": kid, "x5t": "abc", "cty": "text"}, func(now int64) map[string]any {
			return map[string]any{"iss": id, "sub": id, "aud": w.token, "iat": now, "exp": now + 60, "jti": randomJTI(t)}
		}, true},
		"no-kid": {map[string]any{"alg": alg}, func(now int64) map[string]any {
			return map[string]any{"iss": id, "sub": id, "aud": w.token, "iat": now, "exp": now + 60, "jti": randomJTI(t)}
		}, true},
		"fail/crit": {map[string]any{"alg": alg, "kid": kid, "crit": []string{"exp"}}, func(now int64) map[string]any {
			return map[string]any{"iss": id, "sub": id, "aud": w.token, "iat": now, "exp": now + 60, "jti": randomJTI(t)}
		}, false},
		"fail/no-iat-far-exp": {map[string]any{"alg": alg, "kid": kid}, func(now int64) map[string]any {
			return map[string]any{"iss": id, "sub": id, "aud": w.token, "exp": now + 3600, "jti": randomJTI(t)}
		}, false},
	} {
		t.Run(name, func(t *testing.T) {
			f := url.Values{"grant_type": {oauth.GrantJWTBearer}, "assertion": {raw(c.header, c.claims(time.Now().Unix()))}, "resource": {svc}}
			code, out := post(t, w.token, f, "")
			if c.ok && code != 200 {
				t.Fatalf("refused: %d %v", code, out)
			}
			if !c.ok && (code != 400 || out["error"] != oauth.ErrInvalidGrant) {
				t.Fatalf("got %d %v, want invalid_grant", code, out)
			}
		})
	}
}

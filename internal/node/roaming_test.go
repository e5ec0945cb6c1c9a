package node_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/keyfile"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// TestRoamingTestnet is TestRoaming (internal/access) on a real network
// of four validators, each run by its operator: a car of operator A
// (node 0) roams to operator B's MEC service at B's node (node 1) and
// discloses only its subscription, on which B's access contract admits
// it; operator C's service at C's node (node 2) asks nothing and gets a
// plain proof; a car whose subscription B's contract does not admit is
// refused by it; once A revokes the credential at its own node, B's
// node refuses the car's next authentication as soon as it has the
// block, while C still admits it.
func TestRoamingTestnet(t *testing.T) {
	t.Parallel()
	nodes, clients := startNet(t, "roamnet", 4, 0)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	waitFor(ctx, t, "the network to start", func() bool {
		provs, err := clients[0].Providers(ctx)
		return err == nil && len(provs) == 4
	})
	ops := make([]roamOperator, 3)
	for i := range ops {
		s, err := keyfile.Load(nodes[i].AdminKey)
		if err != nil {
			t.Fatal(err)
		}
		ops[i] = roamOperator{id: did.MustParse(nodes[i].ProviderDID), admin: s, c: clients[i]}
	}
	a, b, c := ops[0], ops[1], ops[2]
	// synced waits until every node has the block of res.
	synced := func(res *sdk.SubmitResult) {
		t.Helper()
		waitFor(ctx, t, "every node at the block", func() bool {
			for _, cl := range clients {
				if st, err := cl.Status(ctx); err != nil || st.Height < res.Height {
					return false
				}
			}
			return true
		})
	}

	// A's node published A's token key on its own at start.
	tokenKey, err := keyfile.Load(node.TokenKeyPath(nodes[0].Config.Home))
	if err != nil {
		t.Fatal(err)
	}
	kid := node.TokenKeyID(tokenKey.Public())
	waitFor(ctx, t, "A's token key on the ledger", func() bool {
		p, err := a.c.Provider(ctx, a.id.String())
		return err == nil && p.Publication != nil && slices.ContainsFunc(p.Publication.TokenKeys, func(k sdk.KeyView) bool { return k.ID == kid })
	})
	attrs := map[string]string{"subscription": "roaming-premium", "owner": "Ada Lovelace", "firmware": "7.1.0", "area": "lyon-3"}
	car, carKey := a.register(ctx, t, op.KindDevice)
	credID, cred := a.issue(t, tokenKey, kid, car, attrs)
	basic, basicKey := a.register(ctx, t, op.KindDevice)
	_, basicCred := a.issue(t, tokenKey, kid, basic, map[string]string{"subscription": "basic", "owner": "Charles Babbage", "firmware": "7.1.0"})

	// B's MEC service admits roaming cars with a premium subscription.
	b.submit(ctx, t, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{Provider: b.id.String(), Name: "mec", Kind: op.ContractAccess,
		Source: `device.provider != "` + b.id.String() + `" && device.disclosed.subscription == "roaming-premium"`}})
	mecID, mecKey := b.register(ctx, t, op.KindService)
	b.bind(ctx, t, mecID, mecKey, b.id.String()+"/mec")
	// C's service asks nothing and binds no contract.
	svcID, svcKey := c.register(ctx, t, op.KindService)
	st, err := c.c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	synced(&sdk.SubmitResult{Height: st.Height})

	mec := startRoamSite(t, &sdk.Service{Signer: mecKey, Kid: mecID.WithFragment("k1"), View: sdk.View{C: b.c}, Node: b.c,
		Encoding: authn.COSE, TokenTTL: time.Minute, Asks: []authn.ClaimRequest{{Required: []string{"subscription"}}}})
	open := startRoamSite(t, &sdk.Service{Signer: svcKey, Kid: svcID.WithFragment("k1"), View: sdk.View{C: c.c}, Node: c.c,
		Encoding: authn.COSE, TokenTTL: time.Minute})
	premium := &sdk.Device{Signer: carKey, Kid: car.WithFragment("k1"), Credential: cred}
	economy := &sdk.Device{Signer: basicKey, Kid: basic.WithFragment("k1"), Credential: basicCred}
	leaks := func(what string, b []byte, except string) {
		t.Helper()
		for k, v := range attrs {
			if k != except && bytes.Contains(b, []byte(v)) {
				t.Fatalf("%s holds the car's %s", what, k)
			}
		}
	}

	// At B: the subscription, verified, and nothing else.
	v := mec.visit(t, premium)
	if v.code != http.StatusOK || !v.dec.OK || !maps.Equal(v.dec.Disclosed, map[string]string{"subscription": "roaming-premium"}) ||
		!slices.Equal(v.dec.Contract, []string{b.id.String() + "/mec@1"}) {
		t.Fatalf("B's MEC: %d %s %+v", v.code, v.reason, v.dec)
	}
	if v.proof.Presentation == nil || !bytes.Contains(v.raw, []byte("roaming-premium")) {
		t.Fatal("B's MEC got no presentation of the subscription")
	}
	leaks("the proof to B", v.raw, "subscription")
	if v.token == "" {
		t.Fatal("B's MEC issued no session token")
	}
	claims := jwtClaims(t, v.token)
	leaks("B's session token", claims, "")
	if bytes.Contains(claims, []byte("disclosed")) {
		t.Fatalf("B's session token carries a disclosed value: %s", claims)
	}
	// At C: a plain proof, as before credentials existed.
	v = open.visit(t, premium)
	if v.code != http.StatusOK || !v.dec.OK || v.dec.Disclosed != nil || v.proof.Presentation != nil || v.dec.Device != car.String() {
		t.Fatalf("C's service: %d %s %+v (presentation %v)", v.code, v.reason, v.dec, v.proof.Presentation != nil)
	}
	leaks("the proof to C", v.raw, "")
	// B's contract decides on the value: a basic subscription is refused.
	if v = mec.visit(t, economy); v.code != http.StatusUnauthorized || v.reason != authn.FailContractDenied {
		t.Fatalf("a basic subscription at B's MEC: %d %s", v.code, v.reason)
	}

	// A revokes the credential at its own node; B's node refuses the car
	// once it has the block.
	rev := a.submit(ctx, t, op.Payload{Type: op.TypeCredentialStatus, Credential: &op.CredentialStatus{Provider: a.id.String(), ID: credID}})
	waitFor(ctx, t, "B's node at the revocation", func() bool {
		st, err := b.c.Status(ctx)
		return err == nil && st.Height >= rev.Height
	})
	if v = mec.visit(t, premium); v.code != http.StatusUnauthorized || v.reason != authn.FailCredentialRevoked {
		t.Fatalf("after A revoked the credential, at B: %d %s", v.code, v.reason)
	}
	// C never relied on the credential: the car's registration stands.
	synced(rev)
	if v = open.visit(t, premium); v.code != http.StatusOK || !v.dec.OK {
		t.Fatalf("after the revocation, at C: %d %s %+v", v.code, v.reason, v.dec)
	}
}

// roamOperator is a genesis operator of a testnet: its provider DID, the
// admin key of its node's home, and a client of its node.
type roamOperator struct {
	id    did.DID
	admin cose.Signer
	c     *sdk.Client
}

// submit signs p with the operator's admin key and submits it at its node.
func (o roamOperator) submit(ctx context.Context, t *testing.T, p op.Payload) *sdk.SubmitResult {
	t.Helper()
	p.Network = o.id.Network
	tx, err := op.Sign(o.admin, o.id.WithFragment(node.AdminKeyID), p)
	if err != nil {
		t.Fatal(err)
	}
	res, err := o.c.Submit(ctx, tx)
	if err != nil {
		t.Fatalf("%s by %s: %v", p.Type, o.id, err)
	}
	return res
}

// register registers an entity of kind under the operator, with an ES256
// key "k1", and validates it.
func (o roamOperator) register(ctx context.Context, t *testing.T, kind string) (did.DID, cose.Signer) {
	t.Helper()
	s := nodetest.NewKey(t, cose.AlgES256)
	tx, id, err := op.SignRegister(s, "k1", op.Payload{Network: o.id.Network, Register: &op.Register{Kind: kind, Provider: o.id.String(),
		Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.c.Submit(ctx, tx); err != nil {
		t.Fatal(err)
	}
	o.submit(ctx, t, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: id.String(), Version: 1}})
	return id, s
}

// bind binds a service the operator registered to the access contract ref.
func (o roamOperator) bind(ctx context.Context, t *testing.T, id did.DID, s cose.Signer, ref string) {
	t.Helper()
	o.submit(ctx, t, op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: id.String(), Version: 2,
		Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}, Access: []string{ref}}}})
}

// issue issues dev an SD-CWT of attrs, off the ledger, signed with the
// token key kid that the operator publishes, as `bias provider
// credential issue --form cose` does.
func (o roamOperator) issue(t *testing.T, tokenKey cose.Signer, kid string, dev did.DID, attrs map[string]string) (string, *authn.Credential) {
	t.Helper()
	tok, id, err := authn.IssueCredentialCWT(tokenKey, kid, o.id, dev, attrs, time.Now().Unix(), 3600, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := authn.ParseCredentialCWT(tok)
	if err != nil {
		t.Fatal(err)
	}
	return id, cred
}

// roamSite is a service behind sdk.Service.Middleware over HTTP.
type roamSite struct {
	svc  *sdk.Service
	url  string
	seen chan authn.Decision
}

func startRoamSite(t *testing.T, svc *sdk.Service) *roamSite {
	t.Helper()
	s := &roamSite{svc: svc, seen: make(chan authn.Decision, 1)}
	srv := httptest.NewServer(svc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, _ := sdk.DecisionFrom(r.Context())
		s.seen <- d
		_, _ = io.WriteString(w, "welcome")
	})))
	t.Cleanup(srv.Close)
	svc.URL, s.url = srv.URL, srv.URL
	return s
}

// roamVisit is what one visit shows: the answer, the decision the
// handler saw, and the proof the device sent.
type roamVisit struct {
	code   int
	reason authn.Reason // of a refusal
	dec    authn.Decision
	raw    []byte // the proof
	proof  *authn.Proof
	token  string
}

// visit has dev request the site through a new sdk.Transport (so that
// it authenticates with a proof, not a session token), checking the
// service's challenge at the service's node.
func (s *roamSite) visit(t *testing.T, dev *sdk.Device) roamVisit {
	t.Helper()
	dev.View = s.svc.View
	tap := &proofTap{}
	tr := &sdk.Transport{Device: dev, Base: tap}
	resp, err := (&http.Client{Transport: tr}).Get(s.url + "/roam")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	v := roamVisit{code: resp.StatusCode, raw: tap.proof, token: tr.Token()}
	if _, rest, ok := strings.Cut(resp.Header.Get("WWW-Authenticate"), `error="`); ok {
		v.reason = authn.Reason(strings.TrimSuffix(rest, `"`))
	}
	if resp.StatusCode == http.StatusOK {
		v.dec = <-s.seen
	}
	if tap.proof == nil {
		t.Fatalf("%s: the device sent no proof", s.url)
	}
	if v.proof, _, err = authn.DecodeProof(tap.proof, s.url); err != nil {
		t.Fatal(err)
	}
	return v
}

// proofTap records the proof a request carries.
type proofTap struct{ proof []byte }

func (p *proofTap) RoundTrip(r *http.Request) (*http.Response, error) {
	if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), sdk.AuthScheme+` proof="`); ok {
		b, err := authn.DecodeText(strings.TrimSuffix(v, `"`))
		if err != nil {
			return nil, err
		}
		p.proof = b
	}
	return http.DefaultTransport.RoundTrip(r)
}

// jwtClaims is the decoded claims of a JWT.
func jwtClaims(t *testing.T, tok string) []byte {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

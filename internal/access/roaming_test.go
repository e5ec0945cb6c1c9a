package access_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/access"
	"github.com/bias-iot/bias/internal/ledger/memledger"
	"github.com/bias-iot/bias/internal/registry"
	"github.com/bias-iot/bias/internal/resolver"
	"github.com/bias-iot/bias/internal/state/statetest"
	"github.com/bias-iot/bias/op"
)

// operator is a genesis provider of the roaming test and its admin key.
type operator struct {
	id    did.DID
	admin cose.Signer
}

func (o operator) sign(t *testing.T, p op.Payload) []byte {
	t.Helper()
	p.Network = "local"
	tx, err := op.Sign(o.admin, o.id.WithFragment("admin-1"), p)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestRoaming: a car of operator A roams to operator B's MEC service and
// discloses only its subscription; B's access contract admits it on that
// value; operator C's service asks nothing and learns nothing more than
// the car's DID; once A revokes the credential, B refuses the car's next
// authentication. Three providers, one ledger, the node's decision.
func TestRoaming(t *testing.T) {
	const network = "local"
	ops := map[string]operator{}
	var gps []registry.GenesisProvider
	for _, name := range []string{"operator-a", "operator-b", "operator-c"} {
		s, _, err := cose.GenerateKey(cose.AlgEdDSA)
		if err != nil {
			t.Fatal(err)
		}
		gp := registry.GenesisProvider{Name: name, Keys: []op.Key{op.KeyFrom("admin-1", s.Public())}}
		id, err := registry.ProviderDID(network, gp)
		if err != nil {
			t.Fatal(err)
		}
		gps = append(gps, gp)
		ops[name] = operator{id: id, admin: s}
	}
	appState, _ := json.Marshal(registry.Genesis{Network: network, Providers: gps})
	app := registry.New(network, statetest.Open(t), slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})))
	l, err := memledger.New(app, network, appState, time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	submit := func(tx []byte) {
		t.Helper()
		r, err := l.Submit(t.Context(), tx)
		if err != nil || r.Code != 0 {
			t.Fatalf("refused: %v %+v", err, r)
		}
	}
	a, b, c := ops["operator-a"], ops["operator-b"], ops["operator-c"]
	register := func(o operator, kind string) (did.DID, cose.Signer) {
		s, _, err := cose.GenerateKey(cose.AlgES256)
		if err != nil {
			t.Fatal(err)
		}
		tx, id, err := op.SignRegister(s, "k1", op.Payload{Network: network, Register: &op.Register{Kind: kind, Provider: o.id.String(),
			Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}}}})
		if err != nil {
			t.Fatal(err)
		}
		submit(tx)
		submit(o.sign(t, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: id.String(), Version: 1}}))
		return id, s
	}
	bind := func(o operator, id did.DID, s cose.Signer, ref string) {
		submit(o.sign(t, op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: id.String(), Version: 2,
			Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}, Access: []string{ref}}}}))
	}
	// A publishes its credential key and issues its car a credential.
	tokenKey, _, _ := cose.GenerateKey(cose.AlgES256)
	submit(a.sign(t, op.Payload{Type: op.TypePublish, Publish: &op.Publish{Provider: a.id.String(), TokenKeys: []op.Key{op.KeyFrom("cred-1", tokenKey.Public())}}}))
	car, carKey := register(a, op.KindDevice)
	attrs := map[string]string{"subscription": "roaming-premium", "owner": "Ada Lovelace", "firmware": "7.1.0"}
	tok, credID, err := authn.IssueCredentialCWT(tokenKey, "cred-1", a.id, car, attrs, time.Now().Unix(), 3600, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := authn.ParseCredentialCWT(tok)
	if err != nil {
		t.Fatal(err)
	}
	// B's MEC service admits premium roaming subscriptions; C's asks nothing.
	submit(b.sign(t, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{Provider: b.id.String(), Name: "mec", Kind: op.ContractAccess,
		Source: `device.provider != "` + b.id.String() + `" && device.disclosed.subscription == "roaming-premium"`}}))
	mec, mecKey := register(b, op.KindService)
	bind(b, mec, mecKey, b.id.String()+"/mec")
	submit(c.sign(t, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{Provider: c.id.String(), Name: "open", Kind: op.ContractAccess, Source: `true`}}))
	svcC, svcCKey := register(c, op.KindService)
	bind(c, svcC, svcCKey, c.id.String()+"/open")

	d := access.New(resolver.New(l, network), app.Programs(), authn.NewMemorySpentSet(64))
	authenticate := func(svc did.DID, svcKey cose.Signer, ask authn.ClaimRequest) (authn.Decision, []byte) {
		t.Helper()
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		iss := authn.NewIssuer(svc.WithFragment("k1"), "coaps://mec.example", key, authn.NewMemorySpentSet(4))
		if err := iss.Ask(ask); err != nil {
			t.Fatal(err)
		}
		now := time.Now().Unix()
		ch, _ := iss.New(now, 60)
		chb, err := authn.SignChallenge(svcKey, ch, authn.COSE)
		if err != nil {
			t.Fatal(err)
		}
		// The car: it checks the challenge, then answers what it asks.
		got, dec := authn.VerifyChallenge(t.Context(), resolver.New(l, network), "coaps://mec.example", chb, now)
		if !dec.OK {
			t.Fatalf("the car refuses the challenge: %+v", dec)
		}
		p := &authn.Proof{Device: car, Kid: car.WithFragment("k1"), Service: got.Service, Origin: got.Origin, ServiceNonce: got.Nonce, DeviceNonce: make([]byte, authn.NonceLen), IssuedAt: now}
		if !got.Claims.Empty() {
			p.Presentation = cred.Present(got.Claims.Names())
		}
		pr, err := authn.SignProof(carKey, p, authn.COSE)
		if err != nil {
			t.Fatal(err)
		}
		dec, err = d.Verify(t.Context(), chb, pr, nil, now)
		if err != nil {
			t.Fatal(err)
		}
		return dec, pr
	}
	dec, pr := authenticate(mec, mecKey, authn.ClaimRequest{Required: []string{"subscription"}})
	if !dec.OK || len(dec.Disclosed) != 1 || dec.Disclosed["subscription"] != "roaming-premium" {
		t.Fatalf("B's MEC: %+v", dec)
	}
	for _, secret := range []string{"Ada Lovelace", "7.1.0"} {
		if bytes.Contains(pr, []byte(secret)) {
			t.Fatalf("B received %q", secret)
		}
	}
	dec, pr = authenticate(svcC, svcCKey, authn.ClaimRequest{})
	if !dec.OK || dec.Disclosed != nil || len(pr) > 200 || bytes.Contains(pr, []byte("roaming-premium")) {
		t.Fatalf("C's service: %+v (%d bytes)", dec, len(pr))
	}
	submit(a.sign(t, op.Payload{Type: op.TypeCredentialStatus, Credential: &op.CredentialStatus{Provider: a.id.String(), ID: credID}}))
	if dec, _ := authenticate(mec, mecKey, authn.ClaimRequest{Required: []string{"subscription"}}); dec.OK || dec.Reason != authn.FailCredentialRevoked {
		t.Fatalf("after A revoked the credential: %+v", dec)
	}
	// C, asking nothing, still admits the car: the credential is not its
	// business, the car's registration is.
	if dec, _ := authenticate(svcC, svcCKey, authn.ClaimRequest{}); !dec.OK {
		t.Fatalf("C after the revocation: %+v", dec)
	}
}

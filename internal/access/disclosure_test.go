package access_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/access"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/registry/registrytest"
	"github.com/bias-iot/bias/internal/resolver"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
	"github.com/bias-iot/bias/sdjwt"
)

// secrets are the car's private attributes: none may reach the ledger.
var secrets = map[string]string{"subscription": "gold-roaming-7f3a", "owner": "Ada Lovelace of Ockham", "firmware": "fw-9.8.7-secret"}

type sdWorld struct {
	c         *registrytest.Chain
	d         *access.Decider
	svc, bare registrytest.Entity // bare: a service bound to a contract that asks nothing
	car       registrytest.Entity
	cred      *authn.Credential
	id        string // the credential's id
	txs       [][]byte
	salts     []string
}

func (w *sdWorld) submit(t *testing.T, tx []byte) {
	t.Helper()
	w.txs = append(w.txs, tx)
	w.c.Submit(t, tx)
}

func newSDWorld(t *testing.T) *sdWorld {
	admin, _, err := cose.GenerateKey(cose.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	c := registrytest.New(t, admin, time.Now().UTC())
	w := &sdWorld{c: c, d: access.New(resolver.New(c.Ledger, registrytest.Network), c.App.Programs(), authn.NewMemorySpentSet(64))}
	// The provider publishes the key that signs its credentials.
	tokenKey, _, err := cose.GenerateKey(cose.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	w.submit(t, c.Sign(t, op.Payload{Type: op.TypePublish, Publish: &op.Publish{Provider: c.Provider.String(), TokenKeys: []op.Key{op.KeyFrom("cred-1", tokenKey.Public())}}}))
	// The policy names a class; the car's value is its own.
	gold := c.DeployAccess(t, "gold", `device.disclosed.subscription.startsWith("gold-")`)
	open := c.DeployAccess(t, "open", `device.provider != ""`)
	w.svc = c.Register(t, op.KindService)
	c.Bind(t, w.svc, 2, gold)
	w.bare = c.Register(t, op.KindService)
	c.Bind(t, w.bare, 2, open)
	w.car = c.Register(t, op.KindDevice)
	sd, id, err := authn.IssueCredential(tokenKey, "cred-1", c.Provider, w.car.DID, secrets, time.Now().Unix(), 3600, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if w.cred, err = authn.ParseCredential(sd); err != nil {
		t.Fatal(err)
	}
	w.id = id
	for _, d := range w.cred.Disclosures {
		w.salts = append(w.salts, d.Salt)
	}
	return w
}

// authenticate runs a challenge of svc asking ask, answered by the car
// with the disclosures asked, decided at the node.
func (w *sdWorld) authenticate(t *testing.T, svc registrytest.Entity, ask authn.ClaimRequest) authn.Decision {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	iss := authn.NewIssuer(svc.Kid(), "https://mec.operator-b.example", key, authn.NewMemorySpentSet(4))
	if err := iss.Ask(ask); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	c, err := iss.New(now, 60)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := authn.SignChallenge(svc.Signer, c, authn.JWS)
	if err != nil {
		t.Fatal(err)
	}
	p := &authn.Proof{Device: w.car.DID, Kid: w.car.Kid(), Service: svc.DID, Origin: c.Origin, ServiceNonce: c.Nonce, DeviceNonce: make([]byte, authn.NonceLen), IssuedAt: now}
	if !ask.Empty() {
		p.Presentation = w.cred.Present(ask.Names())
	}
	pr, err := authn.SignProof(w.car.Signer, p, authn.JWS)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range secrets {
		if !ask.Empty() && name == "subscription" {
			continue
		}
		if bytes.Contains(pr, []byte(v)) || strings.Contains(decodeAll(pr), v) {
			t.Fatalf("the proof carries %s, which was not asked", name)
		}
	}
	d, err := w.d.Verify(t.Context(), ch, pr, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// decodeAll is the text of every base64url part of a compact message.
func decodeAll(b []byte) string {
	var out strings.Builder
	for _, part := range strings.FieldsFunc(string(b), func(r rune) bool { return r == '~' || r == '.' }) {
		if d, err := sdjwt.ParseDisclosure(part); err == nil {
			out.WriteString(d.Encoded + string(d.Raw))
		}
	}
	return out.String()
}

// TestDisclosureFlow: the car discloses only its subscription to a
// service whose access contract admits on that value; a service asking
// nothing learns nothing more; after the provider revokes the credential,
// the next authentication is refused. Then the whole ledger state and
// every block are scanned: no disclosed value and no salt is in them.
func TestDisclosureFlow(t *testing.T) {
	w := newSDWorld(t)
	d := w.authenticate(t, w.svc, authn.ClaimRequest{Required: []string{"subscription"}})
	if !d.OK || len(d.Disclosed) != 1 || d.Disclosed["subscription"] != secrets["subscription"] {
		t.Fatalf("gold service: %+v", d)
	}
	if d := w.authenticate(t, w.bare, authn.ClaimRequest{}); !d.OK || d.Disclosed != nil {
		t.Fatalf("a service that asks nothing: %+v", d)
	}
	// The gold contract requires the claim: asked nothing, the car
	// discloses nothing, and the node names what is missing.
	if d := w.authenticate(t, w.svc, authn.ClaimRequest{}); d.OK || d.Reason != authn.FailClaimMissing {
		t.Fatalf("gold service asking nothing: %+v", d)
	}
	// The provider revokes the credential; the next authentication fails.
	w.submit(t, w.c.Sign(t, op.Payload{Type: op.TypeCredentialStatus, Credential: &op.CredentialStatus{Provider: w.c.Provider.String(), ID: w.id}}))
	if d := w.authenticate(t, w.svc, authn.ClaimRequest{Required: []string{"subscription"}}); d.OK || d.Reason != authn.FailCredentialRevoked {
		t.Fatalf("after revocation: %+v", d)
	}
	w.scan(t)
}

// scan reads every key of the state and every result of every block, and
// the transactions submitted, for the secret values and the salts.
func (w *sdWorld) scan(t *testing.T) {
	t.Helper()
	var blob bytes.Buffer
	for _, tx := range w.txs {
		blob.Write(tx)
	}
	keys := 0
	for b := range 256 {
		q, err := w.c.Ledger.Query(t.Context(), ledger.Query{Path: record.QueryPrefix, Data: []byte{byte(b)}})
		if err != nil || q.Code != 0 {
			t.Fatalf("prefix %x: %v %+v", b, err, q)
		}
		var page record.PrefixList
		if len(q.Value) > 0 {
			if err := op.Unmarshal(q.Value, &page); err != nil {
				t.Fatal(err)
			}
		}
		if len(page.Items) >= record.MaxPrefixResults {
			t.Fatalf("prefix %x holds more than a page", b)
		}
		for _, kv := range page.Items {
			keys++
			blob.Write(kv.Key)
			blob.Write(kv.Value)
		}
	}
	st, err := w.c.Ledger.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := w.c.Ledger.Watch(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	for h := int64(1); h <= st.Height; h++ {
		b := <-blocks
		for _, r := range b.Results {
			blob.Write(r.Data)
			blob.WriteString(r.Log)
			ev, _ := json.Marshal(r.Events)
			blob.Write(ev)
		}
	}
	if keys < 10 || blob.Len() < 1000 {
		t.Fatalf("scanned %d keys, %d bytes: too little to mean anything", keys, blob.Len())
	}
	if !bytes.Contains(blob.Bytes(), []byte(w.id)) {
		t.Fatal("the scan does not see the revoked credential's id: it reads too little")
	}
	for name, v := range secrets {
		if bytes.Contains(blob.Bytes(), []byte(v)) {
			t.Errorf("the ledger holds the value of %s", name)
		}
	}
	for _, s := range w.salts {
		if bytes.Contains(blob.Bytes(), []byte(s)) {
			t.Errorf("the ledger holds a salt")
		}
	}
	for _, d := range w.cred.Disclosures {
		if bytes.Contains(blob.Bytes(), []byte(d.Encoded)) || bytes.Contains(blob.Bytes(), []byte(d.Digest())) {
			t.Errorf("the ledger holds a disclosure or its digest")
		}
	}
	t.Logf("scanned %d keys and %d blocks (%d bytes)", keys, st.Height, blob.Len())
}

package sdk_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/keyfile"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// TestServiceDisclosure: an SDK service asks a claim; the device's
// Transport answers with its credential's disclosure of that claim only;
// the service verifies it against the ledger through its node (the
// provider's published token key, the credential's status) and hands the
// value to its handler; its session token carries no disclosed value;
// after the provider revokes the credential, the next authentication is
// refused with fail/credential-revoked.
func TestServiceDisclosure(t *testing.T) {
	h := nodetest.Start(t)
	var kid string
	for deadline := time.Now().Add(10 * time.Second); kid == ""; time.Sleep(20 * time.Millisecond) {
		if p, err := h.Client.Provider(t.Context(), h.Provider.DID.String()); err == nil && p.Publication != nil && len(p.Publication.TokenKeys) > 0 {
			kid = p.Publication.TokenKeys[len(p.Publication.TokenKeys)-1].ID
		}
		if time.Now().After(deadline) {
			t.Fatal("no token key published")
		}
	}
	tokenKey, err := keyfile.Load(node.TokenKeyPath(h.Home))
	if err != nil {
		t.Fatal(err)
	}
	svc := h.RegisterValidated(op.KindService, cose.AlgEdDSA)
	dev := h.RegisterValidated(op.KindDevice, cose.AlgES256)
	attrs := map[string]string{"subscription": "gold", "owner": "Ada Lovelace"}
	sd, credID, err := authn.IssueCredential(tokenKey, kid, h.Provider.DID, dev.DID, attrs, time.Now().Unix(), 3600, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := authn.ParseCredential(sd)
	if err != nil {
		t.Fatal(err)
	}
	view := sdk.View{C: h.Client}
	service := &sdk.Service{Signer: svc.Signer, Kid: svc.DID.WithFragment("k1"), View: view, TokenTTL: time.Minute,
		Asks: []authn.ClaimRequest{{Required: []string{"subscription"}}}}
	seen := make(chan authn.Decision, 4)
	srv := httptest.NewServer(service.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, _ := sdk.DecisionFrom(r.Context())
		seen <- d
		_, _ = io.WriteString(w, "welcome "+d.Disclosed["subscription"])
	})))
	t.Cleanup(srv.Close)
	service.URL = srv.URL
	device := &sdk.Device{Signer: dev.Signer, Kid: dev.DID.WithFragment("k1"), View: view, Credential: cred}
	get := func() (int, string, http.Header, *sdk.Transport) {
		tr := &sdk.Transport{Device: device}
		resp, err := (&http.Client{Transport: tr}).Get(srv.URL + "/charge")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), resp.Header, tr
	}
	code, body, _, tr := get()
	if code != http.StatusOK || body != "welcome gold" {
		t.Fatalf("%d %q", code, body)
	}
	if d := <-seen; len(d.Disclosed) != 1 || d.Disclosed["owner"] != "" {
		t.Fatalf("the handler saw %v", d.Disclosed)
	}
	tok := tr.Token()
	if tok == "" {
		t.Fatal("no session token")
	}
	parts := strings.Split(tok, ".")
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	if err := json.Unmarshal(claims, &m); err != nil || strings.Contains(string(claims), "gold") || strings.Contains(string(claims), "disclosed") {
		t.Fatalf("the session token carries a disclosed value: %s", claims)
	}
	// The node decides the same at POST /v1/authn/verify: the values go
	// to the caller that asked, and the node's decision stream, which any
	// client may follow, carries none.
	events, err := h.Client.Decisions(t.Context(), dev.DID.String(), "")
	if err != nil {
		t.Fatal(err)
	}
	ch, err := service.Challenge()
	if err != nil {
		t.Fatal(err)
	}
	proof, err := device.Answer(t.Context(), service.URL, ch)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := h.Client.Verify(t.Context(), ch, proof); err != nil || !d.OK || d.Disclosed["subscription"] != "gold" {
		t.Fatalf("the node's decision: %+v %v", d, err)
	}
	select {
	case ev := <-events:
		if !ev.Decision.OK || len(ev.Decision.Disclosed) != 0 {
			t.Fatalf("the decision stream: %+v", ev)
		}
		if b, _ := json.Marshal(ev); strings.Contains(string(b), "gold") || strings.Contains(string(b), "disclosed") {
			t.Fatalf("the decision stream carries a disclosed value: %s", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no decision on the stream")
	}
	// The provider revokes the credential.
	h.MustSubmit(h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeCredentialStatus,
		Credential: &op.CredentialStatus{Provider: h.Provider.DID.String(), ID: credID}}))
	code, _, hdr, _ := get()
	if code != http.StatusUnauthorized || !strings.Contains(hdr.Get("WWW-Authenticate"), string(authn.FailCredentialRevoked)) {
		t.Fatalf("after revocation: %d %s", code, hdr.Get("WWW-Authenticate"))
	}
}

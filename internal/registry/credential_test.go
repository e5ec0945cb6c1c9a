package registry_test

import (
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/registry/registrytest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// TestCredentialStatus: a provider's admin key revokes a credential by
// its opaque id, once; no one else may, and a malformed id is refused
// before the ledger is read.
func TestCredentialStatus(t *testing.T) {
	admin, _, err := cose.GenerateKey(cose.AlgES256) // a replay is another transaction of the same payload
	if err != nil {
		t.Fatal(err)
	}
	c := registrytest.New(t, admin, time.Now().UTC())
	dev := c.Register(t, op.KindDevice)
	const id = "AAECAwQFBgcICQoLDA0ODw" // 16 bytes
	body := func(id string) op.Payload {
		return op.Payload{Type: op.TypeCredentialStatus, Credential: &op.CredentialStatus{Provider: c.Provider.String(), ID: id}}
	}
	c.Submit(t, c.Sign(t, body(id)))
	q, err := c.Ledger.Query(t.Context(), ledger.Query{Path: record.QueryKey, Data: record.CredentialStatusKey(c.Provider.String(), id)})
	if err != nil || q.Value == nil {
		t.Fatalf("no status record: %v", err)
	}
	byDevice, err := op.Sign(dev.Signer, dev.Kid(), func() op.Payload { p := body("AAECAwQFBgcICQoLDA0OEA"); p.Network = registrytest.Network; return p }())
	if err != nil {
		t.Fatal(err)
	}
	for name, c2 := range map[string]struct {
		tx   []byte
		want op.Reason
	}{
		"fail/replayed":     {c.Sign(t, body(id)), op.ReasonReplayed},
		"fail/unauthorized": {byDevice, op.ReasonUnauthorized},
		"fail/short-id":     {c.Sign(t, body("AAEC")), op.ReasonInvalidField},
		"fail/padded-id":    {c.Sign(t, body("AAECAwQFBgcICQoLDA0ODw==")), op.ReasonInvalidField},
		"fail/not-base64":   {c.Sign(t, body("AAECAwQFBgcICQoLDA0O!w")), op.ReasonInvalidField},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := c.Ledger.Submit(t.Context(), c2.tx)
			if err != nil {
				t.Fatal(err)
			}
			if r.Code == 0 || op.Reason(r.Reason) != c2.want {
				t.Fatalf("got %q (%s), want %s", r.Reason, r.Log, c2.want)
			}
		})
	}
}

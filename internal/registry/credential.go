package registry

import (
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// credentialStatus revokes a credential a provider issued off the ledger,
// by its opaque id, signed by an admin key of the provider. A second
// revocation of one credential is refused as a replay.
func (x *executor) credentialStatus() (*outcome, error) {
	cs := x.s.Payload.Credential
	if x.s.Kid.Base().String() != cs.Provider {
		return nil, op.Reject(op.ReasonUnauthorized, "a credential's status is signed by an admin key of its provider")
	}
	if _, err := x.providerSigner(cs.Provider); err != nil {
		return nil, err
	}
	key := record.CredentialStatusKey(cs.Provider, cs.ID)
	cur, err := x.st.Get(key)
	if err != nil {
		return nil, err
	}
	if cur != nil {
		return nil, op.Reject(op.ReasonReplayed, "this credential is already revoked")
	}
	b, err := op.Marshal(record.CredentialStatus{Revoked: x.b.Time, Height: x.b.Height})
	if err != nil {
		return nil, err
	}
	return &outcome{
		writes: []write{{key, b}},
		result: record.Result{DID: cs.Provider},
		events: []ledger.Event{ledgerEvent(record.EventCredential, []record.Attr{{Key: "provider", Value: cs.Provider}, {Key: "id", Value: cs.ID}})},
	}, nil
}

package sdktest

import (
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
)

// RegisterDoc is Register with the registration's document changed by
// edit (which may add key-agreement keys, endpoints...), validated.
func (n *Node) RegisterDoc(t testing.TB, kind string, alg cose.Alg, edit func(*op.Document)) (did.DID, cose.Signer) {
	t.Helper()
	s := nodetest.NewKey(t, alg)
	p := n.h.RegisterPayload(kind, n.Provider, s)
	edit(&p.Register.Doc)
	tx, id := n.h.SignRegister(s, p)
	n.h.MustSubmit(tx)
	n.decide(t, op.TypeValidate, id)
	return id, s
}

// Admin returns the provider's admin key and its DID URL: for a test that
// acts as the provider (sealing data to its devices, say).
func (n *Node) Admin() (cose.Signer, did.DID) { return n.h.Provider.Signer, n.h.Provider.Kid }

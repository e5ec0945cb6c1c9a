// Package sdktest starts a real bias node in process (embedded CometBFT,
// state in a temp dir, HTTP on 127.0.0.1) for the tests of code that uses
// the SDK, with a provider whose admin key the test holds:
//
//	n := sdktest.Start(t)
//	svcDID, svcKey := n.Register(t, op.KindService, cose.AlgES256)
//	devDID, devKey := n.Register(t, op.KindDevice, cose.AlgEdDSA)
//	svc := &sdk.Service{Signer: svcKey, Kid: svcDID.WithFragment("k1"), View: n.View(), URL: "https://printer.example"}
package sdktest

import (
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// Node is a running test node.
type Node struct {
	h *nodetest.Harness
	// URL is the node's API base URL.
	URL string
	// Client talks to it.
	Client *sdk.Client
	// Network is its network id.
	Network string
	// Provider is its provider's DID; the test holds its admin key.
	Provider did.DID
}

// Start starts a node that stops when the test ends.
func Start(t testing.TB) *Node {
	t.Helper()
	h := nodetest.Start(t)
	return &Node{h: h, URL: h.Node.URL(), Client: h.Client, Network: h.Network, Provider: h.Provider.DID}
}

// View reads the ledger through the node.
func (n *Node) View() sdk.View { return sdk.View{C: n.Client} }

// Register registers an entity of kind with a new key "k1" and has the
// provider validate it; it returns the DID and the key.
func (n *Node) Register(t testing.TB, kind string, alg cose.Alg) (did.DID, cose.Signer) {
	t.Helper()
	e := n.h.RegisterValidated(kind, alg)
	return e.DID, e.Signer
}

// Revoke has the provider revoke an entity.
func (n *Node) Revoke(t testing.TB, id did.DID) { t.Helper(); n.decide(t, op.TypeRevoke, id) }

func (n *Node) decide(t testing.TB, typ string, id did.DID) {
	t.Helper()
	e := n.h.Entity(id)
	n.h.MustSubmit(n.h.Sign(n.h.Provider.Signer, n.h.Provider.Kid, op.Payload{Type: typ, Status: &op.Status{DID: id.String(), Version: e.Version}}))
}

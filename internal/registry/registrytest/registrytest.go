// Package registrytest runs the registry application over an in-memory
// ledger (memledger), for tests that need a real registry without
// consensus: one genesis provider whose admin key the test gives, the
// state in a temporary directory, everything closed at the test's end.
//
//	c := registrytest.New(t, adminKey, time.Now())
//	res, err := c.Ledger.Submit(ctx, tx)
package registrytest

import (
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/ledger/memledger"
	"github.com/bias-iot/bias/internal/registry"
	"github.com/bias-iot/bias/internal/state/statetest"
	"github.com/bias-iot/bias/op"
)

// Network is the chain's network.
const Network = "local"

// Chain is a registry over an in-memory ledger.
type Chain struct {
	Ledger   *memledger.Ledger
	App      *registry.App
	Provider did.DID // the genesis provider, "acme"
	Admin    cose.Signer
	Kid      did.DID // its admin key, #admin-1
}

// New starts a chain whose genesis provider has admin as its admin key,
// with block times from genesis on; the test's log shows warnings and
// errors.
func New(t testing.TB, admin cose.Signer, genesis time.Time) *Chain {
	t.Helper()
	gp := registry.GenesisProvider{Name: "acme", Keys: []op.Key{op.KeyFrom("admin-1", admin.Public())}}
	prov, err := registry.ProviderDID(Network, gp)
	if err != nil {
		t.Fatal(err)
	}
	appState, err := json.Marshal(registry.Genesis{Network: Network, Providers: []registry.GenesisProvider{gp}})
	if err != nil {
		t.Fatal(err)
	}
	st := statetest.Open(t)
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	app := registry.New(Network, st, log)
	l, err := memledger.New(app, Network, appState, genesis)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return &Chain{Ledger: l, App: app, Provider: prov, Admin: admin, Kid: prov.WithFragment("admin-1")}
}

// Entity is an entity the test registered, with its key "k1".
type Entity struct {
	DID    did.DID
	Signer cose.Signer
}

// Kid is the DID URL of the entity's key.
func (e Entity) Kid() did.DID { return e.DID.WithFragment("k1") }

// Submit submits tx and fails the test unless it applies.
func (c *Chain) Submit(t testing.TB, tx []byte) {
	t.Helper()
	r, err := c.Ledger.Submit(t.Context(), tx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Code != 0 {
		t.Fatalf("refused: %s: %s", r.Reason, r.Log)
	}
}

// Sign signs p with the provider's admin key.
func (c *Chain) Sign(t testing.TB, p op.Payload) []byte {
	t.Helper()
	p.Network = Network
	tx, err := op.Sign(c.Admin, c.Kid, p)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// Register registers an entity of kind with a new Ed25519 key and its
// public attributes (sorted by key), and has the provider validate it.
func (c *Chain) Register(t testing.TB, kind string, attrs ...op.Attr) Entity {
	t.Helper()
	s, _, err := cose.GenerateKey(cose.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	tx, id, err := op.SignRegister(s, "k1", op.Payload{Network: Network, Register: &op.Register{Kind: kind, Provider: c.Provider.String(),
		Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}, Attrs: attrs}}})
	if err != nil {
		t.Fatal(err)
	}
	c.Submit(t, tx)
	c.Submit(t, c.Sign(t, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: id.String(), Version: 1}}))
	return Entity{DID: id, Signer: s}
}

// DeployAccess deploys the provider's access contract name with source,
// admitting the services of binders too, and returns its reference.
func (c *Chain) DeployAccess(t testing.TB, name, source string, binders ...string) string {
	t.Helper()
	c.Submit(t, c.Sign(t, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{Provider: c.Provider.String(), Name: name,
		Kind: op.ContractAccess, Source: source, Binders: binders}}))
	return c.Provider.String() + "/" + name
}

// Bind has the provider bind service e (at version, its current one) to
// the access contracts refs.
func (c *Chain) Bind(t testing.TB, e Entity, version uint64, refs ...string) {
	t.Helper()
	c.Submit(t, c.Sign(t, op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: e.DID.String(), Version: version,
		Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", e.Signer.Public())}, Access: refs}}}))
}

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

package memledger_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/ledgertest"
	"github.com/bias-iot/bias/internal/ledger/memledger"
	"github.com/bias-iot/bias/internal/registry"
	"github.com/bias-iot/bias/internal/state"
	"github.com/bias-iot/bias/op"
)

const network = "local"

var genesisTime = time.Unix(1_700_000_000, 0).UTC()

// chain is a memledger over the registry application, with one genesis
// provider, and deterministic keys for the entities it registers.
type chain struct {
	t        *testing.T
	l        *memledger.Ledger
	provider did.DID
	n        int // entities registered so far
}

func newChain(t *testing.T) *chain {
	t.Helper()
	admin := key(t, "provider admin")
	gp := registry.GenesisProvider{Name: "acme", Keys: []op.Key{op.KeyFrom("admin-1", admin.Public())}}
	provider, err := registry.ProviderDID(network, gp)
	if err != nil {
		t.Fatal(err)
	}
	appState, err := json.Marshal(registry.Genesis{Network: network, Providers: []registry.GenesisProvider{gp}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	app := registry.New(network, st, slog.New(slog.NewTextHandler(t.Output(), nil)))
	l, err := memledger.New(app, network, appState, genesisTime)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &chain{t: t, l: l, provider: provider}
}

// key makes a deterministic Ed25519 signer named name.
func key(t *testing.T, name string) cose.Signer {
	t.Helper()
	seed := sha256.Sum256([]byte(name))
	s, err := cose.NewSigner(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// register signs the registration of a new device under the provider
// and returns it with the state key it writes.
func (c *chain) register(t *testing.T) (tx, key []byte) {
	t.Helper()
	c.n++
	s := keyN(t, c.n)
	p := op.Payload{Network: network, Register: &op.Register{
		Kind: op.KindDevice, Provider: c.provider.String(),
		Doc:   op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}},
		Nonce: fmt.Appendf(nil, "n%d", c.n),
	}}
	tx, id, err := op.SignRegister(s, "k1", p)
	if err != nil {
		t.Fatal(err)
	}
	return tx, registry.EntityKey(id.String())
}

func keyN(t *testing.T, n int) cose.Signer { return key(t, fmt.Sprintf("device %d", n)) }

// TestConformance runs the ledger conformance suite against memledger
// with the registry application.
func TestConformance(t *testing.T) {
	var c *chain
	ledgertest.Run(t, ledgertest.Fixture{
		New: func(t *testing.T) ledger.Ledger {
			c = newChain(t)
			return c.l
		},
		Network: network,
		Path:    registry.QueryKey,
		Valid:   func(t *testing.T) ([]byte, []byte) { return c.register(t) },
		Invalid: func(t *testing.T) []byte { return []byte("not an operation") },
	})
}

package evmledger_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/evmledger"
	"github.com/bias-iot/bias/internal/ledger/ledgertest"
)

const network = "local"

// newLedger starts an engine over a fresh kvApp.
func newLedger(t testing.TB, c *simChain, cfg evmledger.Config) *evmledger.Ledger {
	t.Helper()
	app, err := newKVApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = testLogger(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	l, err := evmledger.New(ctx, c.client, app, cfg)
	if err != nil {
		_ = app.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = l.Close()
		_ = app.Close()
	})
	return l
}

// TestConformance runs the ledger conformance suite on the EVM engine over
// a simulated chain that seals a block every 10 ms, with the test's
// key-value application.
func TestConformance(t *testing.T) {
	var n atomic.Int64
	ledgertest.Run(t, ledgertest.Fixture{
		New: func(t *testing.T) ledger.Ledger {
			key := fund(t, 1)
			c := newSimChain(t, 10*time.Millisecond, key)
			cfg := c.deploy(t, key)
			cfg.Key = key
			return newLedger(t, c, cfg)
		},
		Network: network,
		Valid: func(*testing.T) (tx, key []byte) {
			i := n.Add(1)
			return kvOp(fmt.Sprintf("k%d=v%d", i, i)), fmt.Appendf(nil, "k%d", i)
		},
		Path:         "/key",
		Invalid:      func(*testing.T) []byte { return []byte("no equals sign") },
		NoValidators: true,
	})
}

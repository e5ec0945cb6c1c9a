package cometledger_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/ledger/cometledger"
	"github.com/bias-iot/bias/internal/ledger/core"
	"github.com/bias-iot/bias/internal/registry"
	"github.com/bias-iot/bias/internal/state/statetest"
	"github.com/bias-iot/bias/op"
)

// TestDeterminismThroughCore: CometBFT's adapter adds nothing to the
// state. The blocks a real CometBFT node committed with the registry
// (their heights, times and operations, in order), applied by a fresh
// registry straight through core.App, as every engine drives it, give
// the app hash of every header the node made.
//
// With evmledger's TestDeterminism (the same operations and block times
// give the same roots through core on memledger and on the EVM engine),
// the same operations in the same order give the same roots on CometBFT
// and on the EVM engine when the block times are the same. A test cannot
// run both engines on the same times: CometBFT's block times are its
// validators' clocks, in nanoseconds, and an EVM block's are whole
// seconds; the registry's records keep the block time.
func TestDeterminismThroughCore(t *testing.T) {
	t.Parallel()
	const network = "determinism"
	admin, _, err := cose.GenerateKey(cose.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	gp := registry.GenesisProvider{Name: "acme", Keys: []op.Key{op.KeyFrom("admin-1", admin.Public())}}
	prov, err := registry.ProviderDID(network, gp)
	if err != nil {
		t.Fatal(err)
	}
	appState, err := json.Marshal(registry.Genesis{Network: network, Providers: []registry.GenesisProvider{gp}})
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	id, err := cometledger.InitKeys(home)
	if err != nil {
		t.Fatal(err)
	}
	vals := []cometledger.GenesisValidator{{Name: "a", PubKey: id.ValidatorPubKey, Power: 10}}
	if err := cometledger.WriteGenesis(home, network, time.Now(), vals, appState); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	l, err := cometledger.Start(cometledger.Config{Home: home, P2PListen: "tcp://127.0.0.1:0", Moniker: "a"},
		registry.New(network, statetest.Open(t), logger), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := l.WaitHeight(ctx, 1); err != nil {
		t.Fatal(err)
	}

	// Three waves of four registrations at once: blocks of several
	// operations, and empty proof blocks between them.
	txs := map[string][]byte{}
	var last int64
	for wave := range 3 {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 4 {
			s, _, err := cose.GenerateKey(cose.AlgEdDSA)
			if err != nil {
				t.Fatal(err)
			}
			tx, _, err := op.SignRegister(s, "k1", op.Payload{Network: network, Register: &op.Register{
				Kind: op.KindDevice, Provider: prov.String(),
				Doc:   op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}},
				Nonce: fmt.Appendf(nil, "w%d-%d", wave, i),
			}})
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				res, err := l.Submit(ctx, tx)
				if err != nil || res.Code != 0 {
					t.Errorf("submit: %+v %v", res, err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				txs[hex.EncodeToString(res.Hash)] = tx
				last = max(last, res.Height)
			})
		}
		wg.Wait()
	}
	if t.Failed() {
		t.FailNow()
	}
	last++ // the header that carries the root after the last operation
	if err := l.WaitHeight(ctx, last); err != nil {
		t.Fatal(err)
	}

	g, err := l.Header(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	app := registry.New(network, statetest.Open(t), logger)
	root, err := app.InitChain(ctx, core.Genesis{ChainID: network, Time: g.Time, AppState: appState,
		Validators: []core.ValidatorUpdate{{PubKey: id.ValidatorPubKey.Bytes(), Power: 10}}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(root, g.AppHash) {
		t.Fatalf("genesis root %X, CometBFT's block 1 carries %X", root, g.AppHash)
	}
	blocks, err := l.Watch(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	applied := 0
	for b := range blocks {
		if b.Height >= last {
			break
		}
		cb := core.Block{Height: b.Height, Time: b.Time}
		for _, r := range b.Results {
			tx, ok := txs[hex.EncodeToString(r.Hash)]
			if !ok {
				t.Fatalf("block %d holds an operation the test did not submit", b.Height)
			}
			cb.Txs = append(cb.Txs, tx)
		}
		applied += len(cb.Txs)
		res, err := app.ApplyBlock(ctx, cb)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res.TxResults {
			if r.Code != b.Results[i].Code {
				t.Fatalf("block %d op %d: code %d through core, %d on CometBFT", b.Height, i, r.Code, b.Results[i].Code)
			}
		}
		if _, err := app.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		next, err := l.Header(ctx, b.Height+1)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(res.AppHash, next.AppHash) {
			t.Fatalf("after block %d: root %X through core, CometBFT's header %d carries %X", b.Height, res.AppHash, b.Height+1, next.AppHash)
		}
	}
	if applied != len(txs) || applied != 12 {
		t.Fatalf("applied %d operations of %d", applied, len(txs))
	}
}

package evmledger_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/core"
	"github.com/bias-iot/bias/internal/ledger/evmledger"
	"github.com/bias-iot/bias/internal/registry"
	"github.com/bias-iot/bias/internal/state"
	"github.com/bias-iot/bias/proof"
	"github.com/bias-iot/bias/record"
)

// stateDir is a registry over the Merkle state in dir, that a test may
// close and open again.
type stateDir struct {
	t   testing.TB
	dir string
	st  *state.Store
	app *registry.App
}

func openState(t testing.TB, dir string) *stateDir {
	t.Helper()
	st, err := state.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := &stateDir{t: t, dir: dir, st: st}
	s.app = registry.New(network, st, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})))
	return s
}

func (s *stateDir) close() {
	if err := s.st.Close(); err != nil {
		s.t.Fatal(err)
	}
}

// start starts an engine over app with cfg; the caller closes it.
func start(t testing.TB, chain evmledger.Chain, app core.App, cfg evmledger.Config) *evmledger.Ledger {
	t.Helper()
	cfg.Logger = testLogger(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	l, err := evmledger.New(ctx, chain, app, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// watchN collects blocks 1 to to of l's Watch.
func watchN(t testing.TB, l ledger.Watcher, to int64) []ledger.Block {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	ch, err := l.Watch(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	var out []ledger.Block
	for b := range ch {
		out = append(out, b)
		if b.Height == to {
			return out
		}
	}
	t.Fatalf("watch ended at %d blocks, before %d", len(out), to)
	return nil
}

// sameBlocks fails unless a and b are the same blocks.
func sameBlocks(t testing.TB, a, b []ledger.Block) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d blocks and %d", len(a), len(b))
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Height != y.Height || !x.Time.Equal(y.Time) || len(x.Results) != len(y.Results) || len(x.Events) != len(y.Events) {
			t.Fatalf("block %d: %+v and %+v", x.Height, x, y)
		}
		for j := range x.Results {
			rx, ry := x.Results[j], y.Results[j]
			if string(rx.Hash) != string(ry.Hash) || rx.Code != ry.Code || rx.Reason != ry.Reason || rx.Height != ry.Height ||
				!slices.EqualFunc(rx.Events, ry.Events, func(e, f ledger.Event) bool { return e.Type == f.Type && slices.Equal(e.Attrs, f.Attrs) }) {
				t.Fatalf("block %d result %d: %+v and %+v", x.Height, j, rx, ry)
			}
		}
	}
}

// TestRestart: an engine with a DataDir, stopped and started again over
// the same state, serves the headers of the blocks before the restart
// (and a proof at one of them verifies against its header), replays
// every block to Watch(1), and goes on following and submitting, with the
// same roots as a node that never stopped.
func TestRestart(t *testing.T) {
	appState, prov := genesis(t)
	key := fund(t, 1)
	c := newSimChain(t, 10*time.Millisecond, key)
	cfg := c.deploy(t, key)
	cfg.AppState, cfg.Key, cfg.DataDir = appState, key, t.TempDir()
	sd := openState(t, t.TempDir())
	a := start(t, c.client, sd.app, cfg)
	tx1, key1 := register(t, prov, 1)
	r1, err := a.Submit(t.Context(), tx1)
	if err != nil || r1.Code != 0 {
		t.Fatalf("submit: %+v %v", r1, err)
	}
	waitHeight(t, a, r1.Height+3)
	before := watchN(t, a, r1.Height+3)
	h1, err := a.Header(t.Context(), r1.Height+1)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	sd.close()

	sd = openState(t, sd.dir)
	defer sd.close()
	b := start(t, c.client, sd.app, cfg)
	got, err := b.Header(t.Context(), r1.Height+1)
	if err != nil {
		t.Fatalf("a header from before the restart: %v", err)
	}
	if string(got.AppHash) != string(h1.AppHash) || !got.Time.Equal(h1.Time) || got.Network != network {
		t.Fatalf("header %d after the restart %+v, before %+v", r1.Height+1, got, h1)
	}
	q, err := b.Query(t.Context(), ledger.Query{Path: record.QueryKey, Data: key1, Height: r1.Height, Prove: true})
	if err != nil || q.Value == nil {
		t.Fatalf("query at %d: %+v %v", r1.Height, q, err)
	}
	if err := proof.Verify(got.AppHash, key1, q.Value, q.Proof); err != nil {
		t.Fatalf("a proof at %d against the stored header: %v", r1.Height, err)
	}
	if in, err := b.Inclusion(t.Context(), r1.Height, 0); err != nil || in.Height != r1.Height {
		t.Fatalf("inclusion of an operation before the restart: %+v %v", in, err)
	}
	sameBlocks(t, before, watchN(t, b, r1.Height+3))

	// It goes on: a new operation commits, and a node that never stopped
	// (a fresh follower) has the same root at every height.
	tx2, _ := register(t, prov, 2)
	r2, err := b.Submit(t.Context(), tx2)
	if err != nil || r2.Code != 0 {
		t.Fatalf("submit after the restart: %+v %v", r2, err)
	}
	fresh := follow(t, c, evmledger.Config{Network: network, Contract: cfg.Contract, AppState: appState, Poll: cfg.Poll})
	waitHeight(t, b, r2.Height+1)
	waitHeight(t, fresh, r2.Height+1)
	sameHeaders(t, b, fresh, r2.Height+1)

	// A data dir of another contract is refused.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	other := c.deploy(t, key)
	other.AppState, other.DataDir, other.Logger = appState, cfg.DataDir, testLogger(t)
	if _, err := evmledger.New(t.Context(), c.client, newRegistry(t), other); !errors.Is(err, evmledger.ErrDataDir) {
		t.Fatalf("fail/other-contract: %v, want ErrDataDir", err)
	}
}

// crashingApp is a kvApp whose Commit fails, once armed, at the first
// block with transactions: the process dies after the engine wrote the
// block and before the state committed it.
type crashingApp struct {
	*kvApp
	armed, crash atomic.Bool
}

func (a *crashingApp) ApplyBlock(ctx context.Context, b core.Block) (*core.BlockResult, error) {
	if a.armed.Load() && len(b.Txs) > 0 {
		a.crash.Store(true)
	}
	return a.kvApp.ApplyBlock(ctx, b)
}

func (a *crashingApp) Commit(ctx context.Context) (*core.CommitResult, error) {
	if a.crash.Load() {
		return nil, errors.New("crashed")
	}
	return a.kvApp.Commit(ctx)
}

// TestRestartAfterCrashBeforeCommit: the engine writes a block before
// the application commits it; a crash in between leaves the store one
// block ahead of the state, and the restart drops that block and applies
// it again, to the roots of a node that never crashed.
func TestRestartAfterCrashBeforeCommit(t *testing.T) {
	key := fund(t, 1)
	c := newSimChain(t, 10*time.Millisecond, key)
	cfg := c.deploy(t, key)
	cfg.Key, cfg.DataDir = key, t.TempDir()
	dir := t.TempDir()
	kv, err := newKVApp(dir)
	if err != nil {
		t.Fatal(err)
	}
	app := &crashingApp{kvApp: kv}
	a := start(t, c.client, app, cfg)
	if r, err := a.Submit(t.Context(), []byte("a=1")); err != nil || r.Code != 0 {
		t.Fatalf("submit: %+v %v", r, err)
	}
	app.armed.Store(true)
	if _, err := a.Submit(t.Context(), []byte("b=2")); err == nil || !app.crash.Load() {
		t.Fatalf("the crash did not come: %v", err)
	}
	crashed := a.Height() // the last block applied before the crash
	_ = a.Close()
	_ = kv.Close()

	kv, err = newKVApp(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = kv.Close() }()
	b := start(t, c.client, kv, cfg)
	defer func() { _ = b.Close() }()
	honest := newLedger(t, c, evmledger.Config{Network: network, Contract: cfg.Contract, Poll: cfg.Poll})
	waitHeight(t, b, crashed+2)
	waitHeight(t, honest, crashed+2)
	sameHeaders(t, b, honest, crashed+2)
	sameBlocks(t, watchN(t, b, crashed+2), watchN(t, honest, crashed+2))
	q, err := b.Query(t.Context(), ledger.Query{Path: "/key", Data: []byte("b")})
	if err != nil || string(q.Value) != "2" {
		t.Fatalf("the operation of the crashed block: %+v %v", q, err)
	}
}

// TestMemoryWindow: the engine holds at most MemoryBlocks blocks in
// memory whatever the chain's length, and serves the older ones from its
// store; with RetainBlocks it keeps only the latest, and a read below
// them is ledger.ErrNotFound.
func TestMemoryWindow(t *testing.T) {
	key := fund(t, 1)
	c := newSimChain(t, 0, key)
	cfg := c.deploy(t, key)
	cfg.MemoryBlocks = 8
	all := newLedger(t, c, cfg) // in memory only: the store is in memory too
	dcfg := cfg
	dcfg.DataDir, dcfg.RetainBlocks = t.TempDir(), 5
	retained := newLedger(t, c, dcfg)
	const n = 61 // the deployment block and 60 more
	for range n - 1 {
		c.seal()
	}
	waitHeight(t, all, n)
	waitHeight(t, retained, n)
	if m := all.InMemory(); m > 8 || m < 1 {
		t.Fatalf("%d blocks in memory after %d, want at most 8", m, n)
	}
	if m := retained.InMemory(); m > 5 {
		t.Fatalf("%d blocks in memory with RetainBlocks 5", m)
	}
	for h := int64(1); h <= n; h++ {
		if _, err := all.Header(t.Context(), h); err != nil {
			t.Fatalf("header %d: %v", h, err)
		}
	}
	if got := watchN(t, all, n); len(got) != n || got[0].Height != 1 {
		t.Fatalf("watch from 1: %d blocks", len(got))
	}
	if _, err := retained.Header(t.Context(), 1); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("fail/pruned-header: %v, want ErrNotFound", err)
	}
	if _, err := retained.Watch(t.Context(), 1); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("fail/pruned-watch: %v, want ErrNotFound", err)
	}
	if _, err := retained.Header(t.Context(), n-4); err != nil {
		t.Fatalf("a retained header: %v", err)
	}
	if _, err := retained.Header(t.Context(), n-5); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("fail/pruned-header: %v, want ErrNotFound", err)
	}
	if _, err := evmledger.New(t.Context(), c.client, newRegistry(t), evmledger.Config{Network: network, Contract: cfg.Contract, RetainBlocks: 1}); err == nil {
		t.Fatal("fail/retain-1: accepted")
	}
}

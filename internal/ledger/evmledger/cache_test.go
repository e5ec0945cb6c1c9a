package evmledger_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/evmledger"
	"github.com/bias-iot/bias/op"
)

// TestDuplicateCache: the duplicate cache keeps the latest CacheSize
// operations that committed here; one it forgot, submitted again, is
// refused by the registry's own replay rule, a result before any block.
func TestDuplicateCache(t *testing.T) {
	appState, prov := genesis(t)
	key := fund(t, 1)
	c := newSimChain(t, 10*time.Millisecond, key)
	cfg := c.deploy(t, key)
	cfg.Key, cfg.AppState, cfg.CacheSize = key, appState, 2
	l := follow(t, c, cfg)
	var txs [][]byte
	var last int64
	for i := 1; i <= 3; i++ {
		tx, _ := register(t, prov, i)
		r, err := l.Submit(t.Context(), tx)
		if err != nil || r.Code != 0 {
			t.Fatalf("submit %d: %+v %v", i, r, err)
		}
		txs, last = append(txs, tx), r.Height
	}
	if _, err := l.Submit(t.Context(), txs[2]); !errors.Is(err, ledger.ErrDuplicate) {
		t.Fatalf("fail/duplicate: %v, want ErrDuplicate", err)
	}
	r, err := l.Submit(t.Context(), txs[0])
	if err != nil || r.Height != 0 || r.Reason != string(op.ReasonReplayed) {
		t.Fatalf("fail/replayed: a forgotten operation again: %+v %v, want refused as replayed", r, err)
	}
	waitHeight(t, l, last+1) // the gas of the last anchor is counted
	if cached, waiting, inflight := l.Pending(); cached != 2 || waiting != 0 || inflight != 0 {
		t.Fatalf("cached %d, waiting %d, in flight %d; want 2, 0, 0", cached, waiting, inflight)
	}
}

// swallowFirst is an endpoint that takes the first transaction sent to
// it and never passes it on: an anchor transaction that never reaches a
// block.
type swallowFirst struct {
	evmledger.Chain
	done atomic.Bool
}

func (s *swallowFirst) SendTransaction(ctx context.Context, tx *types.Transaction) error {
	if s.done.CompareAndSwap(false, true) {
		return nil
	}
	return s.Chain.SendTransaction(ctx, tx)
}

// TestDropAfter: an anchor transaction that no final block takes within
// DropAfter blocks is forgotten, and its submitter gets ErrDropped and
// may submit again; meanwhile the same bytes are duplicates and more
// than MaxPending operations are refused as ledger.ErrFull.
func TestDropAfter(t *testing.T) {
	key := fund(t, 1)
	c := newSimChain(t, 10*time.Millisecond, key)
	cfg := c.deploy(t, key)
	cfg.Key, cfg.DropAfter, cfg.MaxPending = key, 20, 1
	app, err := newKVApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.Close() })
	l := start(t, &swallowFirst{Chain: c.client}, app, cfg)
	t.Cleanup(func() { _ = l.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	dropped := make(chan error, 1)
	go func() {
		_, err := l.Submit(ctx, []byte("a=1"))
		dropped <- err
	}()
	for {
		if _, waiting, inflight := l.Pending(); waiting == 1 && inflight == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := l.Submit(ctx, []byte("a=1")); !errors.Is(err, ledger.ErrDuplicate) {
		t.Fatalf("fail/duplicate-waiting: %v", err)
	}
	if _, err := l.Submit(ctx, []byte("b=2")); !errors.Is(err, ledger.ErrFull) {
		t.Fatalf("fail/full: %v", err)
	}
	if err := <-dropped; !errors.Is(err, evmledger.ErrDropped) {
		t.Fatalf("fail/dropped: %v, want ErrDropped", err)
	}
	if _, waiting, inflight := l.Pending(); waiting != 0 || inflight != 0 {
		t.Fatalf("after the drop: waiting %d, in flight %d", waiting, inflight)
	}
	if r, err := l.Submit(ctx, []byte("a=1")); err != nil || r.Code != 0 {
		t.Fatalf("submitted again: %+v %v", r, err)
	}
}

// minedNonce is an endpoint whose pending nonce leaves out the
// transactions in its pool, as a pool may report right after a new block.
type minedNonce struct {
	evmledger.Chain
	sim *simChain
}

func (m minedNonce) PendingNonceAt(ctx context.Context, a common.Address) (uint64, error) {
	return m.sim.sim.Client().NonceAt(ctx, a, nil)
}

// TestStalePendingNonce: two anchor transactions in one pool get nonces
// that follow on even when the endpoint reports the pending nonce of the
// last block: the second is not refused as an underpriced replacement.
func TestStalePendingNonce(t *testing.T) {
	key := fund(t, 1)
	c := newSimChain(t, 0, key) // a block only when the test seals one
	cfg := c.deploy(t, key)
	cfg.Key = key
	app, err := newKVApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.Close() })
	l := start(t, minedNonce{c.client, c}, app, cfg)
	t.Cleanup(func() { _ = l.Close() })
	results := make(chan error, 2)
	for i, tx := range []string{"a=1", "b=2"} {
		go func() {
			r, err := l.Submit(t.Context(), []byte(tx))
			if err == nil && r.Code != 0 {
				err = errors.New(r.Log)
			}
			results <- err
		}()
		for { // the anchor of this one is in the pool before the next
			n, err := c.sim.Client().PendingTransactionCount(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if _, waiting, _ := l.Pending(); n == uint(i+1) || waiting < i+1 {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	c.seal()
	for range 2 {
		if err := <-results; err != nil {
			t.Fatalf("an anchor of two in one pool: %v", err)
		}
	}
}

package evmledger_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/bias-iot/bias/internal/ledger/evmledger"
)

// capRange is an endpoint that refuses eth_getLogs over more than k
// blocks, as many public endpoints do.
type capRange struct {
	evmledger.Chain
	k                  int64
	refused, succeeded atomic.Int64
	regrown            atomic.Int64 // refusals after a success: the range grew back
	widest             atomic.Int64 // the widest range it answered
}

func (c *capRange) FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error) {
	n := q.ToBlock.Int64() - q.FromBlock.Int64() + 1
	if n > c.k {
		c.refused.Add(1)
		if c.succeeded.Load() > 0 {
			c.regrown.Add(1)
		}
		return nil, errors.New("block range too large")
	}
	c.succeeded.Add(1)
	for w := c.widest.Load(); n > w && !c.widest.CompareAndSwap(w, n); w = c.widest.Load() {
	}
	return c.Chain.FilterLogs(ctx, q)
}

// TestRangeCap: a follower whose endpoint refuses log ranges over 3
// blocks halves its range down to what the endpoint takes, grows it back
// after successes, and reaches the roots of a follower of an endpoint
// without a cap.
func TestRangeCap(t *testing.T) {
	key := fund(t, 1)
	c := newSimChain(t, 10*time.Millisecond, key)
	cfg := c.deploy(t, key)
	sub := cfg
	sub.Key = key
	a := newLedger(t, c, sub)
	for _, tx := range []string{"a=1", "b=2", "c=3"} {
		if r, err := a.Submit(t.Context(), []byte(tx)); err != nil || r.Code != 0 {
			t.Fatalf("submit %s: %+v %v", tx, r, err)
		}
	}
	waitHeight(t, a, 30)
	capped := &capRange{Chain: c.client, k: 3}
	app, err := newKVApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.Close() })
	l := start(t, capped, app, cfg)
	t.Cleanup(func() { _ = l.Close() })
	waitHeight(t, l, 30)
	sameHeaders(t, a, l, 30)
	if w := capped.widest.Load(); capped.refused.Load() == 0 || w < 2 || w > 3 || capped.regrown.Load() == 0 {
		t.Fatalf("refused %d ranges (%d after a success), widest answered %d: want refusals, then ranges of 2 or 3 blocks that grow back",
			capped.refused.Load(), capped.regrown.Load(), w)
	}
}

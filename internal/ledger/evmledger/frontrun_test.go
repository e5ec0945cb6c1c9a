package evmledger_test

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/core"
	"github.com/bias-iot/bias/internal/ledger/evmledger"
)

// depApp is kvApp where "b=1" fails (code 2, needs-a) unless "a=1" was
// applied before it: an operation that depends on an earlier one, as an
// update names the version a registration made.
type depApp struct{ *kvApp }

func (a depApp) ApplyBlock(_ context.Context, b core.Block) (*core.BlockResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	res := &core.BlockResult{}
	for _, tx := range b.Txs {
		k, v, ok := parseKV(tx)
		if !ok {
			res.TxResults = append(res.TxResults, core.TxResult{Code: 1, Reason: "malformed"})
			continue
		}
		if have, _ := a.st.Get([]byte("a")); string(k) == "b" && string(v) == "1" && have == nil {
			res.TxResults = append(res.TxResults, core.TxResult{Code: 2, Reason: "needs-a"})
			continue
		}
		if err := a.st.Set(k, v); err != nil {
			return nil, err
		}
		res.TxResults = append(res.TxResults, core.TxResult{})
	}
	res.AppHash = a.st.WorkingHash()
	return res, nil
}

type submitted struct {
	r   *ledger.Result
	err error
}

// submitSent submits tx in the background and returns once the pool of
// the chain holds want transactions (its anchor transaction is sent).
func submitSent(t *testing.T, c *simChain, l *evmledger.Ledger, tx []byte, want uint) <-chan submitted {
	t.Helper()
	done := make(chan submitted, 1)
	go func() { r, err := l.Submit(t.Context(), tx); done <- submitted{r, err} }()
	for {
		n, err := c.sim.Client().PendingTransactionCount(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if n >= want {
			return done
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func newDepLedger(t *testing.T, c *simChain, cfg evmledger.Config) *evmledger.Ledger {
	t.Helper()
	kv, err := newKVApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kv.Close() })
	cfg.Logger = testLogger(t)
	l, err := evmledger.New(t.Context(), c.client, depApp{kv}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// TestFrontRunnerCannotFailASubmission: someone who sees this node's
// anchor transactions in the pool copies the second operation (b=1,
// which needs a=1) into a batch of its own at a higher tip, so that the
// block orders its copy first, where it fails. This node's own batch
// then applies b=1 in the same block: its submitter is told code 0 (the
// result of its own transaction), not the failure of the copy.
func TestFrontRunnerCannotFailASubmission(t *testing.T) {
	owner, atk := fund(t, 1), fund(t, 9)
	c := newSimChain(t, 0, owner, atk)
	cfg := c.deploy(t, owner)
	cfg.Key = owner
	l := newDepLedger(t, c, cfg)

	a := submitSent(t, c, l, kvOp("a=1"), 1)
	b := submitSent(t, c, l, kvOp("b=1"), 2)
	batch, err := evmledger.EncodeBatch(evmledger.Batch{Network: network, Ops: [][]byte{kvOp("b=1")}})
	if err != nil {
		t.Fatal(err)
	}
	anchor, opts := c.poster(t, cfg.Contract, atk)
	opts.GasTipCap = big.NewInt(50e9)
	if _, err := anchor.Anchor(opts, batch); err != nil {
		t.Fatal(err)
	}
	c.seal()
	ra, rb := <-a, <-b
	if ra.err != nil || rb.err != nil {
		t.Fatalf("a: %v, b: %v", ra.err, rb.err)
	}
	blk := watchN(t, l, rb.r.Height)[rb.r.Height-1]
	if len(blk.Results) != 3 || blk.Results[0].Code != 2 {
		t.Fatalf("the copy was not ordered first, where it fails: %+v", blk.Results)
	}
	if ra.r.Code != 0 || rb.r.Code != 0 || rb.r.Index == 0 {
		t.Fatalf("a told code %d; b told code %d %q at index %d, want 0 from its own transaction", ra.r.Code, rb.r.Code, rb.r.Reason, rb.r.Index)
	}
}

// TestOwnFailureAnswers: an operation that fails in this node's own
// anchor transaction is answered with its failure, in full.
func TestOwnFailureAnswers(t *testing.T) {
	owner := fund(t, 1)
	c := newSimChain(t, 0, owner)
	cfg := c.deploy(t, owner)
	cfg.Key = owner
	l := newDepLedger(t, c, cfg)
	b := submitSent(t, c, l, kvOp("b=1"), 1)
	c.seal()
	rb := <-b
	if rb.err != nil || rb.r.Code != 2 || rb.r.Reason != "needs-a" || rb.r.Height == 0 {
		t.Fatalf("b told %+v, %v; want code 2 needs-a in a block", rb.r, rb.err)
	}
}

// Package ledgertest is the conformance suite of the ledger interface:
// every implementation (cometledger, memledger) must pass it. The suite is
// independent of the application: the caller supplies transactions that
// its application accepts and rejects, and the state key that an
// accepted transaction writes.
package ledgertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/proof"
)

// Fixture is what the suite needs of an implementation and its application.
type Fixture struct {
	// New starts a fresh ledger whose first block is committed.
	New func(t *testing.T) ledger.Ledger
	// Network is the ledger's network (chain id).
	Network string
	// Valid returns a new transaction that the application accepts; Key is
	// a state key it writes, Path the query path that reads a raw key.
	Valid func(t *testing.T) (tx, key []byte)
	Path  string
	// Invalid returns a transaction that the application rejects.
	Invalid func(t *testing.T) []byte
	// NoValidators: the engine has no validators of its own (evmledger:
	// the EVM chain orders, the nodes compute), so Status lists none.
	NoValidators bool
}

// Run runs the suite.
func Run(t *testing.T, f Fixture) {
	t.Run("SubmitCommits", func(t *testing.T) { submitCommits(t, f) })
	t.Run("SubmitRejects", func(t *testing.T) { submitRejects(t, f) })
	t.Run("DuplicateRefused", func(t *testing.T) { duplicate(t, f) })
	t.Run("ConcurrentSubmits", func(t *testing.T) { concurrent(t, f) })
	t.Run("QueryWithProof", func(t *testing.T) { queryProof(t, f) })
	t.Run("HeaderNotFound", func(t *testing.T) { headerNotFound(t, f) })
	t.Run("WatchReplaysAndFollows", func(t *testing.T) { watch(t, f) })
	t.Run("Status", func(t *testing.T) { status(t, f) })
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func submitCommits(t *testing.T, f Fixture) {
	l := f.New(t)
	tx, _ := f.Valid(t)
	r, err := l.Submit(ctx(t), tx)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(tx)
	if r.Code != 0 || r.Height < 1 || !bytes.Equal(r.Hash, h[:]) {
		t.Fatalf("result %+v: want code 0, a height and the tx hash", r)
	}
	if _, err := l.Header(ctx(t), r.Height); err != nil {
		t.Fatalf("no header for the result's height %d: %v", r.Height, err)
	}
}

func submitRejects(t *testing.T, f Fixture) {
	l := f.New(t)
	r, err := l.Submit(ctx(t), f.Invalid(t))
	if err != nil {
		t.Fatal(err)
	}
	if r.Code == 0 || r.Height != 0 || r.Reason == "" {
		t.Fatalf("result %+v: want a rejection before any block, with a reason", r)
	}
}

func duplicate(t *testing.T, f Fixture) {
	l := f.New(t)
	tx, _ := f.Valid(t)
	if _, err := l.Submit(ctx(t), tx); err != nil {
		t.Fatal(err)
	}
	r, err := l.Submit(ctx(t), tx)
	if !errors.Is(err, ledger.ErrDuplicate) && (err != nil || r.Code == 0) {
		t.Fatalf("second submission of the same bytes: %+v, %v; want ErrDuplicate or a rejection", r, err)
	}
}

func concurrent(t *testing.T, f Fixture) {
	l := f.New(t)
	const n = 40
	txs := make([][]byte, n)
	for i := range txs {
		txs[i], _ = f.Valid(t)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, tx := range txs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := l.Submit(ctx(t), tx)
			if err == nil && r.Code != 0 {
				err = errors.New(r.Reason + ": " + r.Log)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func queryProof(t *testing.T, f Fixture) {
	l := f.New(t)
	tx, key := f.Valid(t)
	r, err := l.Submit(ctx(t), tx)
	if err != nil || r.Code != 0 {
		t.Fatalf("submit: %+v %v", r, err)
	}
	q, err := l.Query(ctx(t), ledger.Query{Path: f.Path, Data: key, Height: r.Height, Prove: true})
	if err != nil {
		t.Fatal(err)
	}
	if q.Code != 0 || q.Value == nil || q.Height != r.Height || len(q.Proof) == 0 {
		t.Fatalf("query at %d: %+v", r.Height, q)
	}
	var hdr *ledger.Header
	for i := 0; i < 300 && hdr == nil; i++ {
		hdr, _ = l.Header(ctx(t), r.Height+1)
		if hdr == nil {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if hdr == nil {
		t.Fatalf("no header %d", r.Height+1)
	}
	if err := proof.Verify(hdr.AppHash, key, q.Value, q.Proof); err != nil {
		t.Fatalf("proof against header %d: %v", hdr.Height, err)
	}
	bad := append([]byte(nil), q.Value...)
	bad[0] ^= 0xff
	if proof.Verify(hdr.AppHash, key, bad, q.Proof) == nil {
		t.Fatal("a tampered value verified")
	}
	// Before the transaction's block the key did not exist.
	before, err := l.Query(ctx(t), ledger.Query{Path: f.Path, Data: key, Height: r.Height - 1})
	if err != nil || before.Value != nil {
		t.Fatalf("query before the block: %+v %v", before, err)
	}
	// Height 0 is the latest.
	latest, err := l.Query(ctx(t), ledger.Query{Path: f.Path, Data: key})
	if err != nil || latest.Height < r.Height || !bytes.Equal(latest.Value, q.Value) {
		t.Fatalf("latest query: %+v %v", latest, err)
	}
}

func headerNotFound(t *testing.T, f Fixture) {
	l := f.New(t)
	if _, err := l.Header(ctx(t), 1<<40); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("future header: %v, want ErrNotFound", err)
	}
}

func watch(t *testing.T, f Fixture) {
	l := f.New(t)
	var hashes [][]byte
	var last int64
	for i := 0; i < 3; i++ {
		tx, _ := f.Valid(t)
		r, err := l.Submit(ctx(t), tx)
		if err != nil || r.Code != 0 {
			t.Fatalf("submit: %+v %v", r, err)
		}
		hashes, last = append(hashes, r.Hash), r.Height
	}
	c, cancel := context.WithCancel(ctx(t))
	defer cancel()
	blocks, err := l.Watch(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	next := int64(1)
	for next <= last {
		b, ok := <-blocks
		if !ok {
			t.Fatal("watch closed early")
		}
		if b.Height != next {
			t.Fatalf("watch sent height %d, want %d", b.Height, next)
		}
		for _, r := range b.Results {
			seen[string(r.Hash)] = true
		}
		next++
	}
	for _, h := range hashes {
		if !seen[string(h)] {
			t.Fatalf("watch missed tx %x", h)
		}
	}
	// Resume from the last block and follow a new one.
	resumed, err := l.Watch(c, last)
	if err != nil {
		t.Fatal(err)
	}
	if b := <-resumed; b.Height != last {
		t.Fatalf("resumed watch starts at %d, want %d", b.Height, last)
	}
	tx, _ := f.Valid(t)
	r, err := l.Submit(ctx(t), tx)
	if err != nil || r.Code != 0 {
		t.Fatalf("submit: %+v %v", r, err)
	}
	for b := range resumed {
		for _, res := range b.Results {
			if bytes.Equal(res.Hash, r.Hash) {
				if b.Height != r.Height || res.Code != 0 {
					t.Fatalf("live block %d result %+v", b.Height, res)
				}
				cancel()
				return
			}
		}
	}
	t.Fatal("watch ended before the new transaction's block")
}

func status(t *testing.T, f Fixture) {
	l := f.New(t)
	st, err := l.Status(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Network != f.Network || st.Height < 1 || (len(st.Validators) == 0) != f.NoValidators || st.NodeID == "" {
		t.Fatalf("status %+v", st)
	}
}

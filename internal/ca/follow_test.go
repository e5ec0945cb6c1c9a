package ca

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// joinedWatcher is the Watch of a node that joined by state sync at
// height first-1: it holds no block below first.
type joinedWatcher struct {
	first int64
	mu    sync.Mutex
	asked []int64
}

func (w *joinedWatcher) Watch(ctx context.Context, from int64) (<-chan ledger.Block, error) {
	w.mu.Lock()
	w.asked = append(w.asked, from)
	w.mu.Unlock()
	if from < w.first {
		return nil, &ledger.PrunedError{From: from, First: w.first}
	}
	ch := make(chan ledger.Block)
	go func() { <-ctx.Done(); close(ch) }()
	return ch, nil
}

// TestFollowFromFirstHeld: on a node that holds no block 1 (it joined by
// state sync), Follow goes on from the first block the node holds instead
// of stopping; from a block it holds it asks once.
func TestFollowFromFirstHeld(t *testing.T) {
	home := t.TempDir()
	c, err := Ensure(home, did.New("local", []byte("p")).String(), "p")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{CA: c, View: fakeView{&record.Entity{Status: op.StatusValidated}}, Network: "local", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	for _, tc := range []struct {
		from  int64
		asked []int64
	}{{1, []int64{1, 40}}, {41, []int64{41}}} {
		w := &joinedWatcher{first: 40}
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		err := a.Follow(ctx, w, tc.from)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("from %d: Follow ended with %v, want it to follow until the context ends", tc.from, err)
		}
		w.mu.Lock()
		got := append([]int64(nil), w.asked...)
		w.mu.Unlock()
		if len(got) != len(tc.asked) || got[0] != tc.asked[0] || got[len(got)-1] != tc.asked[len(tc.asked)-1] {
			t.Errorf("from %d: watched from %v, want %v", tc.from, got, tc.asked)
		}
	}
}

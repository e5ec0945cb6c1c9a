package cometledger

import (
	"context"
	"log/slog"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
)

// TestPrepareProposalRefresh: a proposal whose time is stale gives way to
// an empty block, but never at two heights in a row, so that operations
// wait at most one extra block for this proposer however far its clock
// runs ahead; a fresh time, or no operations, leaves the proposal alone.
func TestPrepareProposalRefresh(t *testing.T) {
	const maxAge = 2 * time.Second
	stale, fresh := -time.Hour, -100*time.Millisecond
	type step struct {
		height int64
		age    time.Duration // of the proposal's time, against the clock
		txs    int
		want   int // operations proposed
	}
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"fresh", []step{{5, fresh, 2, 2}}},
		{"fresh/just-within", []step{{5, -maxAge + 50*time.Millisecond, 2, 2}}},
		{"stale/no-operations", []step{{5, stale, 0, 0}}},
		{"stale/refreshed-then-carried", []step{{5, stale, 2, 0}, {6, fresh, 2, 2}}},
		{"stale/clock-far-ahead-never-starves", []step{{5, stale, 2, 0}, {6, stale, 2, 2}, {7, stale, 2, 0}, {8, stale, 2, 2}}},
		{"stale/later-round-same-height", []step{{5, stale, 2, 0}, {5, stale, 2, 0}, {6, stale, 2, 2}}},
		{"stale/after-a-gap", []step{{5, stale, 2, 0}, {6, fresh, 2, 2}, {9, stale, 2, 0}}},
		{"future/clock-behind", []step{{5, time.Minute, 2, 2}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &shim{Application: abci.NewBaseApplication(), l: &Ledger{log: slog.New(slog.DiscardHandler)}, maxAge: maxAge}
			for i, st := range c.steps {
				txs := make([][]byte, st.txs)
				for j := range txs {
					txs[j] = []byte{byte(j)}
				}
				resp, err := s.PrepareProposal(context.Background(), &abci.RequestPrepareProposal{
					Height: st.height, Time: time.Now().Add(st.age), Txs: txs, MaxTxBytes: 1 << 20})
				if err != nil {
					t.Fatal(err)
				}
				if len(resp.Txs) != st.want {
					t.Fatalf("step %d (height %d): %d operations proposed, want %d", i, st.height, len(resp.Txs), st.want)
				}
			}
		})
	}
}

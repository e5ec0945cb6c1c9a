package cometledger_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bias-iot/bias/internal/ledger/cometledger"
	"github.com/bias-iot/bias/internal/ledger/core"
	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/internal/node/nodetest"
)

// gate accepts everything except the operation "T" while refuse is set:
// it stands for a peer that refused an operation it could not check yet.
type gate struct {
	acceptAll
	refuse atomic.Bool
}

func (g *gate) Check(_ context.Context, tx []byte) core.CheckResult {
	if g.refuse.Load() && string(tx) == "T" {
		return core.CheckResult{Code: 1, Log: "not yet"}
	}
	return core.CheckResult{}
}

// TestResendAfterRefusal: validator B (power 100 of 101, so it proposes
// and decides alone) refuses operation T when A gossips it, then would
// accept it. CometBFT's mempool gossips T to B once, and B, with nothing
// in its mempool and no empty blocks to make, never proposes: without
// re-sending, T waits forever at A. With it, A sends T again once no
// block has come for ResendAfter, and T commits.
func TestResendAfterRefusal(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		resend time.Duration
		commit bool
	}{
		{"without re-sending, the network stalls", time.Hour, false},
		{"re-sent, it commits", 500 * time.Millisecond, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			homes := []string{t.TempDir(), t.TempDir()}
			var ids []string
			var vals []cometledger.GenesisValidator
			for i, h := range homes {
				id, err := cometledger.InitKeys(h)
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id.NodeID)
				vals = append(vals, cometledger.GenesisValidator{Name: string(rune('a' + i)), PubKey: id.ValidatorPubKey, Power: []int64{1, 100}[i]})
			}
			genesisTime := time.Now()
			for _, h := range homes {
				if err := cometledger.WriteGenesis(h, "resend", genesisTime, vals, nil); err != nil {
					t.Fatal(err)
				}
			}
			port, err := node.FreePortBase("127.0.0.1", 2)
			if err != nil {
				t.Fatal(err)
			}
			addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(port+i) }
			b := &gate{}
			b.refuse.Store(true)
			var ls []*cometledger.Ledger
			for i, app := range []core.App{acceptAll{}, b} {
				l, err := cometledger.Start(cometledger.Config{Home: homes[i], Moniker: string(rune('a' + i)), P2PListen: "tcp://" + addr(i),
					PersistentPeers: ids[1-i] + "@" + addr(1-i), AllowDuplicateIP: true, TimeoutCommit: 10 * time.Millisecond,
					ResendAfter: c.resend}, app, nodetest.Logger(t).With("node", string(rune('a'+i))))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					if err := l.Close(); err != nil {
						t.Error(err)
					}
				})
				ls = append(ls, l)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			for _, l := range ls {
				if err := l.WaitHeight(ctx, 1); err != nil {
					t.Fatal(err)
				}
			}
			// B can check T a moment after A gossiped it.
			time.AfterFunc(300*time.Millisecond, func() { b.refuse.Store(false) })
			sctx, scancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer scancel()
			r, err := ls[0].Submit(sctx, []byte("T"))
			switch {
			case c.commit && (err != nil || r.Code != 0):
				t.Fatalf("T: %+v %v", r, err)
			case !c.commit && !errors.Is(err, context.DeadlineExceeded):
				t.Fatalf("T without re-sending: %+v %v (the stall this guards against did not happen)", r, err)
			}
		})
	}
}

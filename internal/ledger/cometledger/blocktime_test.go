package cometledger_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bias-iot/bias/internal/ledger/cometledger"
	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/internal/node/nodetest"
)

// idle is how long the networks below sit with no block before an
// operation comes: longer than the default MaxTimeLag.
const idle = 7 * time.Second

// maxLag is how far the time of an operation's block may lie behind the
// moment its commit was seen.
const maxLag = 3 * time.Second

// TestBlockTimeAfterIdle: a network that makes no empty blocks sits idle,
// then commits an operation. The operation's block carries a time within
// a few seconds of its commit, not the time of the last commit before the
// idle spell (BFT time: the median of that commit's precommits), for one
// validator and for four, whichever of them proposes.
func TestBlockTimeAfterIdle(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 4} {
		t.Run(fmt.Sprintf("validators=%d", n), func(t *testing.T) {
			t.Parallel()
			l := startNetwork(t, n)[0]
			time.Sleep(idle)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			r, err := l.Submit(ctx, []byte("an operation"))
			seen := time.Now()
			if err != nil || r.Code != 0 {
				t.Fatalf("submit: %+v %v", r, err)
			}
			h, err := l.Header(ctx, r.Height)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("block %d time %s, commit seen %s", r.Height, h.Time.Format(time.StampMilli), seen.Format(time.StampMilli))
			if lag := seen.Sub(h.Time); lag > maxLag || lag < 0 {
				t.Fatalf("block %d: its time lags the commit by %s", r.Height, lag)
			}
		})
	}
}

// startNetwork starts n equal validators on loopback, each with a base
// application, and waits for their first block.
func startNetwork(t *testing.T, n int) []*cometledger.Ledger {
	t.Helper()
	homes := make([]string, n)
	ids := make([]string, n)
	var vals []cometledger.GenesisValidator
	for i := range homes {
		homes[i] = t.TempDir()
		id, err := cometledger.InitKeys(homes[i])
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id.NodeID
		vals = append(vals, cometledger.GenesisValidator{Name: string(rune('a' + i)), PubKey: id.ValidatorPubKey, Power: 10})
	}
	genesis := time.Now()
	for _, h := range homes {
		if err := cometledger.WriteGenesis(h, "blocktime", genesis, vals, nil); err != nil {
			t.Fatal(err)
		}
	}
	port, err := node.FreePortBase("127.0.0.1", n)
	if err != nil {
		t.Fatal(err)
	}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(port+i) }
	ls := make([]*cometledger.Ledger, n)
	for i := range homes {
		var peers []string
		for j := range homes {
			if j != i {
				peers = append(peers, ids[j]+"@"+addr(j))
			}
		}
		name := string(rune('a' + i))
		l, err := cometledger.Start(cometledger.Config{Home: homes[i], Moniker: name, P2PListen: "tcp://" + addr(i),
			PersistentPeers: strings.Join(peers, ","), AllowDuplicateIP: true, TimeoutCommit: 10 * time.Millisecond},
			acceptAll{}, nodetest.Logger(t).With("node", name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := l.Close(); err != nil {
				t.Error(err)
			}
		})
		ls[i] = l
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for _, l := range ls {
		if err := l.WaitHeight(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	return ls
}

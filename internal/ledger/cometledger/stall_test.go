package cometledger_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bias-iot/bias/internal/ledger/cometledger"
	"github.com/bias-iot/bias/internal/node"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestStallWarning: one of two equal validators is down, so no block can
// commit; an operation waits in the mempool and the node says so, with
// where consensus stands, once the stall lasts StallWarning.
func TestStallWarning(t *testing.T) {
	t.Parallel()
	homes := []string{t.TempDir(), t.TempDir()}
	var vals []cometledger.GenesisValidator
	for i, h := range homes {
		id, err := cometledger.InitKeys(h)
		if err != nil {
			t.Fatal(err)
		}
		vals = append(vals, cometledger.GenesisValidator{Name: string(rune('a' + i)), PubKey: id.ValidatorPubKey, Power: 10})
	}
	for _, h := range homes {
		if err := cometledger.WriteGenesis(h, "stall", time.Now(), vals, nil); err != nil {
			t.Fatal(err)
		}
	}
	port, err := node.FreePortBase("127.0.0.1", 1)
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	l, err := cometledger.Start(cometledger.Config{Home: homes[0], P2PListen: "tcp://127.0.0.1:" + strconv.Itoa(port), Moniker: "a",
		TimeoutCommit: 10 * time.Millisecond, StallWarning: time.Second}, acceptAll{}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Second)
	defer cancel()
	if _, err := l.Submit(ctx, []byte("an operation")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("submit with half the power down: %v", err)
	}
	out := logs.String()
	if strings.Count(out, "operations wait but no block commits") != 1 || !strings.Contains(out, "waiting=1") || !strings.Contains(out, "consensus=1/0/") {
		t.Fatalf("log:\n%s", out)
	}
}

package cometledger_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bias-iot/bias/internal/ledger/cometledger"
	"github.com/bias-iot/bias/internal/ledger/cometledger/cometledgertest"
)

// validator is a single-validator network in a temp dir.
type validator struct {
	t    *testing.T
	home string
	logs lockedBuffer
}

func newValidator(t *testing.T) *validator {
	t.Helper()
	v := &validator{t: t, home: t.TempDir()}
	id, err := cometledger.InitKeys(v.home)
	if err != nil {
		t.Fatal(err)
	}
	if err := cometledger.WriteGenesis(v.home, "wedge", time.Now(), []cometledger.GenesisValidator{{Name: "a", PubKey: id.ValidatorPubKey, Power: 10}}, nil); err != nil {
		t.Fatal(err)
	}
	return v
}

// start starts the node and waits for its first block. The tests name
// the heights operations commit at, across restarts and lost rounds that
// leave the last block's time seconds old: the node does not refresh it
// (MaxTimeLag an hour; see TestBlockTimeAfterIdle).
func (v *validator) start() *cometledger.Ledger {
	v.t.Helper()
	log := slog.New(slog.NewTextHandler(&v.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	l, err := cometledger.Start(cometledger.Config{Home: v.home, P2PListen: "tcp://127.0.0.1:0", Moniker: "a", WedgeAfter: 300 * time.Millisecond,
		MaxTimeLag: time.Hour}, acceptAll{}, log)
	if err != nil {
		v.t.Fatal(err)
	}
	v.t.Cleanup(func() {
		if err := l.Close(); err != nil {
			v.t.Error(err)
		}
	})
	ctx, cancel := context.WithTimeout(v.t.Context(), 20*time.Second)
	defer cancel()
	if err := l.WaitHeight(ctx, 1); err != nil {
		v.t.Fatal(err)
	}
	return l
}

// TestWedge: a single validator that precommitted (or prevoted) at a
// height it had not stored, and lost its consensus WAL, restarts at round
// 0 of that height; its signer refuses its proposal and its votes, and no
// block commits. The ledger reports it (Wedged, Ready) and logs, once,
// what happened and what to do.
func TestWedge(t *testing.T) {
	t.Parallel()
	for name, msg := range map[string]cometledgertest.Message{"prevote": cometledgertest.Prevote, "precommit": cometledgertest.Precommit} {
		t.Run("after-a-"+name, func(t *testing.T) {
			t.Parallel()
			v := newValidator(t)
			if err := v.start().Close(); err != nil {
				t.Fatal(err)
			}
			stuck := cometledgertest.LoseWAL(t, v.home, msg)
			l := v.start()
			// Idle, it is not (yet) wedged: nothing asked it to sign.
			time.Sleep(time.Second)
			if err := l.Ready(t.Context()); err != nil {
				t.Fatalf("idle: %v", err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			submitted := make(chan error, 1)
			go func() {
				_, err := l.Submit(ctx, []byte("an operation"))
				submitted <- err
			}()
			for l.Wedged() == nil {
				select {
				case err := <-submitted:
					t.Fatalf("submitted (%v) and never wedged", err)
				case <-time.After(50 * time.Millisecond):
				}
			}
			var w *cometledger.WedgeError
			if err := l.Ready(t.Context()); !errors.As(err, &w) || !errors.Is(err, cometledger.ErrWedged) {
				t.Fatalf("Ready: %v", err)
			}
			signed := strconv.FormatInt(stuck, 10) + "/0/" + name
			if w.Height != stuck || w.Round != 0 || w.Vote != "prevote" || w.Signed != signed || l.Height() != stuck-1 {
				t.Fatalf("wedge %+v at height %d, want %d/0 after %s", w, l.Height(), stuck, signed)
			}
			cancel()
			if err := <-submitted; !errors.Is(err, context.Canceled) {
				t.Fatalf("submit: %v", err)
			}
			time.Sleep(500 * time.Millisecond) // the watcher looks again: still wedged, no second line
			out := v.logs.String()
			if strings.Count(out, "validator wedged: it refuses to vote at this height") != 1 || !strings.Contains(out, "level=ERROR") ||
				!strings.Contains(out, "height="+strconv.FormatInt(stuck, 10)) || !strings.Contains(out, "lastSigned="+signed) ||
				!strings.Contains(out, `power="10 of 10"`) || !strings.Contains(out, `{\"height\": \"`+strconv.FormatInt(stuck-1, 10)+`\"`) {
				t.Fatalf("log:\n%s", out)
			}
		})
	}
}

// TestNoWedgeAfterAProposal: a validator that had signed only its
// proposal when it lost its WAL cannot sign that proposal again, but
// votes for nil and commits in round 1: not wedged. Nor is an idle node.
func TestNoWedgeAfterAProposal(t *testing.T) {
	t.Parallel()
	v := newValidator(t)
	if err := v.start().Close(); err != nil {
		t.Fatal(err)
	}
	stuck := cometledgertest.LoseWAL(t, v.home, cometledgertest.Proposal)
	l := v.start()
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		if r, err := l.Submit(ctx, []byte("an operation")); err != nil || r.Height != stuck {
			t.Errorf("submit: %+v %v, want height %d", r, err, stuck)
		}
	}()
	for {
		if err := l.Ready(t.Context()); err != nil {
			t.Fatalf("Ready: %v", err)
		}
		select {
		case <-done:
		case <-time.After(50 * time.Millisecond):
			continue
		}
		break
	}
	time.Sleep(time.Second)
	if err := l.Ready(t.Context()); err != nil || strings.Contains(v.logs.String(), "wedged") {
		t.Fatalf("Ready: %v; log:\n%s", err, v.logs.String())
	}
}

// TestWedgeRecovery follows docs/operations.md: a wedged single
// validator commits again once its sign state is reset to the last
// committed height (safe only if its messages of the wedged height
// reached no other node), or once it has the data of a node that has the
// block it signed (its own sign state kept).
func TestWedgeRecovery(t *testing.T) {
	t.Parallel()
	t.Run("reset-the-sign-state", func(t *testing.T) {
		t.Parallel()
		v := newValidator(t)
		if err := v.start().Close(); err != nil {
			t.Fatal(err)
		}
		stuck := cometledgertest.LoseWAL(t, v.home, cometledgertest.Precommit)
		v.wedge(t)
		state := filepath.Join(v.home, "data", "priv_validator_state.json")
		if err := os.WriteFile(state, []byte(`{"height": "`+strconv.FormatInt(stuck-1, 10)+`", "round": 0, "step": 0}`), 0o600); err != nil {
			t.Fatal(err)
		}
		v.commits(t, stuck)
	})
	t.Run("the-data-of-a-node-with-the-block", func(t *testing.T) {
		t.Parallel()
		v := newValidator(t)
		if err := v.start().Close(); err != nil {
			t.Fatal(err)
		}
		data := filepath.Join(v.home, "data")
		before := filepath.Join(t.TempDir(), "data")
		copyDir(t, data, before, nil)
		// The validator commits a block, which a full node (here: a copy
		// of the validator's data) receives; then the validator's data is
		// restored from before that block, but for its sign state: its WAL
		// has nothing of the block it signed, and it is wedged.
		l := v.start()
		r, err := l.Submit(t.Context(), []byte("an operation"))
		if err != nil || r.Code != 0 {
			t.Fatalf("submit: %+v %v", r, err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		full := filepath.Join(t.TempDir(), "data")
		copyDir(t, data, full, nil)
		signState := map[string]bool{"priv_validator_state.json": true}
		replace(t, data, before, signState)
		v.wedge(t)
		// The recovery: the full node's data, without its WAL, and the
		// validator's own sign state.
		if err := os.RemoveAll(filepath.Join(full, "cs.wal")); err != nil {
			t.Fatal(err)
		}
		replace(t, data, full, signState)
		v.commits(t, r.Height+1)
	})
}

// wedge starts the node, checks that it gets wedged, and stops it.
func (v *validator) wedge(t *testing.T) {
	t.Helper()
	l := v.start()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	go func() { _, _ = l.Submit(ctx, []byte("waits")) }()
	for l.Wedged() == nil {
		select {
		case <-ctx.Done():
			t.Fatal("not wedged")
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// commits starts the node and checks that an operation commits at height.
func (v *validator) commits(t *testing.T, height int64) {
	t.Helper()
	l := v.start()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	r, err := l.Submit(ctx, []byte("after the recovery"))
	if err != nil || r.Code != 0 || r.Height != height {
		t.Fatalf("submit: %+v %v, want height %d", r, err, height)
	}
	if err := l.Ready(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// copyDir copies the entries of dir from to dir to, except those named in skip.
func copyDir(t *testing.T, from, to string, skip map[string]bool) {
	t.Helper()
	staged := filepath.Join(t.TempDir(), "staged")
	if err := os.CopyFS(staged, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
	for name := range skip {
		if err := os.RemoveAll(filepath.Join(staged, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.CopyFS(to, os.DirFS(staged)); err != nil {
		t.Fatal(err)
	}
}

// replace makes dir hold what from holds, but for the entries in keep,
// which it keeps as they are.
func replace(t *testing.T, dir, from string, keep map[string]bool) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !keep[e.Name()] {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	copyDir(t, from, dir, keep)
}

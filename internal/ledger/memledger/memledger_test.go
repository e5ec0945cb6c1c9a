package memledger_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/core"
	"github.com/bias-iot/bias/internal/ledger/ledgertest"
	"github.com/bias-iot/bias/internal/ledger/memledger"
	"github.com/bias-iot/bias/internal/registry/registrytest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/proof"
	"github.com/bias-iot/bias/record"
)

const network = "local"

var genesisTime = time.Unix(1_700_000_000, 0).UTC()

// chain is a memledger over the registry application, with one genesis
// provider, and deterministic keys for the entities it registers.
type chain struct {
	t        *testing.T
	l        *memledger.Ledger
	provider did.DID
	n        int // entities registered so far
}

func newChain(t *testing.T) *chain {
	t.Helper()
	c := registrytest.New(t, key(t, "provider admin"), genesisTime)
	return &chain{t: t, l: c.Ledger, provider: c.Provider}
}

// key makes a deterministic Ed25519 signer named name.
func key(t *testing.T, name string) cose.Signer {
	t.Helper()
	seed := sha256.Sum256([]byte(name))
	s, err := cose.NewSigner(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// register signs the registration of a new device under the provider
// and returns it with the state key it writes.
func (c *chain) register(t *testing.T) (tx, key []byte) {
	t.Helper()
	c.n++
	s := keyN(t, c.n)
	p := op.Payload{Network: network, Register: &op.Register{
		Kind: op.KindDevice, Provider: c.provider.String(),
		Doc:   op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}},
		Nonce: fmt.Appendf(nil, "n%d", c.n),
	}}
	tx, id, err := op.SignRegister(s, "k1", p)
	if err != nil {
		t.Fatal(err)
	}
	return tx, record.EntityKey(id.String())
}

func keyN(t *testing.T, n int) cose.Signer { return key(t, fmt.Sprintf("device %d", n)) }

// TestConformance runs the ledger conformance suite against memledger
// with the registry application.
func TestConformance(t *testing.T) {
	var c *chain
	ledgertest.Run(t, ledgertest.Fixture{
		New: func(t *testing.T) ledger.Ledger {
			c = newChain(t)
			return c.l
		},
		Network: network,
		Path:    record.QueryKey,
		Valid:   func(t *testing.T) ([]byte, []byte) { return c.register(t) },
		Invalid: func(t *testing.T) []byte { return []byte("not an operation") },
	})
}

// TestBlocks checks what the conformance suite leaves open: the genesis
// block, deterministic block times, and the proof block that exists as
// soon as Submit returns.
func TestBlocks(t *testing.T) {
	c := newChain(t)
	ctx := t.Context()
	st, err := c.l.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h1, err := c.l.Header(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if st.Height != 1 || !h1.Time.Equal(genesisTime) || len(h1.AppHash) == 0 || !bytes.Equal(st.AppHash, h1.AppHash) {
		t.Fatalf("after New: status %+v, header 1 %+v; want block 1 at the genesis time with the genesis app hash", st, h1)
	}
	tx, key := c.register(t)
	r, err := c.l.Submit(ctx, tx)
	if err != nil || r.Code != 0 || r.Height != 2 || r.Index != 0 {
		t.Fatalf("submit: %+v %v; want code 0 in block 2", r, err)
	}
	// No waiting: the proof block is committed before Submit returns.
	h3, err := c.l.Header(ctx, 3)
	if err != nil {
		t.Fatalf("proof block: %v", err)
	}
	q, err := c.l.Query(ctx, ledger.Query{Path: record.QueryKey, Data: key, Height: 2, Prove: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := proof.Verify(h3.AppHash, key, q.Value, q.Proof); err != nil {
		t.Fatalf("proof at 2 against header 3: %v", err)
	}
	if h2, _ := c.l.Header(ctx, 2); bytes.Equal(h2.AppHash, h3.AppHash) {
		t.Fatal("header 3 carries the app hash of header 2: block 2 changed nothing?")
	}
	for h := int64(1); h <= 3; h++ {
		hdr, err := c.l.Header(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if want := genesisTime.Add(time.Duration(h-1) * time.Second); !hdr.Time.Equal(want) || hdr.Network != network {
			t.Errorf("header %d: %+v, want time %v", h, hdr, want)
		}
	}
	if st, _ := c.l.Status(ctx); st.Height != 3 || st.NodeID != memledger.NodeID || !bytes.Equal(st.AppHash, h3.AppHash) {
		t.Fatalf("status after the proof block: %+v", st)
	}
}

// TestSubmitRefusals covers each way Submit refuses a transaction.
func TestSubmitRefusals(t *testing.T) {
	tests := []struct {
		name string
		// run submits what the case needs and returns the last attempt.
		run     func(t *testing.T, c *chain) (*ledger.Result, error)
		wantErr error
		// wantCode: the last attempt is a rejection before a block.
		wantCode bool
	}{
		{name: "fail/duplicate-committed", wantErr: ledger.ErrDuplicate, run: func(t *testing.T, c *chain) (*ledger.Result, error) {
			tx, _ := c.register(t)
			if r, err := c.l.Submit(t.Context(), tx); err != nil || r.Code != 0 {
				t.Fatalf("first submission: %+v %v", r, err)
			}
			return c.l.Submit(t.Context(), tx)
		}},
		{name: "fail/check-tx", wantCode: true, run: func(t *testing.T, c *chain) (*ledger.Result, error) {
			return c.l.Submit(t.Context(), []byte("not an operation"))
		}},
		// CheckTx's refusal leaves no trace in the cache: the same bytes
		// are refused again on their merits, not as a duplicate.
		{name: "fail/check-tx-again", wantCode: true, run: func(t *testing.T, c *chain) (*ledger.Result, error) {
			if r, err := c.l.Submit(t.Context(), []byte("not an operation")); err != nil || r.Code == 0 {
				t.Fatalf("first submission: %+v %v", r, err)
			}
			return c.l.Submit(t.Context(), []byte("not an operation"))
		}},
		{name: "fail/context-ended", wantErr: context.Canceled, run: func(t *testing.T, c *chain) (*ledger.Result, error) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			tx, _ := c.register(t)
			return c.l.Submit(ctx, tx)
		}},
		{name: "fail/closed", wantErr: ledger.ErrClosed, run: func(t *testing.T, c *chain) (*ledger.Result, error) {
			if err := c.l.Close(); err != nil {
				t.Fatal(err)
			}
			tx, _ := c.register(t)
			return c.l.Submit(t.Context(), tx)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChain(t)
			r, err := tt.run(t, c)
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("got %+v, %v; want %v", r, err, tt.wantErr)
			case tt.wantCode && (err != nil || r.Code == 0 || r.Height != 0 || r.Reason == ""):
				t.Fatalf("got %+v, %v; want a rejection with a reason and no height", r, err)
			}
		})
	}
}

// TestClose checks that Close ends watches and refuses every later call.
func TestClose(t *testing.T) {
	c := newChain(t)
	blocks, err := c.l.Watch(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if b := <-blocks; b.Height != 1 {
		t.Fatalf("watch from 0 starts at %d, want 1", b.Height)
	}
	if err := c.l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-blocks; ok {
		t.Fatal("watch sent a block after Close")
	}
	ctx := t.Context()
	calls := map[string]func() error{
		"query": func() error {
			_, err := c.l.Query(ctx, ledger.Query{Path: record.QueryKey, Data: []byte("k")})
			return err
		},
		"header": func() error { _, err := c.l.Header(ctx, 1); return err },
		"status": func() error { _, err := c.l.Status(ctx); return err },
		"watch":  func() error { _, err := c.l.Watch(ctx, 1); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ledger.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if err := c.l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// brokenApp fails to apply any block after the first: a broken
// invariant, on which a ledger halts.
type brokenApp struct{}

func (brokenApp) Info(context.Context) (core.Info, error)                 { return core.Info{}, nil }
func (brokenApp) InitChain(context.Context, core.Genesis) ([]byte, error) { return nil, nil }
func (brokenApp) Check(context.Context, []byte) core.CheckResult          { return core.CheckResult{} }
func (brokenApp) Commit(context.Context) (*core.CommitResult, error) {
	return &core.CommitResult{}, nil
}
func (brokenApp) Query(context.Context, ledger.Query) (*ledger.QueryResult, error) {
	return &ledger.QueryResult{}, nil
}

func (brokenApp) ApplyBlock(_ context.Context, b core.Block) (*core.BlockResult, error) {
	if b.Height > 1 {
		return nil, errors.New("state is corrupt")
	}
	return &core.BlockResult{TxResults: make([]core.TxResult, len(b.Txs))}, nil
}

func TestHaltsOnApplicationError(t *testing.T) {
	l, err := memledger.New(brokenApp{}, network, nil, genesisTime)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	for i, tx := range []string{"a", "b"} {
		_, err := l.Submit(t.Context(), []byte(tx))
		if err == nil || !strings.Contains(err.Error(), "state is corrupt") {
			t.Fatalf("submission %d: %v, want the application's error", i, err)
		}
	}
	if st, err := l.Status(t.Context()); err != nil || st.Height != 1 {
		t.Fatalf("status: %+v %v; want height 1", st, err)
	}
}

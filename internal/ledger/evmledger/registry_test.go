package evmledger_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/core"
	"github.com/bias-iot/bias/internal/ledger/evmledger"
	"github.com/bias-iot/bias/internal/ledger/ledgertest"
	"github.com/bias-iot/bias/internal/ledger/memledger"
	"github.com/bias-iot/bias/internal/registry"
	"github.com/bias-iot/bias/internal/state/statetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// signer makes a deterministic Ed25519 signer named name.
func signer(t testing.TB, name string) cose.Signer {
	t.Helper()
	seed := sha256.Sum256([]byte(name))
	s, err := cose.NewSigner(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// genesis is the registry's genesis document with one provider, and that
// provider's DID.
func genesis(t testing.TB) ([]byte, did.DID) {
	t.Helper()
	gp := registry.GenesisProvider{Name: "acme", Keys: []op.Key{op.KeyFrom("admin-1", signer(t, "provider admin").Public())}}
	prov, err := registry.ProviderDID(network, gp)
	if err != nil {
		t.Fatal(err)
	}
	st, err := json.Marshal(registry.Genesis{Network: network, Providers: []registry.GenesisProvider{gp}})
	if err != nil {
		t.Fatal(err)
	}
	return st, prov
}

// register signs the registration of device n under prov and returns it
// with the state key it writes.
func register(t testing.TB, prov did.DID, n int) (tx, key []byte) {
	t.Helper()
	s := signer(t, fmt.Sprintf("device %d", n))
	p := op.Payload{Network: network, Register: &op.Register{
		Kind: op.KindDevice, Provider: prov.String(),
		Doc:   op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}},
		Nonce: fmt.Appendf(nil, "n%d", n),
	}}
	tx, id, err := op.SignRegister(s, "k1", p)
	if err != nil {
		t.Fatal(err)
	}
	return tx, record.EntityKey(id.String())
}

// newRegistry is a fresh registry application.
func newRegistry(t testing.TB) *registry.App {
	t.Helper()
	return registry.New(network, statetest.Open(t), slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})))
}

// follow starts an engine over a fresh registry on c's anchor.
func follow(t testing.TB, c *simChain, cfg evmledger.Config) *evmledger.Ledger {
	t.Helper()
	return followChain(t, c.client, cfg)
}

// followChain is follow through the endpoint chain.
func followChain(t testing.TB, chain evmledger.Chain, cfg evmledger.Config) *evmledger.Ledger {
	t.Helper()
	cfg.Logger = testLogger(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	l, err := evmledger.New(ctx, chain, newRegistry(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// TestConformanceRegistry runs the ledger conformance suite on the EVM
// engine with the registry application.
func TestConformanceRegistry(t *testing.T) {
	appState, prov := genesis(t)
	n := 0
	ledgertest.Run(t, ledgertest.Fixture{
		New: func(t *testing.T) ledger.Ledger {
			key := fund(t, 1)
			c := newSimChain(t, 10*time.Millisecond, key)
			cfg := c.deploy(t, key)
			cfg.Key, cfg.AppState = key, appState
			return follow(t, c, cfg)
		},
		Network: network,
		Path:    record.QueryKey,
		Valid: func(t *testing.T) ([]byte, []byte) {
			n++
			return register(t, prov, n)
		},
		Invalid:      func(*testing.T) []byte { return []byte("not an operation") },
		NoValidators: true,
	})
}

// waitHeight waits until l has applied block h.
func waitHeight(t testing.TB, l ledger.Ledger, h int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	blocks, err := l.Watch(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := <-blocks; !ok {
		t.Fatalf("block %d never came", h)
	}
}

// sameHeaders fails unless a and b have the same header at every height
// from 1 to h.
func sameHeaders(t testing.TB, a, b ledger.Ledger, h int64) {
	t.Helper()
	for i := int64(1); i <= h; i++ {
		ha, err := a.Header(t.Context(), i)
		if err != nil {
			t.Fatal(err)
		}
		hb, err := b.Header(t.Context(), i)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ha.AppHash, hb.AppHash) || !ha.Time.Equal(hb.Time) {
			t.Fatalf("block %d: %x at %s, and %x at %s", i, ha.AppHash, ha.Time, hb.AppHash, hb.Time)
		}
	}
}

// TestFollowersAgree: two nodes that submit on one chain compute the same
// root at every block, and a third started later replays the chain alone
// to the same roots.
func TestFollowersAgree(t *testing.T) {
	appState, prov := genesis(t)
	ka, kb := fund(t, 1), fund(t, 2)
	c := newSimChain(t, 10*time.Millisecond, ka, kb)
	cfg := c.deploy(t, ka)
	cfg.AppState = appState
	ca, cb := cfg, cfg
	ca.Key, cb.Key = ka, kb
	a, b := follow(t, c, ca), follow(t, c, cb)
	var last int64
	for i := 1; i <= 6; i++ {
		l := a
		if i%2 == 0 {
			l = b
		}
		tx, _ := register(t, prov, i)
		r, err := l.Submit(t.Context(), tx)
		if err != nil || r.Code != 0 {
			t.Fatalf("submit %d: %+v %v", i, r, err)
		}
		last = max(last, r.Height)
	}
	waitHeight(t, a, last+1)
	waitHeight(t, b, last+1)
	sameHeaders(t, a, b, last+1)
	late := follow(t, c, cfg) // no key: it only follows
	waitHeight(t, late, last+1)
	sameHeaders(t, a, late, last+1)
	// A client believes a root that the witnesses agree on.
	root, err := evmledger.Agree(t.Context(), last+1, a, b, late)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := a.Header(t.Context(), last+1); !bytes.Equal(root, h.AppHash) {
		t.Fatalf("agreed root %x, the node's %x", root, h.AppHash)
	}
	if _, err := evmledger.Agree(t.Context(), last+1, a, liar{late}); !errors.Is(err, evmledger.ErrDisagree) {
		t.Fatalf("fail/disagree: %v, want ErrDisagree", err)
	}
	q, err := late.Query(t.Context(), ledger.Query{Path: record.QueryKey, Data: func() []byte { _, k := register(t, prov, 6); return k }()})
	if err != nil || q.Value == nil {
		t.Fatalf("the late node lacks the last registration: %+v %v", q, err)
	}
}

// TestDeterminism: the same operations in the same order, with the same
// block times, give the same state root at every height on memledger and
// on the EVM engine. memledger puts each submission in a block of its own
// followed by an empty one, one second apart from its genesis time; the
// simulated chain here seals just so, one second apart.
func TestDeterminism(t *testing.T) {
	appState, prov := genesis(t)
	key := fund(t, 1)
	c := newSimChain(t, 0, key)
	cfg := c.deploy(t, key)
	cfg.AppState, cfg.Key = appState, key
	gb, err := evmledger.GenesisBlock(t.Context(), c.client, cfg.Contract)
	if err != nil {
		t.Fatal(err)
	}
	hd, err := c.client.HeaderByNumber(t.Context(), new(big.Int).SetUint64(gb))
	if err != nil {
		t.Fatal(err)
	}
	m, err := memledger.New(newRegistry(t), network, appState, time.Unix(int64(hd.Time), 0)) //nolint:gosec // a test's timestamps
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	// The same genesis: memledger's validator.
	ms, err := m.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range ms.Validators {
		cfg.Validators = append(cfg.Validators, core.ValidatorUpdate{PubKey: v.PubKey, Power: v.Power})
	}
	e := follow(t, c, cfg)
	var last int64
	for i := 1; i <= 4; i++ {
		tx, _ := register(t, prov, i)
		rm, err := m.Submit(t.Context(), tx)
		if err != nil || rm.Code != 0 {
			t.Fatalf("memledger %d: %+v %v", i, rm, err)
		}
		done := make(chan *ledger.Result, 1)
		go func() {
			r, err := e.Submit(t.Context(), tx)
			if err != nil {
				t.Error(err)
			}
			done <- r
		}()
		c.sealWhenPending(t) // the block with the anchor
		c.seal()             // its proof block
		re := <-done
		if re == nil || re.Code != 0 || re.Height != rm.Height {
			t.Fatalf("evm %d: %+v; memledger committed it at %d", i, re, rm.Height)
		}
		last = rm.Height + 1
	}
	waitHeight(t, e, last)
	sameHeaders(t, m, e, last)
}

// TestFinalizedTag: with Config.Finalized, an operation's block is under
// the chain's finalized tag when Submit returns (the simulated chain
// finalizes every 32 blocks).
func TestFinalizedTag(t *testing.T) {
	appState, prov := genesis(t)
	key := fund(t, 1)
	c := newSimChain(t, 5*time.Millisecond, key)
	cfg := c.deploy(t, key)
	cfg.Key, cfg.AppState, cfg.Finalized = key, appState, true
	l := follow(t, c, cfg)
	tx, _ := register(t, prov, 1)
	r, err := l.Submit(t.Context(), tx)
	if err != nil || r.Code != 0 {
		t.Fatalf("submit: %+v %v", r, err)
	}
	gb, err := evmledger.GenesisBlock(t.Context(), c.client, cfg.Contract)
	if err != nil {
		t.Fatal(err)
	}
	fin, err := c.client.HeaderByNumber(t.Context(), big.NewInt(int64(rpc.FinalizedBlockNumber)))
	if err != nil {
		t.Fatal(err)
	}
	if evm := gb + uint64(r.Height) - 1; evm > fin.Number.Uint64() { //nolint:gosec // a positive height
		t.Fatalf("applied at EVM block %d, beyond the finalized %d", evm, fin.Number)
	}
}

// liar is a witness that reports a root of its own.
type liar struct{ ledger.Reader }

func (l liar) Header(ctx context.Context, h int64) (*ledger.Header, error) {
	hd, err := l.Reader.Header(ctx, h)
	if err == nil {
		hd.AppHash[0] ^= 1
	}
	return hd, err
}

// dropFirstBatch is an endpoint that leaves out the anchor log of the
// first batch (seq 0, the indexed topic all zero).
type dropFirstBatch struct{ evmledger.Chain }

func (d dropFirstBatch) FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error) {
	logs, err := d.Chain.FilterLogs(ctx, q)
	var out []types.Log
	for _, lg := range logs {
		if len(lg.Topics) > 1 && lg.Topics[1] == (common.Hash{}) {
			continue
		}
		out = append(out, lg)
	}
	return out, err
}

// dropFirstReceipt is an endpoint that leaves out the first batch's log
// from the block's receipts as well as from eth_getLogs.
type dropFirstReceipt struct{ dropFirstBatch }

func (d dropFirstReceipt) BlockReceipts(ctx context.Context, b rpc.BlockNumberOrHash) ([]*types.Receipt, error) {
	rcs, err := d.Chain.BlockReceipts(ctx, b)
	for i, rc := range rcs {
		c := *rc
		c.Logs = slices.DeleteFunc(slices.Clone(rc.Logs), func(lg *types.Log) bool { return len(lg.Topics) > 1 && lg.Topics[1] == (common.Hash{}) })
		rcs[i] = &c
	}
	return rcs, err
}

// TestLyingEndpoint: a follower whose endpoint leaves out an anchor log
// stops at the block of that log, and retries, instead of going on with
// a root that differs from every other node's: the block's logs bloom
// says an Anchored event may be there, and the block's receipts (which
// the header commits to) hold one that eth_getLogs left out. An endpoint
// that leaves the log out of the receipts too gives receipts that do not
// make the header's receipts root.
func TestLyingEndpoint(t *testing.T) {
	appState, prov := genesis(t)
	k := fund(t, 1)
	c := newSimChain(t, 10*time.Millisecond, k)
	cfg := c.deploy(t, k)
	cfg.AppState = appState
	sub := cfg
	sub.Key = k
	a := follow(t, c, sub)
	var heights []int64
	for i := 1; i <= 2; i++ {
		tx, _ := register(t, prov, i)
		r, err := a.Submit(t.Context(), tx)
		if err != nil || r.Code != 0 {
			t.Fatalf("submit %d: %+v %v", i, r, err)
		}
		heights = append(heights, r.Height)
	}
	if heights[0] >= heights[1] {
		t.Fatalf("both batches in block %d: the test needs two", heights[0])
	}
	gb, err := evmledger.GenesisBlock(t.Context(), c.client, cfg.Contract)
	if err != nil {
		t.Fatal(err)
	}
	at := fmt.Sprintf("block %d:", gb+uint64(heights[0])-1) //nolint:gosec // a positive height
	// Started after both batches are final, the follower catches up in
	// New: it refuses there, at the block of the first batch.
	cfg.Logger = testLogger(t)
	for _, tc := range []struct {
		name  string
		chain evmledger.Chain
		want  string
	}{
		{"fail/log-left-out", dropFirstBatch{c.client}, "anchor logs are not the 1 of the block's receipts"},
		{"fail/receipt-forged", dropFirstReceipt{dropFirstBatch{c.client}}, "do not make its receipts root"},
	} {
		_, err := evmledger.New(t.Context(), tc.chain, newRegistry(t), cfg)
		if err == nil || !strings.Contains(err.Error(), at) || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: %v, want %q at %q", tc.name, err, tc.want, at)
		}
	}
	honest := follow(t, c, cfg)
	waitHeight(t, honest, heights[1]+1)
	sameHeaders(t, a, honest, heights[1]+1)
}

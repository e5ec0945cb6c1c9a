package evmledger_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/core"
	"github.com/bias-iot/bias/internal/ledger/evmledger"
	"github.com/bias-iot/bias/internal/state"
)

// kvApp is a unit-test core.App over the real Merkle store: a transaction
// "key=value" sets key (values up to 64 bytes), whatever follows a ';'
// being padding (kvOp); anything else is refused
// by Check, and in a block with code 1. It is the engine's own fake, not
// the registry.
type kvApp struct {
	mu     sync.Mutex
	st     *state.Store
	height int64
}

var _ core.App = (*kvApp)(nil)

func newKVApp(dir string) (*kvApp, error) {
	st, err := state.Open(dir)
	if err != nil {
		return nil, err
	}
	return &kvApp{st: st, height: st.Version()}, nil
}

func (a *kvApp) Close() error { return a.st.Close() }

// kvOp is the operation that sets key=value s, padded after a ';' to the
// least a batch may carry (evmledger.MinOpBytes).
func kvOp(s string) []byte {
	tx := append([]byte(s), ';')
	return append(tx, bytes.Repeat([]byte{'.'}, max(evmledger.MinOpBytes-len(tx), 0))...)
}

func parseKV(tx []byte) (k, v []byte, ok bool) {
	tx, _, _ = bytes.Cut(tx, []byte(";")) // the padding of kvOp
	k, v, ok = bytes.Cut(tx, []byte("="))
	return k, v, ok && len(k) > 0 && len(v) <= 64
}

func (a *kvApp) Info(context.Context) (core.Info, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return core.Info{Height: a.height, AppHash: a.st.Hash()}, nil
}

func (a *kvApp) InitChain(_ context.Context, g core.Genesis) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.st.Set([]byte("network"), []byte(g.ChainID)); err != nil {
		return nil, err
	}
	return a.st.WorkingHash(), nil
}

func (a *kvApp) Check(_ context.Context, tx []byte) core.CheckResult {
	if _, _, ok := parseKV(tx); !ok {
		return core.CheckResult{Code: 1, Reason: "malformed", Log: "not key=value"}
	}
	return core.CheckResult{}
}

func (a *kvApp) ApplyBlock(_ context.Context, b core.Block) (*core.BlockResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if b.Height != a.height+1 {
		return nil, fmt.Errorf("block %d after %d", b.Height, a.height)
	}
	res := &core.BlockResult{}
	for _, tx := range b.Txs {
		k, v, ok := parseKV(tx)
		if !ok {
			res.TxResults = append(res.TxResults, core.TxResult{Code: 1, Reason: "malformed"})
			continue
		}
		if err := a.st.Set(k, v); err != nil {
			return nil, err
		}
		res.TxResults = append(res.TxResults, core.TxResult{Events: []ledger.Event{{Type: "set", Attrs: []ledger.Attr{{Key: "key", Value: string(k)}}}}})
	}
	// The block time is part of the state, as the registry's is.
	if err := a.st.Set([]byte("time"), []byte(b.Time.UTC().Format("2006-01-02T15:04:05Z"))); err != nil {
		return nil, err
	}
	res.AppHash = a.st.WorkingHash()
	return res, nil
}

func (a *kvApp) Commit(context.Context) (*core.CommitResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, v, err := a.st.Commit()
	if err != nil {
		return nil, err
	}
	a.height = v
	return &core.CommitResult{}, nil
}

func (a *kvApp) Query(_ context.Context, q ledger.Query) (*ledger.QueryResult, error) {
	if q.Path != "/key" {
		return &ledger.QueryResult{Code: 1, Reason: "unknown-path"}, nil
	}
	snap := a.st.Latest()
	if q.Height != 0 {
		var err error
		if snap, err = a.st.At(q.Height); err != nil {
			return nil, err
		}
	}
	out := &ledger.QueryResult{Height: snap.Version(), Key: q.Data}
	if !q.Prove {
		v, err := snap.Get(q.Data)
		out.Value = v
		return out, err
	}
	v, p, err := snap.Prove(q.Data)
	if err != nil {
		return nil, err
	}
	pb, err := p.Marshal()
	out.Value, out.Proof = v, pb
	return out, err
}

package cometledger_test

import (
	"context"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/core"
)

// acceptAll is the smallest core.App: it admits and applies every
// transaction and keeps no state (its root stays empty), so a test of
// the engine runs with no registry. Info reports height 0: CometBFT
// replays the whole chain to it on each start.
type acceptAll struct{}

var _ core.App = acceptAll{}

func (acceptAll) Info(context.Context) (core.Info, error)                 { return core.Info{}, nil }
func (acceptAll) InitChain(context.Context, core.Genesis) ([]byte, error) { return nil, nil }
func (acceptAll) Check(context.Context, []byte) core.CheckResult          { return core.CheckResult{} }
func (acceptAll) Commit(context.Context) (*core.CommitResult, error) {
	return &core.CommitResult{}, nil
}
func (acceptAll) ApplyBlock(_ context.Context, b core.Block) (*core.BlockResult, error) {
	return &core.BlockResult{TxResults: make([]core.TxResult, len(b.Txs))}, nil
}

func (acceptAll) Query(context.Context, ledger.Query) (*ledger.QueryResult, error) {
	return &ledger.QueryResult{}, nil
}

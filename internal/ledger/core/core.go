// Package core is the engine-neutral boundary between a ledger engine and
// the replicated state machine it drives (the registry): an ordered block
// of transactions, with its height and time, goes in; results, domain
// events, validator changes and the state root come out. It has its own
// types and imports no engine, so that one application runs unchanged on
// CometBFT (cometledger adapts it to ABCI), in memory (memledger) and on
// an EVM chain (evmledger replays the batches of each final block).
//
// An engine calls, on one goroutine: Info on start; InitChain once on an
// empty state; then, for each decided block in order, ApplyBlock and
// Commit. Check and Query may run on any goroutine beside them.
//
//	info, _ := app.Info(ctx)
//	if info.Height == 0 { root, _ = app.InitChain(ctx, core.Genesis{...}) }
//	res, _ := app.ApplyBlock(ctx, core.Block{Height: h, Time: t, Txs: txs})
//	c, _ := app.Commit(ctx) // res.AppHash is now the committed root
package core

import (
	"context"
	"crypto/sha256"
	"time"

	"github.com/bias-iot/bias/internal/ledger"
)

// App is the state machine an engine drives. A Go error from any method
// is a broken invariant: the engine stops. A refused transaction is a
// result with a non-zero Code.
type App interface {
	// Info reports what the application has committed.
	Info(ctx context.Context) (Info, error)
	// InitChain writes the genesis state and returns its root.
	InitChain(ctx context.Context, g Genesis) (appHash []byte, err error)
	// Check tells whether tx may enter a block on top of the last
	// committed state (a mempool's admission check).
	Check(ctx context.Context, tx []byte) CheckResult
	// ApplyBlock applies a decided block's transactions in order.
	ApplyBlock(ctx context.Context, b Block) (*BlockResult, error)
	// Commit makes the last applied block's state durable as version
	// Block.Height.
	Commit(ctx context.Context) (*CommitResult, error)
	// Query reads committed state at a height (0: the latest), with a
	// Merkle proof on request.
	Query(ctx context.Context, q ledger.Query) (*ledger.QueryResult, error)
}

// Info is what the application has committed.
type Info struct {
	Height     int64  // last committed block; 0 before InitChain
	AppHash    []byte // state root after Height
	AppVersion uint64 // the version of the rules in force
}

// Genesis starts a chain.
type Genesis struct {
	ChainID    string // the network id
	Time       time.Time
	AppState   []byte // the application's genesis document (JSON)
	Validators []ValidatorUpdate
}

// ValidatorUpdate sets a validator's power; 0 removes it.
type ValidatorUpdate struct {
	PubKey []byte // Ed25519, 32 bytes
	Power  int64
}

// Block is a decided block.
type Block struct {
	Height int64
	Time   time.Time
	Txs    [][]byte
}

// TxResult is the outcome of one transaction of a block.
type TxResult struct {
	Code      uint32 // 0: applied
	Codespace string
	Reason    string // the application's stable reason code
	Log       string // the application's safe message
	Data      []byte
	// Events are the domain events; an engine that indexes events
	// (CometBFT) indexes every attribute.
	Events []ledger.Event
}

// BlockResult is the outcome of a block.
type BlockResult struct {
	TxResults []TxResult // one per transaction, in order
	// Events are the block's own events (not of a transaction).
	Events []ledger.Event
	// ValidatorUpdates change the validator set (engines without
	// validators of their own ignore them).
	ValidatorUpdates []ValidatorUpdate
	// AppVersion is the version of the rules from this block on, when
	// the block changed it; 0 when it did not.
	AppVersion uint64
	// AppHash is the state root after the block.
	AppHash []byte
}

// CheckResult is the answer of Check.
type CheckResult struct {
	Code      uint32 // 0: may enter a block
	Codespace string
	Reason    string
	Log       string
}

// CommitResult is the answer of Commit.
type CommitResult struct {
	// RetainHeight is the lowest block the engine needs to keep (0:
	// all), as the application's retention asks.
	RetainHeight int64
}

// Result is r as the ledger interface reports it: the result of tx, the
// transaction at index of block height.
func (r TxResult) Result(tx []byte, height int64, index int) ledger.Result {
	h := sha256.Sum256(tx)
	return ledger.Result{
		Hash: h[:], Height: height, Index: index, Code: r.Code, Codespace: r.Codespace,
		Reason: r.Reason, Log: r.Log, Data: r.Data, Events: r.Events,
	}
}

// Rejection is a refusal by Check of the transaction with hash h, as the
// ledger interface reports it: a result before any block.
func (r CheckResult) Rejection(h [32]byte) *ledger.Result {
	return &ledger.Result{Hash: h[:], Code: r.Code, Codespace: r.Codespace, Reason: r.Reason, Log: r.Log}
}

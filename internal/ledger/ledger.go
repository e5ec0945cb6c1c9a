// Package ledger is bias's narrow interface to the ledger (I4): submit an
// operation and wait for its committed result, read a key at a height with
// a Merkle proof against the app hash of a block header, and watch
// committed blocks. The registry's service code depends only on this
// interface; cometledger implements it with CometBFT, memledger in memory
// for tests, and ledgertest holds the conformance suite that every
// implementation passes.
//
//	res, err := l.Submit(ctx, tx)       // waits for the block
//	q, err := l.Query(ctx, ledger.Query{Path: "/key", Data: key, Prove: true})
//	h, err := l.Header(ctx, q.Height+1) // h.AppHash proves q
//	blocks, err := l.Watch(ctx, 1)      // every committed block, in order
package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors callers branch on.
var (
	// ErrDuplicate: the same transaction bytes were already submitted.
	ErrDuplicate = errors.New("transaction already submitted")
	// ErrFull: the ledger cannot take more transactions now; retry later.
	ErrFull = errors.New("ledger is full")
	// ErrNotFound: no such block or header (yet).
	ErrNotFound = errors.New("not found")
	// ErrClosed: the ledger is shut down.
	ErrClosed = errors.New("ledger closed")
	// ErrPruned: the blocks asked for are below the first this node
	// keeps (pruned, or never held: a node that joined by state sync
	// holds the blocks after its snapshot). A *PrunedError says which.
	ErrPruned = errors.New("blocks pruned")
	// ErrDropped: the ledger gave up waiting for a block to take the
	// transaction (the EVM engine, after its DropAfter blocks). It may
	// still be committed later; submitting the same bytes again is safe
	// (a committed copy makes the other a replay).
	ErrDropped = errors.New("transaction dropped before a block took it")
)

// PrunedError is a Watch (or read) from a height below the first block
// the node keeps.
type PrunedError struct {
	From  int64 // the height asked for
	First int64 // the first block the node holds
}

func (e *PrunedError) Error() string {
	return fmt.Sprintf("blocks pruned: block %d asked for, this node holds blocks from %d", e.From, e.First)
}

// Is makes errors.Is(err, ErrPruned) hold, and errors.Is(err,
// ErrNotFound), as for any block the node does not hold.
func (e *PrunedError) Is(target error) bool { return target == ErrPruned || target == ErrNotFound }

// Ledger is the whole interface, as small interfaces that callers can
// depend on one at a time.
type Ledger interface {
	Submitter
	Reader
	Watcher
}

// Submitter submits transactions.
type Submitter interface {
	// Submit hands tx to the ledger and waits until it is committed in a
	// block or rejected before one. A rejection is a Result with a
	// non-zero Code and Height 0, not an error.
	Submit(ctx context.Context, tx []byte) (*Result, error)
}

// Reader reads committed state and headers.
type Reader interface {
	Query(ctx context.Context, q Query) (*QueryResult, error)
	// Header returns the header of a committed block; its AppHash commits
	// to the state after block Height-1.
	Header(ctx context.Context, height int64) (*Header, error)
	Status(ctx context.Context) (*Status, error)
}

// Watcher streams committed blocks.
type Watcher interface {
	// Watch sends every committed block from height from (1 or more) in
	// order, then each new one as it commits, until ctx ends; then it
	// closes the channel. A slow reader slows only itself: nothing is
	// dropped. From below the first block the ledger keeps, it fails at
	// once with a *PrunedError (errors.Is ErrPruned) naming that block.
	Watch(ctx context.Context, from int64) (<-chan Block, error)
}

// Result is the outcome of a transaction.
type Result struct {
	Hash      []byte // SHA-256 of the transaction bytes
	Height    int64  // 0 when rejected before a block
	Index     int    // position in the block
	Code      uint32 // 0 = applied
	Codespace string
	Reason    string // the application's stable reason code
	Log       string // the application's safe message
	Data      []byte
	Events    []Event
}

// Event is an application event of a committed transaction.
type Event struct {
	Type  string
	Attrs []Attr
}

// Attr is an event attribute.
type Attr struct{ Key, Value string }

// Query asks the application for state.
type Query struct {
	Path   string
	Data   []byte
	Height int64 // 0: latest committed
	Prove  bool
}

// QueryResult is the application's answer.
type QueryResult struct {
	Code   uint32
	Reason string
	Log    string
	Height int64
	Key    []byte
	Value  []byte
	// Proof is the serialized ICS23 CommitmentProof of Key at Height.
	Proof []byte
}

// Header is what a proof needs of a block header.
type Header struct {
	Network string
	Height  int64
	Time    time.Time
	AppHash []byte
}

// Status describes the ledger as this node sees it.
type Status struct {
	Network    string
	NodeID     string
	Height     int64
	AppHash    []byte
	Time       time.Time
	CatchingUp bool
	Validators []Validator
}

// Validator is a member of the validator set.
type Validator struct {
	Address string
	PubKey  []byte
	Power   int64
}

// Block is a committed block with the results of its transactions.
type Block struct {
	Height  int64
	Time    time.Time
	Results []Result
	// Events are the application's events of the block itself, not of
	// a transaction (FinalizeBlock's: an upgrade applied, proposals that
	// expired).
	Events []Event
}

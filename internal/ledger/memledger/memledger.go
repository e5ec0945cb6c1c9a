// Package memledger implements the ledger interface in memory, for tests:
// it drives a core.App directly, as the single validator of a
// chain with no consensus, no network and no block store on disk, so that
// code written against ledger.Ledger can run over a real application
// without starting CometBFT.
//
// What a client can see follows CometBFT v0.38 (and cometledger):
//
//   - New calls InitChain and commits an empty block 1, so that genesis
//     state is readable; the header of block 1 carries InitChain's app hash.
//   - The header of block H+1 carries the app hash after block H: a query
//     proof at height H verifies against Header(H+1).AppHash.
//   - A transaction that Check refuses is a rejection Result with Height
//     0. The same bytes submitted again are ledger.ErrDuplicate while they
//     wait for a block or once they committed with code 0, as CometBFT's
//     mempool cache has it; bytes refused by Check or committed with a
//     non-zero code may be submitted again. (The cache here never forgets;
//     CometBFT's forgets the oldest after 100000.)
//   - Block H is stamped with the genesis time plus H-1 seconds: no wall
//     clock, so a run is reproducible.
//
// Blocks are made by one goroutine, the validator. The transactions that
// passed CheckTx while it made the last block go together into the next
// one (a group commit: sequential submissions make one block each,
// concurrent ones share blocks). Each block with transactions is followed
// at once by an empty "proof block", as the registry gets from CometBFT
// (its app hash does not change on empty blocks): Submit returns only
// after both committed, so Header(res.Height+1) exists when it returns.
// There is no PrepareProposal or ProcessProposal: the validator's block is
// the batch, in submission order.
//
// The application sees the calls that CometBFT's per-connection local
// client makes through cometledger's adapter: Check, ApplyBlock and
// Commit one at a time (Check never during a block, so no recheck is
// needed), Query on its own beside them.
//
//	st, _ := state.Open(t.TempDir())
//	app := registry.New("local", st, logger)
//	l, err := memledger.New(app, "local", appState, time.Unix(1_700_000_000, 0))
//	defer l.Close() // before st.Close
//	res, err := l.Submit(ctx, tx) // committed at res.Height
//	q, err := l.Query(ctx, ledger.Query{Path: record.QueryKey, Data: key, Height: res.Height, Prove: true})
//	h, err := l.Header(ctx, res.Height+1) // h.AppHash proves q
package memledger

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/blocklog"
	"github.com/bias-iot/bias/internal/ledger/core"
)

// NodeID is the node id that Status reports.
const NodeID = "mem"

// Ledger is an in-memory ledger over a core.App.
type Ledger struct {
	app     core.App
	network string
	genesis time.Time
	val     ledger.Validator // the single validator, derived from the network

	// exec serialises Check, ApplyBlock and Commit; query serialises
	// Query. Close takes both once it has marked the ledger closed, so
	// that no call is in the application when Close returns.
	exec  sync.Mutex
	query sync.Mutex

	wake    chan struct{} // the pool is not empty (buffered 1)
	quit    chan struct{} // closed by Close
	stopped chan struct{} // closed when the validator goroutine returns

	mu      sync.Mutex
	closed  bool
	halted  error             // the application broke an invariant: no more blocks
	pool    []*pending        // checked, waiting for the next block
	seen    map[[32]byte]bool // the mempool cache
	appHash []byte            // after the last block: the next header's
	last    []byte            // hash of the last block

	blocks *blocklog.Log[struct{}] // every block, in memory
}

var _ ledger.Ledger = (*Ledger)(nil)

// pending is a checked transaction and its submitter.
type pending struct {
	tx   []byte
	hash [32]byte
	done chan *ledger.Result // buffered 1; nil when no block will come
}

// New starts a ledger for app, which must be fresh (at height 0): it calls
// InitChain with network as the chain id, appState as the application's
// genesis state and genesis as the genesis time, then commits block 1.
func New(app core.App, network string, appState []byte, genesis time.Time) (*Ledger, error) {
	if network == "" {
		return nil, errors.New("memledger: empty network")
	}
	ctx := context.Background()
	info, err := app.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("memledger: info: %w", err)
	}
	if info.Height != 0 {
		return nil, fmt.Errorf("memledger: the application is at height %d; it must be fresh", info.Height)
	}
	seed := sha256.Sum256([]byte("memledger validator " + network))
	pub := ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
	addr := sha256.Sum256(pub) // CometBFT's ed25519 address: the first 20 bytes
	l := &Ledger{
		app: app, network: network, genesis: genesis.UTC(),
		val:  ledger.Validator{Address: hex.EncodeToString(addr[:20]), PubKey: pub, Power: 1},
		wake: make(chan struct{}, 1), quit: make(chan struct{}), stopped: make(chan struct{}),
		seen: map[[32]byte]bool{}, blocks: blocklog.New[struct{}](nil, 0),
	}
	root, err := app.InitChain(ctx, core.Genesis{
		Time: l.genesis, ChainID: network, AppState: appState,
		Validators: []core.ValidatorUpdate{{PubKey: pub, Power: 1}},
	})
	if err != nil {
		return nil, fmt.Errorf("memledger: init chain: %w", err)
	}
	l.appHash = root
	if _, err := l.makeBlock(nil); err != nil {
		return nil, fmt.Errorf("memledger: %w", err)
	}
	go l.run()
	return l, nil
}

// Close stops the validator (after the block it is making, if any) and
// ends every Watch. Submitters still waiting get ledger.ErrClosed. It does
// not close the application.
func (l *Ledger) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	l.blocks.Close() // ends every Watch
	close(l.quit)
	<-l.stopped
	// Wait for the calls already in the application.
	l.exec.Lock()
	defer l.exec.Unlock()
	l.query.Lock()
	defer l.query.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.pool {
		p.done <- nil
	}
	l.pool = nil
	return nil
}

// usable is nil unless the ledger is closed or halted; the caller holds mu.
func (l *Ledger) usable() error {
	switch {
	case l.closed:
		return ledger.ErrClosed
	case l.halted != nil:
		return l.halted
	}
	return nil
}

// Submit implements ledger.Submitter.
func (l *Ledger) Submit(ctx context.Context, tx []byte) (*ledger.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, rejected, err := l.check(ctx, bytes.Clone(tx))
	if err != nil || rejected != nil {
		return rejected, err
	}
	select {
	case l.wake <- struct{}{}:
	default:
	}
	select {
	case r := <-p.done:
		if r == nil {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.halted != nil {
				return nil, l.halted
			}
			return nil, ledger.ErrClosed
		}
		return r, nil
	case <-ctx.Done():
		// The transaction is in the pool and still commits, as it would
		// from CometBFT's mempool.
		return nil, ctx.Err()
	}
}

// check runs Check and puts an admitted transaction into the pool; a
// refusal is a result, not an error.
func (l *Ledger) check(ctx context.Context, tx []byte) (*pending, *ledger.Result, error) {
	h := sha256.Sum256(tx)
	l.exec.Lock()
	defer l.exec.Unlock()
	l.mu.Lock()
	err := l.usable()
	switch {
	case err != nil:
	case l.seen[h]:
		err = ledger.ErrDuplicate
	default:
		l.seen[h] = true
	}
	l.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	resp := l.app.Check(ctx, tx)
	l.mu.Lock()
	defer l.mu.Unlock()
	if resp.Code != 0 {
		delete(l.seen, h)
		return nil, resp.Rejection(h), nil
	}
	p := &pending{tx: tx, hash: h, done: make(chan *ledger.Result, 1)}
	l.pool = append(l.pool, p)
	return p, nil, nil
}

// run is the validator: it makes a block of the pool whenever the pool is
// not empty, until Close, or until the application fails.
func (l *Ledger) run() {
	defer close(l.stopped)
	for {
		select {
		case <-l.quit:
			return
		case <-l.wake:
		}
		if !l.commitPool() {
			return
		}
	}
}

// commitPool makes a block of the pool and the proof block after it, and
// hands each submitter its result; false once the ledger halted. Every
// transaction in the pool was checked against the state that the block
// starts from (Check runs under exec too).
func (l *Ledger) commitPool() bool {
	l.exec.Lock()
	defer l.exec.Unlock()
	l.mu.Lock()
	var batch []*pending
	if !l.closed { // else Close fails them
		batch, l.pool = l.pool, nil
	}
	l.mu.Unlock()
	if len(batch) == 0 {
		return true
	}
	txs := make([][]byte, len(batch))
	for i, p := range batch {
		txs[i] = p.tx
	}
	b, err := l.makeBlock(txs)
	if err == nil {
		_, err = l.makeBlock(nil)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		// Still under exec: no Check admits anything after this.
		l.halted = fmt.Errorf("memledger: halted: %w", err)
		for _, p := range append(batch, l.pool...) {
			p.done <- nil
		}
		l.pool = nil
		return false
	}
	for i, p := range batch {
		r := b.Results[i]
		if r.Code != 0 {
			delete(l.seen, p.hash) // CometBFT's cache drops a transaction that failed in its block
		}
		p.done <- &r
	}
	return true
}

// makeBlock applies and commits the next block with txs and records it;
// the caller holds exec (or is New). An error is a broken invariant of the
// application.
func (l *Ledger) makeBlock(txs [][]byte) (*ledger.Block, error) {
	height := l.blocks.Height() + 1
	l.mu.Lock()
	appHash, last := l.appHash, l.last
	l.mu.Unlock()
	t := l.genesis.Add(time.Duration(height-1) * time.Second)
	hash := blockHash(l.network, height, t, last, appHash, txs)
	ctx := context.Background()
	resp, err := l.app.ApplyBlock(ctx, core.Block{Txs: txs, Height: height, Time: t})
	if err != nil {
		return nil, fmt.Errorf("finalize block %d: %w", height, err)
	}
	if len(resp.TxResults) != len(txs) {
		return nil, fmt.Errorf("block %d has %d txs and %d results", height, len(txs), len(resp.TxResults))
	}
	if _, err := l.app.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit block %d: %w", height, err)
	}
	b := ledger.Block{Height: height, Time: t, Events: resp.Events}
	for i, tx := range txs {
		b.Results = append(b.Results, resp.TxResults[i].Result(tx, height, i))
	}
	l.mu.Lock()
	l.appHash, l.last = resp.AppHash, hash
	l.mu.Unlock()
	l.blocks.Append(blocklog.Entry[struct{}]{
		Header: ledger.Header{Network: l.network, Height: height, Time: t, AppHash: appHash}, Block: b,
	})
	return &b, nil
}

// blockHash stands in for a block's hash: a digest of what identifies the
// block, distinct per chain and height.
func blockHash(network string, height int64, t time.Time, last, appHash []byte, txs [][]byte) []byte {
	d := sha256.New()
	d.Write([]byte(network))
	d.Write(binary.BigEndian.AppendUint64(nil, uint64(height)))
	d.Write(binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano())))
	d.Write(last)
	d.Write(appHash)
	for _, tx := range txs {
		h := sha256.Sum256(tx)
		d.Write(h[:])
	}
	return d.Sum(nil)
}

// Query implements ledger.Reader.
func (l *Ledger) Query(ctx context.Context, q ledger.Query) (*ledger.QueryResult, error) {
	l.query.Lock()
	defer l.query.Unlock()
	if err := l.open(); err != nil {
		return nil, err
	}
	return l.app.Query(ctx, q)
}

// open is ledger.ErrClosed once Close began.
func (l *Ledger) open() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ledger.ErrClosed
	}
	return nil
}

// Header implements ledger.Reader.
func (l *Ledger) Header(_ context.Context, height int64) (*ledger.Header, error) {
	return l.blocks.Header(height)
}

// Status implements ledger.Reader: one validator, never catching up.
func (l *Ledger) Status(context.Context) (*ledger.Status, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.blocks.Last()
	if l.closed || !ok {
		return nil, ledger.ErrClosed
	}
	last := e.Header
	v := l.val
	v.PubKey = bytes.Clone(v.PubKey)
	return &ledger.Status{
		Network: l.network, NodeID: NodeID, Height: last.Height, AppHash: bytes.Clone(l.appHash),
		Time: last.Time, Validators: []ledger.Validator{v},
	}, nil
}

// Watch implements ledger.Watcher. The channel also closes when the
// ledger closes.
func (l *Ledger) Watch(ctx context.Context, from int64) (<-chan ledger.Block, error) {
	return l.blocks.Watch(ctx, from)
}

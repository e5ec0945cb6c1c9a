// Package evmledger implements the ledger interface on an EVM chain, as a
// log-and-replay engine (the way Sidetree and ION use Bitcoin): the chain
// only orders operations; every bias node computes the state itself.
//
//   - A node posts the operations submitted to it, in batches (batch.go),
//     to the anchor contract (contracts/Anchor.sol): one transaction, one
//     Anchored event carrying the batch. The contract stores nothing but a
//     counter. Each node pays for its own transactions from its account
//     key (key.go: evm.key in its home).
//   - A follower reads the final blocks of the chain in order, decodes
//     the Anchored events of each in log order and applies their
//     operations through the engine-neutral core.App, then commits. Every
//     node that follows one contract computes the same state and the same
//     state roots.
//
// Heights: bias height h is EVM block genesisBlock+h-1, where
// genesisBlock is the block that deployed the contract (the contract
// keeps it). Every final EVM block is a bias block, empty when it carries
// no anchor, so that a height names the same block on every node, and
// block h+1 (whose header carries the root after h) follows at the pace
// of the chain. Block h's time is the EVM block's timestamp. InitChain
// runs with the time of the deployment block; block 1 is that block.
//
// Finality: a block is applied only once it is final: under the
// finalized tag (Config.Finalized), or Config.Confirmations blocks deep.
// Nothing is applied before, so a reorganisation of blocks that are not
// final yet changes nothing a node has applied: the follower has not read
// them. An anchor transaction of this node that a reorganisation drops
// from the chain comes back into the chain's pool (the EVM node
// re-injects the transactions of the dropped blocks) or is lost; after
// Config.DropAfter blocks its submitters get ErrDropped and may submit
// again. A reorganisation deeper than
// the chosen confirmations (impossible under the finalized tag) is seen
// as a block hash that changes under the follower: it stops applying and
// retries; a block it already applied is never undone, so choose the
// confirmations to exceed the chain's reorganisations.
//
// Durability: with Config.DataDir the engine writes each block (header,
// results, sources) to a block store before the application commits it,
// and drops on start what the application had not committed, so that
// Header and Watch reach back across a restart; memory holds only the
// latest Config.MemoryBlocks blocks.
//
// Trust: Header(h).AppHash is the state root that this node computed by
// replaying the chain, not a root the chain signed: a client that does
// not trust its node checks an operation's inclusion in a final block
// (Inclusion, VerifyInclusion: a receipt proof against the block's
// receipts root) and compares the roots that several independent nodes
// report at one height (witnesses).
//
//	l, err := evmledger.New(ctx, chain, app, evmledger.Config{Network: "local", Contract: addr, Key: key})
//	res, err := l.Submit(ctx, tx) // res.Height is a final block
//	h, err := l.Header(ctx, res.Height+1)
package evmledger

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/blocklog"
	"github.com/bias-iot/bias/internal/ledger/core"
)

// Chain is what the engine needs of an EVM JSON-RPC endpoint
// (*ethclient.Client has it all; so has the client of the simulated
// backend).
type Chain interface {
	bind.ContractBackend
	ethereum.ChainIDReader
	HeaderByHash(ctx context.Context, hash common.Hash) (*types.Header, error)
	TransactionReceipt(ctx context.Context, hash common.Hash) (*types.Receipt, error)
	BlockReceipts(ctx context.Context, block rpc.BlockNumberOrHash) ([]*types.Receipt, error)
}

// Errors callers branch on.
var (
	// ErrReadOnly: the ledger has no account key, so it cannot submit.
	ErrReadOnly = errors.New("evmledger: no account key: this node only follows")
	// ErrTooLarge: the operation does not fit in a batch.
	ErrTooLarge = errors.New("evmledger: operation too large for a batch")
	// ErrWrongContract: the contract is not an anchor of this network.
	ErrWrongContract = errors.New("evmledger: not the anchor contract of this network")
	// ErrDropped: the anchor transaction of the operation did not reach
	// a final block within Config.DropAfter blocks; it may still reach
	// one (then a submission again is refused by the application as a
	// replay).
	ErrDropped = errors.New("evmledger: the anchor transaction did not reach a final block in time")
)

// Config configures a Ledger.
type Config struct {
	// Network is the bias network id: the chain id that the application
	// sees, written into every batch. Batches of another network on the
	// same contract are skipped.
	Network string
	// AppState is the application's genesis document.
	AppState []byte
	// Validators is the genesis validator set that InitChain hands the
	// application, as the network's genesis names it. The EVM engine
	// has no validators and ignores later changes; the registry keeps
	// the set in its governance record, so that the same genesis gives
	// the same state root on every engine.
	Validators []core.ValidatorUpdate
	// Contract is the anchor contract's address (Deploy).
	Contract common.Address
	// EVMChainID is the EVM chain's id; nil accepts the endpoint's. The
	// node refuses an endpoint of another chain.
	EVMChainID *big.Int
	// Key pays for this node's anchor transactions; nil: a follower that
	// does not submit.
	Key *ecdsa.PrivateKey
	// Finalized applies a block once the chain's finalized tag covers it;
	// otherwise once Confirmations blocks are on top of it (0: at once,
	// for a dev chain that cannot reorganise).
	Finalized     bool
	Confirmations uint64
	// Poll is how often the follower asks for new final blocks (default
	// 1s).
	Poll time.Duration
	// MaxBatchOps bounds the operations of one anchor transaction
	// (default and limit MaxBatchOps).
	MaxBatchOps int
	// Logger logs (default: slog.Default()).
	Logger *slog.Logger
	// DataDir is where the engine keeps what it must not forget across a
	// restart: each applied block's header (height, time, the root
	// before it), its results and events, and the EVM block it came
	// from (a goleveldb database, blocks.db; a node uses HOME/data/evm).
	// "": in memory only, for tests; a restart then starts its headers
	// and its Watch at the next block.
	DataDir string
	// RetainBlocks is how many of the latest blocks the engine keeps for
	// Header, Watch and Inclusion (0: all; else at least 2, so that the
	// proof of the last block has its header). The engine also drops
	// the blocks below the RetainHeight of the application's Commit, as
	// CometBFT does.
	RetainBlocks int64
	// MemoryBlocks is how many of the latest blocks the engine keeps in
	// memory (default 256); older ones are read from the store.
	MemoryBlocks int
	// CacheSize is how many hashes of operations submitted here that
	// committed the engine keeps to refuse the same bytes again as
	// ledger.ErrDuplicate (default 100000, as CometBFT's mempool cache).
	CacheSize int
	// MaxPending bounds the operations submitted here that wait for a
	// final block (default 20000); more are ledger.ErrFull.
	MaxPending int
	// DropAfter is how many EVM blocks an anchor transaction of this
	// node may take to reach a final block, counted from the chain's head
	// when it was sent (default 256); then the engine forgets it and its
	// submitters get ErrDropped, free to submit again.
	DropAfter uint64
}

// DefaultMemoryBlocks is the default Config.MemoryBlocks.
const DefaultMemoryBlocks = 256

func (c *Config) setDefaults() {
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.MaxBatchOps <= 0 || c.MaxBatchOps > MaxBatchOps {
		c.MaxBatchOps = MaxBatchOps
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MemoryBlocks <= 0 {
		c.MemoryBlocks = DefaultMemoryBlocks
	}
	if c.CacheSize <= 0 {
		c.CacheSize = 100000
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 20000
	}
	if c.DropAfter <= 0 {
		c.DropAfter = 256
	}
}

// NetworkHash is what the anchor contract of network keeps.
func NetworkHash(network string) [32]byte { return crypto.Keccak256Hash([]byte(network)) }

// Ledger is the EVM engine.
type Ledger struct {
	cfg     Config
	chain   Chain
	app     core.App
	anchor  *Anchor
	auth    *bind.TransactOpts // nil when read-only
	genesis uint64             // the EVM block of bias height 1
	log     *slog.Logger

	wake    chan struct{}      // the pool is not empty (buffered 1)
	cancel  context.CancelFunc // ends the follower and the submitter
	stopped sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	halted   error
	pool     []*pending
	waiting  map[[32]byte]*pending   // submitted, not yet in a final block
	seen     *dupCache               // committed here lately
	inflight map[common.Hash]*flight // own anchor transactions not yet final
	appHash  []byte                  // after the last block
	final    uint64                  // the last final EVM block seen
	nonce    uint64                  // the nonce after this node's last sent anchor transaction (0: ask the endpoint)

	gas GasStats

	store  store
	blocks *blocklog.Log[evmBlock] // the applied blocks
	// The follower's own (its goroutine only): the hash of the last EVM
	// block it applied (from the store after a restart; zero without
	// one), and the seq of the next anchor, when known (from genesis, or
	// kept with the last block), so that a reorganisation or a log an
	// endpoint left out or repeated halts the follower instead of making
	// its root differ (checkLogs catches a left-out log in its block).
	prevEVM  common.Hash
	nextSeq  uint64
	seqKnown bool
	span     uint64 // the blocks of the next eth_getLogs (see logRange)
}

// flight is an anchor transaction of this node on its way.
type flight struct {
	ops  []*pending
	sent uint64 // the chain's head when it was sent
}

// pending is a submitted operation and its submitter.
type pending struct {
	tx   []byte
	hash [32]byte
	done chan outcome // buffered 1
}

type outcome struct {
	r   *ledger.Result
	err error
}

// GasStats counts the gas of this node's anchor transactions that reached
// a final block.
type GasStats struct {
	Batches uint64
	Ops     uint64
	Gas     uint64
}

var _ ledger.Ledger = (*Ledger)(nil)

// New follows the anchor contract cfg.Contract on chain and drives app,
// which must be fresh or have been driven by this engine on the same
// contract before. It returns once block 1 (the deployment block) is
// applied, or the application's last block is known, so that the genesis
// state is readable.
func New(ctx context.Context, chain Chain, app core.App, cfg Config) (*Ledger, error) {
	cfg.setDefaults()
	if err := checkNetwork(cfg.Network); err != nil {
		return nil, err
	}
	if cfg.RetainBlocks < 0 || cfg.RetainBlocks == 1 {
		return nil, fmt.Errorf("evmledger: RetainBlocks is %d: 0 (all) or at least 2", cfg.RetainBlocks)
	}
	id, err := chain.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("evmledger: chain id: %w", err)
	}
	if cfg.EVMChainID != nil && id.Cmp(cfg.EVMChainID) != 0 {
		return nil, fmt.Errorf("evmledger: the endpoint is EVM chain %s, want %s", id, cfg.EVMChainID)
	}
	anchor, err := NewAnchor(cfg.Contract, chain)
	if err != nil {
		return nil, fmt.Errorf("evmledger: %w", err)
	}
	call := &bind.CallOpts{Context: ctx}
	nh, err := anchor.Network(call)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrWrongContract, cfg.Contract, err)
	}
	if nh != NetworkHash(cfg.Network) {
		return nil, fmt.Errorf("%w: %s anchors another network", ErrWrongContract, cfg.Contract)
	}
	gb, err := anchor.GenesisBlock(call)
	if err != nil || !gb.IsUint64() {
		return nil, fmt.Errorf("%w: genesis block: %v", ErrWrongContract, err)
	}
	l := &Ledger{
		cfg: cfg, chain: chain, app: app, anchor: anchor, genesis: gb.Uint64(), log: cfg.Logger,
		wake:    make(chan struct{}, 1),
		waiting: map[[32]byte]*pending{}, seen: newDupCache(cfg.CacheSize), inflight: map[common.Hash]*flight{},
	}
	if cfg.Key != nil {
		if l.auth, err = bind.NewKeyedTransactorWithChainID(cfg.Key, id); err != nil {
			return nil, fmt.Errorf("evmledger: %w", err)
		}
	}
	if err := l.resume(ctx); err != nil {
		return nil, err
	}
	if err := l.start(ctx); err != nil {
		l.blocks.Close()
		_ = l.store.close()
		return nil, err
	}
	run, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel = cancel
	l.stopped.Add(2)
	go l.follow(run)
	go l.submitLoop(run)
	return l, nil
}

// resume opens the block store and takes up the application where it
// is: the store keeps the blocks up to the application's height (a block
// written before a crash that came before the application committed it
// is dropped and applied again), and the follower goes on from the last
// one's EVM block and anchor seq.
func (l *Ledger) resume(ctx context.Context) error {
	info, err := l.app.Info(ctx)
	if err != nil {
		return fmt.Errorf("evmledger: info: %w", err)
	}
	if l.store, err = openStore(l.cfg, l.genesis); err != nil {
		return err
	}
	l.blocks = blocklog.New[evmBlock](l.store, l.cfg.MemoryBlocks)
	dropped, err := l.blocks.Resume(info.Height)
	if err != nil {
		_ = l.store.close()
		return fmt.Errorf("evmledger: %w", err)
	}
	if dropped > 0 {
		l.log.Warn("dropped stored blocks the application had not committed", "blocks", dropped, "height", info.Height)
	}
	l.appHash = info.AppHash
	if last, ok := l.blocks.Last(); ok {
		l.prevEVM, l.nextSeq, l.seqKnown = last.Extra.EVM, last.Extra.NextSeq, last.Extra.SeqKnown
	}
	return nil
}

// start applies the final blocks, at least block 1 (the deployment
// block), so that the genesis state is readable.
func (l *Ledger) start(ctx context.Context) error {
	for l.height() < 1 {
		if err := l.catchUp(ctx); err != nil {
			return err
		}
		if l.height() >= 1 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("evmledger: waiting for the deployment block %d to be final: %w", l.genesis, ctx.Err())
		case <-time.After(l.cfg.Poll):
		}
	}
	return nil
}

// height is the last applied bias height.
func (l *Ledger) height() int64 { return l.blocks.Height() }

// Address is the account that pays for this node's submissions.
func (l *Ledger) Address() common.Address {
	if l.auth == nil {
		return common.Address{}
	}
	return l.auth.From
}

// Gas reports the gas of this node's anchor transactions so far.
func (l *Ledger) Gas() GasStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.gas
}

// Close stops the follower and the submitter and ends every Watch.
// Submitters still waiting get ledger.ErrClosed. It does not close the
// application nor the chain.
func (l *Ledger) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	l.cancel()
	l.stopped.Wait()
	l.blocks.Close()
	l.mu.Lock()
	l.failAll(ledger.ErrClosed)
	l.mu.Unlock()
	if err := l.store.close(); err != nil {
		return fmt.Errorf("evmledger: close the block store: %w", err)
	}
	return nil
}

// failAll fails every waiting submitter; the caller holds mu.
func (l *Ledger) failAll(err error) {
	for h, p := range l.waiting {
		p.done <- outcome{err: err}
		delete(l.waiting, h)
	}
	l.pool = nil
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

// Submit implements ledger.Submitter: it returns once the operation is in
// a final block (or refused by the application's check before one).
func (l *Ledger) Submit(ctx context.Context, tx []byte) (*ledger.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if l.auth == nil {
		return nil, ErrReadOnly
	}
	if len(tx) == 0 || EncodedSize(l.cfg.Network, 1, len(tx)) > MaxBatchBytes {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(tx))
	}
	tx = bytes.Clone(tx)
	h := sha256.Sum256(tx)
	p := &pending{tx: tx, hash: h, done: make(chan outcome, 1)}
	l.mu.Lock()
	err := l.usable()
	switch {
	case err != nil:
	case l.waiting[h] != nil || l.seen.has(h):
		err = ledger.ErrDuplicate
	case len(l.waiting) >= l.cfg.MaxPending:
		err = fmt.Errorf("%w: %d operations wait for a final block", ledger.ErrFull, len(l.waiting))
	default:
		l.waiting[h] = p // the same bytes meanwhile are duplicates
	}
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	c := l.app.Check(ctx, tx)
	l.mu.Lock()
	if err := l.usable(); err != nil {
		l.mu.Unlock()
		return nil, err
	}
	if c.Code != 0 {
		delete(l.waiting, h)
		l.mu.Unlock()
		return c.Rejection(h), nil
	}
	l.pool = append(l.pool, p)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	select {
	case o := <-p.done:
		return o.r, o.err
	case <-ctx.Done():
		// The operation may still reach a final block.
		return nil, ctx.Err()
	}
}

// Query implements ledger.Reader.
func (l *Ledger) Query(ctx context.Context, q ledger.Query) (*ledger.QueryResult, error) {
	if err := l.open(); err != nil {
		return nil, err
	}
	return l.app.Query(ctx, q)
}

func (l *Ledger) open() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ledger.ErrClosed
	}
	return nil
}

// Header implements ledger.Reader. Its AppHash is the root this node
// computed after block Height-1, not one the chain signed.
func (l *Ledger) Header(_ context.Context, height int64) (*ledger.Header, error) {
	if err := l.open(); err != nil {
		return nil, err
	}
	return l.blocks.Header(height)
}

// Status implements ledger.Reader. An EVM chain has no validators of
// bias; NodeID is the paying account ("" for a follower).
func (l *Ledger) Status(context.Context) (*ledger.Status, error) {
	last, ok := l.blocks.Last()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ledger.ErrClosed
	}
	s := &ledger.Status{Network: l.cfg.Network, AppHash: bytes.Clone(l.appHash)}
	if l.auth != nil {
		s.NodeID = l.auth.From.Hex()
	}
	if ok {
		s.Height, s.Time = last.Header.Height, last.Header.Time
		s.CatchingUp = l.genesis+uint64(last.Header.Height)-1 < l.final //nolint:gosec // heights are positive
	}
	return s, nil
}

// Watch implements ledger.Watcher: from the blocks in the store (after a
// restart, those applied before it), then each new one. A height below
// the blocks kept is ledger.ErrNotFound; the channel also closes when
// the ledger closes.
func (l *Ledger) Watch(ctx context.Context, from int64) (<-chan ledger.Block, error) {
	if err := l.open(); err != nil {
		return nil, err
	}
	return l.blocks.Watch(ctx, from)
}

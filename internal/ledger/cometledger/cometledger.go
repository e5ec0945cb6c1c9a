// Package cometledger implements the ledger interface with CometBFT v0.38
// embedded in the process: the node runs consensus, p2p and the block
// store; the application, a core.App, runs behind a per-connection local
// ABCI client through the adapter in abci.go. It is the only package
// that speaks CometBFT's ABCI types: the registry knows core's.
//
//	app := registry.New(network, st, logger) // a core.App
//	l, err := cometledger.Start(cometledger.Config{Home: home, P2PListen: "tcp://127.0.0.1:0"}, app, logger)
//	defer l.Close()
//	res, err := l.Submit(ctx, tx)
package cometledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/mempool"
	nm "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	protomem "github.com/cometbft/cometbft/proto/tendermint/mempool"
	"github.com/cometbft/cometbft/proxy"
	"github.com/cometbft/cometbft/rpc/client/local"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/core"
)

// Config is the engine's part of a node's configuration.
type Config struct {
	// Home holds config/ (genesis, keys) and data/ (blocks).
	Home string
	// P2PListen is the p2p listen address, e.g. tcp://127.0.0.1:26656.
	P2PListen string
	// PersistentPeers is a comma-separated list of id@host:port.
	PersistentPeers string
	// ExternalAddress is the address peers should dial (host:port).
	ExternalAddress string
	// Moniker names the node to its peers.
	Moniker string
	// TimeoutCommit is the pause after a block (the latency floor); 0
	// commits as soon as the votes are in.
	TimeoutCommit time.Duration
	// CreateEmptyBlocks makes blocks even with no transactions.
	CreateEmptyBlocks bool
	// MaxTimeLag is how much more than TimeoutCommit the time of a block
	// this node proposes may lie behind its clock when the block carries
	// operations (default 2s): an older time is the last commit before an
	// idle spell, and the node proposes an empty block first so that the
	// operations get the time of that block's commit (see refresh).
	MaxTimeLag time.Duration
	// AllowDuplicateIP lets several peers share an IP (one-host testnets).
	AllowDuplicateIP bool
	// Mempool bounds the mempool (zero fields: DefaultMempool's); a node
	// derives it from its memory budget.
	Mempool Mempool
	// StallWarning is how long operations may wait with no block before
	// the node warns (default 10s).
	StallWarning time.Duration
	// ResendAfter is how long operations submitted here may wait with no
	// block before the node sends them to its peers again (default 2s).
	ResendAfter time.Duration
	// WedgeAfter is how long this node's validator, when the network
	// cannot commit without it, may stay in a round in which its signer
	// refused to vote before the node reports it wedged (default 5s; see
	// WedgeError).
	WedgeAfter time.Duration
	// Metrics, when set, receives CometBFT's instrumentation (namespace
	// cometbft; see metricsProvider); nil: no CometBFT metrics.
	Metrics *prometheus.Registry
	// Observer, when set, hears of re-sends and stall warnings.
	Observer Observer
	// Snapshots, when set, serves the application's snapshots to peers
	// and restores one on a node that joins by state sync (snapshot.go).
	Snapshots core.Snapshotter
	// RPCListen is CometBFT's RPC listen address (tcp://host:port; ""
	// none, the default): nodes that join by state sync read light
	// blocks from it. Anyone who reaches it may submit transactions
	// past the API: keep it on a private address.
	RPCListen string
	// StateSync makes a node with no state join from a snapshot.
	StateSync StateSync
}

// Ledger is a running embedded CometBFT node.
type Ledger struct {
	node   *nm.Node
	client *local.Local
	log    *slog.Logger
	cfg    *cmtcfg.Config
	signer *signer
	// wedge is set while the validator is wedged (see Wedged).
	wedge atomic.Pointer[WedgeError]

	// life keeps Close from stopping the node (and closing its stores)
	// while a call reads them: calls hold it shared, Close exclusively.
	life sync.RWMutex

	mu      sync.Mutex
	waiters map[[32]byte][]chan *ledger.Result
	height  int64
	tick    chan struct{} // closed and replaced at each commit
	// lastCommit is when the last block committed (or the node started).
	lastCommit time.Time
	// submitted holds the bytes of the operations submitted here that
	// wait for their block, for re-sending.
	submitted map[[32]byte][]byte
	resending atomic.Bool // a round of re-sending is under way
	closed    bool
	obs       Observer
	// stallAfter is the stall warning's window (Config.StallWarning).
	stallAfter time.Duration
}

var _ ledger.Ledger = (*Ledger)(nil)

// Mempool bounds CometBFT's mempool.
type Mempool struct {
	// Txs and Bytes bound the operations waiting in the mempool, in
	// number and in bytes (CometBFT refuses more: mempool full).
	Txs   int
	Bytes int64
	// Cache is how many hashes of recently seen operations the mempool
	// keeps, to drop those it has seen (about 100 bytes each).
	Cache int
}

// DefaultMempool is the mempool of a Config that sets none.
var DefaultMempool = Mempool{Txs: 20000, Bytes: 1 << 30, Cache: 100000}

func (m Mempool) withDefaults() Mempool {
	d := DefaultMempool
	if m.Txs <= 0 {
		m.Txs = d.Txs
	}
	if m.Bytes <= 0 {
		m.Bytes = d.Bytes
	}
	if m.Cache <= 0 {
		m.Cache = d.Cache
	}
	return m
}

// Mempool returns the bounds of the running node's mempool.
func (l *Ledger) Mempool() Mempool {
	return Mempool{Txs: l.cfg.Mempool.Size, Bytes: l.cfg.Mempool.MaxTxsBytes, Cache: l.cfg.Mempool.CacheSize}
}

// cometConfig builds CometBFT's configuration from ours.
func cometConfig(c Config) *cmtcfg.Config {
	cfg := cmtcfg.DefaultConfig()
	cfg.SetRoot(c.Home)
	cfg.Moniker = c.Moniker
	stateSyncConfig(cfg, c) // no RPC listener unless asked for
	cfg.P2P.ListenAddress = c.P2PListen
	cfg.P2P.PersistentPeers = c.PersistentPeers
	cfg.P2P.ExternalAddress = c.ExternalAddress
	cfg.P2P.AllowDuplicateIP = c.AllowDuplicateIP
	cfg.P2P.AddrBookStrict = !c.AllowDuplicateIP
	// Peers are configured (persistent peers); address exchange stays off,
	// which also keeps a standalone node from writing an address book.
	cfg.P2P.PexReactor = false
	cfg.Consensus.TimeoutCommit = c.TimeoutCommit
	cfg.Consensus.SkipTimeoutCommit = c.TimeoutCommit == 0
	cfg.Consensus.CreateEmptyBlocks = c.CreateEmptyBlocks
	mp := c.Mempool.withDefaults()
	cfg.Mempool.Size, cfg.Mempool.MaxTxsBytes, cfg.Mempool.CacheSize = mp.Txs, mp.Bytes, mp.Cache
	cfg.Storage.DiscardABCIResponses = false // Watch replays results from the store
	cfg.TxIndex.Indexer = "null"
	return cfg
}

// Start starts a node for app from the home in c, which Init must have
// prepared; CometBFT drives app through the ABCI adapter (abciApp). The
// node replays the blocks the app missed (CometBFT's handshake) before
// Start returns.
func Start(c Config, app core.App, log *slog.Logger) (*Ledger, error) {
	cfg := cometConfig(c)
	if err := c.StateSync.validate(c.Snapshots); err != nil {
		return nil, err
	}
	if err := cfg.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("consensus config: %w", err)
	}
	info, err := app.Info(context.Background())
	if err != nil {
		return nil, err
	}
	l := &Ledger{log: log, cfg: cfg, waiters: map[[32]byte][]chan *ledger.Result{}, submitted: map[[32]byte][]byte{}, height: info.Height, tick: make(chan struct{}), lastCommit: time.Now(), obs: c.Observer}
	nodeKey, err := p2p.LoadNodeKey(cfg.NodeKeyFile())
	if err != nil {
		return nil, fmt.Errorf("load node key: %w", err)
	}
	l.signer = &signer{pv: privval.LoadFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile())}
	lag := c.MaxTimeLag
	if lag <= 0 {
		lag = 2 * time.Second
	}
	n, err := nm.NewNode(cfg, l.signer, nodeKey,
		proxy.NewConnSyncLocalClientCreator(&shim{Application: &abciApp{app: app}, l: l, maxAge: c.TimeoutCommit + lag, snap: c.Snapshots}),
		nm.DefaultGenesisDocProviderFunc(cfg), shutdownSafeDBProvider,
		metricsProvider(cfg.Instrumentation, c.Metrics), slogAdapter{log.With("module", "cometbft")})
	if err != nil {
		return nil, fmt.Errorf("create node: %w", err)
	}
	if err := n.Start(); err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	l.node = n
	l.client = local.New(n)
	stall, resend, wedge := c.StallWarning, c.ResendAfter, c.WedgeAfter
	if stall <= 0 {
		stall = 10 * time.Second
	}
	if resend <= 0 {
		resend = 2 * time.Second
	}
	if wedge <= 0 {
		wedge = 5 * time.Second
	}
	l.stallAfter = stall
	go l.watchStalls(stall, resend, wedge)
	return l, nil
}

// maxResend bounds the operations re-sent at once.
const maxResend = 512

// watchStalls looks after operations that wait in the mempool while no
// block commits (a network that makes no empty blocks should never sit
// on work). After resend, it sends the operations submitted here to every
// peer again: CometBFT's mempool gossips an operation to a peer once, and
// a peer that refused it then (say, one block behind, or while it held
// another key of the signer) never asks again; if that peer is the one to
// propose, nothing else would move. After warn, it says so once per stall,
// with where consensus stands. It also watches for a wedged validator
// (watchWedge).
func (l *Ledger) watchStalls(warn, resend, wedge time.Duration) {
	t := time.NewTicker(max(resend/4, 10*time.Millisecond))
	defer t.Stop()
	warned := false
	var lastResend time.Time
	for range t.C {
		if !l.enter() {
			return
		}
		l.watchWedge(wedge)
		l.mu.Lock()
		since, height := time.Since(l.lastCommit), l.height
		l.mu.Unlock()
		waiting := l.node.Mempool().Size()
		if waiting > 0 && since >= resend && time.Since(lastResend) >= resend && l.resending.CompareAndSwap(false, true) {
			lastResend = time.Now()
			l.resend()
		}
		switch {
		case waiting == 0 || since < warn:
			warned = false
		case !warned:
			warned = true
			if l.obs != nil {
				l.obs.Stalled()
			}
			step := "unknown"
			if cs, err := l.client.ConsensusState(context.Background()); err == nil {
				var rs struct {
					HRS string `json:"height/round/step"`
				}
				if json.Unmarshal(cs.RoundState, &rs) == nil {
					step = rs.HRS
				}
			}
			l.log.Warn("operations wait but no block commits", "waiting", waiting, "since", since.Round(time.Second),
				"height", height, "consensus", step, "peers", l.node.Switch().Peers().Size())
		}
		l.exit()
	}
}

// resend sends the operations submitted here that wait for their block
// to every peer, as the mempool's own gossip does: in the background, a
// goroutine per peer, so that a peer that does not read (a send waits up
// to 10 s) holds up neither this loop nor Close; one round at a time. The
// caller holds life (the peer list is read under it) and set resending.
func (l *Ledger) resend() {
	l.mu.Lock()
	txs := make([][]byte, 0, min(len(l.submitted), maxResend))
	for _, tx := range l.submitted {
		if len(txs) == maxResend {
			break
		}
		txs = append(txs, tx)
	}
	l.mu.Unlock()
	peers := l.node.Switch().Peers().List()
	if len(txs) == 0 || len(peers) == 0 {
		l.resending.Store(false)
		return
	}
	go func() {
		defer l.resending.Store(false)
		var wg sync.WaitGroup
		for _, p := range peers {
			wg.Go(func() {
				for _, tx := range txs {
					// False once the peer is gone or stuck: stop there.
					if !p.Send(p2p.Envelope{ChannelID: mempool.MempoolChannel, Message: &protomem.Txs{Txs: [][]byte{tx}}}) {
						return
					}
				}
			})
		}
		wg.Wait()
		l.mu.Lock()
		closed := l.closed
		l.mu.Unlock()
		if !closed && l.obs != nil {
			l.obs.Resent(len(txs))
		}
		if !closed {
			l.log.Info("no block: sent the operations waiting here to the peers again", "operations", len(txs), "peers", len(peers))
		}
	}()
}

// NodeID is the p2p node id.
func (l *Ledger) NodeID() string { return string(l.node.NodeInfo().ID()) }

// enter begins a call that reads the node's stores; false once closed.
func (l *Ledger) enter() bool {
	l.life.RLock()
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		l.life.RUnlock()
	}
	return !closed
}

func (l *Ledger) exit() { l.life.RUnlock() }

// Close stops the node.
func (l *Ledger) Close() error {
	l.life.Lock()
	defer l.life.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.tick)
	// Submitters waiting for a block that will not come learn it now.
	for h, list := range l.waiters {
		for _, c := range list {
			select {
			case c <- nil:
			default:
			}
		}
		delete(l.waiters, h)
	}
	clear(l.submitted)
	l.mu.Unlock()
	if err := l.node.Stop(); err != nil {
		return err
	}
	l.node.Wait()
	return nil
}

// Submit implements ledger.Submitter.
func (l *Ledger) Submit(ctx context.Context, tx []byte) (*ledger.Result, error) {
	h := sha256.Sum256(tx)
	done := make(chan *ledger.Result, 1)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, ledger.ErrClosed
	}
	l.waiters[h] = append(l.waiters[h], done)
	l.submitted[h] = tx
	l.mu.Unlock()
	defer l.unwait(h, done)

	checked := make(chan *abci.ResponseCheckTx, 1)
	if !l.enter() {
		return nil, ledger.ErrClosed
	}
	err := l.node.Mempool().CheckTx(tx, func(r *abci.ResponseCheckTx) { checked <- r }, mempool.TxInfo{})
	l.exit()
	switch {
	case errors.Is(err, mempool.ErrTxInCache):
		return nil, ledger.ErrDuplicate
	case errors.As(err, &mempool.ErrMempoolIsFull{}):
		return nil, ledger.ErrFull
	case err != nil:
		return nil, fmt.Errorf("mempool: %w", err)
	}
	select {
	case r := <-checked:
		if r.Code != 0 {
			return rejection(h, r), nil
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-done:
		if r == nil {
			return nil, ledger.ErrClosed
		}
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *Ledger) unwait(h [32]byte, ch chan *ledger.Result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	list := l.waiters[h]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(l.waiters, h)
		delete(l.submitted, h)
	} else {
		l.waiters[h] = list
	}
}

// notify hands a result to the submitters waiting for tx hash h.
func (l *Ledger) notify(h [32]byte, r *ledger.Result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.waiters[h] {
		select {
		case c <- r:
		default:
		}
	}
	delete(l.waiters, h)
	delete(l.submitted, h)
}

func (l *Ledger) committed(height int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.height = height
	l.lastCommit = time.Now()
	if !l.closed {
		close(l.tick)
		l.tick = make(chan struct{})
	}
}

// Height is the last committed height.
func (l *Ledger) Height() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.height
}

// Query implements ledger.Reader.
func (l *Ledger) Query(ctx context.Context, q ledger.Query) (*ledger.QueryResult, error) {
	if !l.enter() {
		return nil, ledger.ErrClosed
	}
	defer l.exit()
	resp, err := l.node.ProxyApp().Query().Query(ctx, &abci.RequestQuery{Path: q.Path, Data: q.Data, Height: q.Height, Prove: q.Prove})
	if err != nil {
		return nil, err
	}
	return queryResult(resp), nil
}

// Header implements ledger.Reader.
func (l *Ledger) Header(_ context.Context, height int64) (*ledger.Header, error) {
	if !l.enter() {
		return nil, ledger.ErrClosed
	}
	defer l.exit()
	meta := l.node.BlockStore().LoadBlockMeta(height)
	if meta == nil {
		return nil, fmt.Errorf("%w: block %d", ledger.ErrNotFound, height)
	}
	return &ledger.Header{Network: meta.Header.ChainID, Height: meta.Header.Height, Time: meta.Header.Time, AppHash: meta.Header.AppHash}, nil
}

// Status implements ledger.Reader.
func (l *Ledger) Status(ctx context.Context) (*ledger.Status, error) {
	if !l.enter() {
		return nil, ledger.ErrClosed
	}
	defer l.exit()
	st, err := l.client.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := &ledger.Status{
		Network: st.NodeInfo.Network, NodeID: string(st.NodeInfo.DefaultNodeID),
		Height: st.SyncInfo.LatestBlockHeight, AppHash: st.SyncInfo.LatestAppHash,
		Time: st.SyncInfo.LatestBlockTime, CatchingUp: st.SyncInfo.CatchingUp,
	}
	if out.Height == 0 {
		// Before the first block there is no validator set to read.
		return out, nil
	}
	out.Validators, err = l.validators(ctx, nil)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// validators returns the validator set of height (nil: the height
// consensus is at). The caller holds life.
func (l *Ledger) validators(ctx context.Context, height *int64) ([]ledger.Validator, error) {
	var out []ledger.Validator
	perPage := 100
	for page := 1; ; page++ {
		vals, err := l.client.Validators(ctx, height, &page, &perPage)
		if err != nil {
			return nil, err
		}
		for _, v := range vals.Validators {
			out = append(out, ledger.Validator{Address: hex.EncodeToString(v.Address), PubKey: v.PubKey.Bytes(), Power: v.VotingPower})
		}
		if len(vals.Validators) == 0 || len(out) >= vals.Total {
			return out, nil
		}
	}
}

// Watch implements ledger.Watcher.
func (l *Ledger) Watch(ctx context.Context, from int64) (<-chan ledger.Block, error) {
	if from < 1 {
		from = 1
	}
	base, err := l.firstBlock(ctx)
	if err != nil {
		return nil, err
	}
	if base > 1 && from < base {
		return nil, &ledger.PrunedError{From: from, First: base}
	}
	out := make(chan ledger.Block, 16)
	go func() {
		defer close(out)
		for h := from; ; h++ {
			if !l.waitHeight(ctx, h) {
				return
			}
			b, err := l.block(ctx, h)
			if errors.Is(err, ledger.ErrClosed) {
				return
			}
			if err != nil {
				l.log.Error("watch: load block", "height", h, "err", err)
				return
			}
			select {
			case out <- *b:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// firstBlock is the first block the store holds (0: none yet, on a node
// that replays from genesis). On a node that joins by state sync and
// holds no block yet, the first it will hold is unknown until the
// restore ends and the block after the snapshot is stored: it waits for
// that (or ctx).
func (l *Ledger) firstBlock(ctx context.Context) (int64, error) {
	for {
		l.mu.Lock()
		tick := l.tick
		l.mu.Unlock()
		if !l.enter() {
			return 0, ledger.ErrClosed
		}
		base := l.node.BlockStore().Base()
		l.exit()
		if base > 0 || !l.cfg.StateSync.Enable {
			return base, nil
		}
		select {
		case <-tick:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// waitHeight blocks until height h is committed; false if ctx ended or
// the ledger closed first.
func (l *Ledger) waitHeight(ctx context.Context, h int64) bool {
	for {
		l.mu.Lock()
		height, tick, closed := l.height, l.tick, l.closed
		l.mu.Unlock()
		if closed {
			return false
		}
		if height >= h {
			return true
		}
		select {
		case <-tick:
		case <-ctx.Done():
			return false
		}
	}
}

func (l *Ledger) block(ctx context.Context, h int64) (*ledger.Block, error) {
	if !l.enter() {
		return nil, ledger.ErrClosed
	}
	defer l.exit()
	blk := l.node.BlockStore().LoadBlock(h)
	if blk == nil {
		return nil, fmt.Errorf("%w: block %d", ledger.ErrNotFound, h)
	}
	res, err := l.client.BlockResults(ctx, &h)
	if err != nil {
		return nil, err
	}
	if len(res.TxsResults) != len(blk.Txs) {
		return nil, fmt.Errorf("block %d has %d txs and %d results", h, len(blk.Txs), len(res.TxsResults))
	}
	out := &ledger.Block{Height: h, Time: blk.Time, Events: events(res.FinalizeBlockEvents)}
	for i, tx := range blk.Txs {
		out.Results = append(out.Results, result(tx, h, i, res.TxsResults[i]))
	}
	return out, nil
}

// WaitHeight blocks until block h is committed or ctx ends.
func (l *Ledger) WaitHeight(ctx context.Context, h int64) error {
	if l.waitHeight(ctx, h) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return ledger.ErrClosed
}

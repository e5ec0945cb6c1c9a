package evmledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/bias-iot/bias/evmproof"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/blocklog"
	"github.com/bias-iot/bias/internal/ledger/core"
)

// logRange bounds the blocks of one eth_getLogs call. An endpoint that
// refuses a range (many cap the blocks or the results of one call) gets
// half of it, down to one block; each success doubles it again, up to
// logRange.
const logRange = 256

// anchoredTopic is the topic of the Anchored event.
var anchoredTopic = evmproof.AnchoredTopic

// errReorg: a block changed under the follower (a reorganisation deeper
// than the confirmations); it retries at the next poll.
var errReorg = errors.New("evmledger: the chain reorganised below the final head")

// follow applies final blocks until Close, or until the application fails.
func (l *Ledger) follow(ctx context.Context) {
	defer l.stopped.Done()
	for {
		err := l.catchUp(ctx)
		var broken *appError
		switch {
		case ctx.Err() != nil:
			return
		case errors.As(err, &broken):
			l.mu.Lock()
			l.halted = fmt.Errorf("evmledger: halted: %w", err)
			l.failAll(l.halted)
			l.mu.Unlock()
			l.log.Error("application failed; the follower stops", "err", err)
			return
		case err != nil:
			l.log.Warn("following the chain", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(l.cfg.Poll):
		}
	}
}

// appError is a broken invariant of the application.
type appError struct{ err error }

func (e *appError) Error() string { return e.err.Error() }
func (e *appError) Unwrap() error { return e.err }

// finalHead is the number of the last final EVM block; false when none is
// final yet.
func (l *Ledger) finalHead(ctx context.Context) (uint64, bool, error) {
	if l.cfg.Finalized {
		h, err := l.chain.HeaderByNumber(ctx, big.NewInt(int64(rpc.FinalizedBlockNumber)))
		if err != nil {
			return 0, false, fmt.Errorf("finalized header: %w", err)
		}
		return h.Number.Uint64(), true, nil
	}
	h, err := l.chain.HeaderByNumber(ctx, nil)
	if err != nil {
		return 0, false, fmt.Errorf("latest header: %w", err)
	}
	n := h.Number.Uint64()
	if n < l.cfg.Confirmations {
		return 0, false, nil
	}
	return n - l.cfg.Confirmations, true, nil
}

// catchUp applies every final block not applied yet.
func (l *Ledger) catchUp(ctx context.Context) error {
	final, ok, err := l.finalHead(ctx)
	if err != nil || !ok {
		return err
	}
	l.mu.Lock()
	l.final = max(l.final, final)
	l.mu.Unlock()
	for {
		next := l.genesis + uint64(l.height()) //nolint:gosec // heights are at least 0
		if next > final {
			return nil
		}
		if l.span == 0 {
			l.span = logRange
		}
		to := min(final, next+l.span-1)
		logs, err := l.chain.FilterLogs(ctx, ethereum.FilterQuery{
			FromBlock: new(big.Int).SetUint64(next), ToBlock: new(big.Int).SetUint64(to),
			Addresses: []common.Address{l.cfg.Contract}, Topics: [][]common.Hash{{anchoredTopic}},
		})
		switch {
		case err != nil && to > next && ctx.Err() == nil:
			l.span = (to - next + 1) / 2
			l.log.Debug("the endpoint refused a range of logs; halving it", "from", next, "to", to, "err", err)
			continue
		case err != nil:
			return fmt.Errorf("logs of blocks %d to %d: %w", next, to, err)
		}
		l.span = min(logRange, 2*l.span)
		for n := next; n <= to; n++ {
			var mine []types.Log
			for len(logs) > 0 && logs[0].BlockNumber == n {
				mine, logs = append(mine, logs[0]), logs[1:]
			}
			if len(logs) > 0 && logs[0].BlockNumber < n {
				return fmt.Errorf("logs of blocks %d to %d out of order", next, to)
			}
			if err := l.applyEVM(ctx, n, mine); err != nil {
				return err
			}
		}
	}
}

// applyEVM applies EVM block n, whose anchor logs are logs (in log order),
// as the next bias block.
func (l *Ledger) applyEVM(ctx context.Context, n uint64, logs []types.Log) error {
	hdr, err := l.chain.HeaderByNumber(ctx, new(big.Int).SetUint64(n))
	if err != nil {
		return fmt.Errorf("header %d: %w", n, err)
	}
	hash := hdr.Hash()
	h := int64(n-l.genesis) + 1 //nolint:gosec // n is at least genesis
	if h > 1 && l.prevEVM != (common.Hash{}) && hdr.ParentHash != l.prevEVM {
		return fmt.Errorf("%w: block %d is not the child of the block applied before it", errReorg, n)
	}
	if err := l.checkLogs(ctx, hdr, logs); err != nil {
		return err
	}
	nextSeq, seqKnown := l.nextSeq, l.seqKnown
	if h == 1 {
		nextSeq, seqKnown = 0, true // the anchor's first batch is seq 0
	}
	var txs [][]byte
	var srcs []source
	for i, lg := range logs {
		if lg.BlockHash != hash || lg.Removed {
			return fmt.Errorf("%w: block %d", errReorg, n)
		}
		// What the endpoint says must be what the chain has: the anchor's
		// logs only, each once, in log order (else retry, never apply).
		if lg.Address != l.cfg.Contract || (i > 0 && lg.Index <= logs[i-1].Index) {
			return fmt.Errorf("block %d: the endpoint's anchor logs are of another contract, repeated or out of order", n)
		}
		ev, err := l.anchor.ParseAnchored(lg)
		if err != nil {
			l.log.Warn("skipping an undecodable anchor event", "block", n, "log", lg.Index, "err", err)
			continue
		}
		if seqKnown && ev.Seq != nextSeq {
			return fmt.Errorf("block %d: anchor batch %d where %d was next: the endpoint left out or repeated a log", n, ev.Seq, nextSeq)
		}
		nextSeq, seqKnown = ev.Seq+1, true
		b, err := DecodeBatch(ev.Batch)
		if err != nil || b.Network != l.cfg.Network {
			l.log.Warn("skipping a batch", "block", n, "log", lg.Index, "tx", lg.TxHash, "err", err, "network", b.Network)
			continue
		}
		for i, op := range b.Ops {
			txs = append(txs, op)
			srcs = append(srcs, source{Tx: lg.TxHash, TxIndex: lg.TxIndex, LogIndex: lg.Index, Op: i})
		}
	}
	t := time.Unix(int64(hdr.Time), 0).UTC() //nolint:gosec // EVM timestamps fit
	l.mu.Lock()
	prev := l.appHash
	l.mu.Unlock()
	if h == 1 {
		root, err := l.app.InitChain(ctx, core.Genesis{
			ChainID: l.cfg.Network, Time: t, AppState: l.cfg.AppState, Validators: l.cfg.Validators,
		})
		if err != nil {
			return &appError{fmt.Errorf("init chain: %w", err)}
		}
		prev = root
	}
	res, err := l.app.ApplyBlock(ctx, core.Block{Height: h, Time: t, Txs: txs})
	if err != nil {
		return &appError{fmt.Errorf("apply block %d: %w", h, err)}
	}
	if len(res.TxResults) != len(txs) {
		return &appError{fmt.Errorf("block %d has %d txs and %d results", h, len(txs), len(res.TxResults))}
	}
	e := blocklog.Entry[evmBlock]{
		Header: ledger.Header{Network: l.cfg.Network, Height: h, Time: t, AppHash: prev},
		Block:  ledger.Block{Height: h, Time: t, Events: res.Events},
		Extra:  evmBlock{EVM: hash, Sources: srcs, NextSeq: nextSeq, SeqKnown: seqKnown},
	}
	full := make([]ledger.Result, len(txs)) // what the submitters get
	e.Block.Results = make([]ledger.Result, len(txs))
	for i, tx := range txs {
		full[i] = res.TxResults[i].Result(tx, h, i)
		e.Block.Results[i] = kept(full[i])
	}
	// The block is on disk before the state that follows it: a crash in
	// between leaves the store one block ahead, which resume drops.
	if err := l.blocks.Persist(e); err != nil {
		return &appError{err}
	}
	c, err := l.app.Commit(ctx)
	if err != nil {
		return &appError{fmt.Errorf("commit block %d: %w", h, err)}
	}
	l.prevEVM, l.nextSeq, l.seqKnown = hash, nextSeq, seqKnown
	l.retain(h, c.RetainHeight) // before h is published: never more kept than asked
	l.record(ctx, e, full, res.AppHash, logs)
	return nil
}

// kept is what a block keeps of result r, in memory and in the store:
// all of it when the operation applied; only its hash, code and reason
// when it failed, so that anyone's calldata of operations that fail
// costs every follower no more than that (its submitter got the whole
// result; the registry's failed operations carry no events).
func kept(r ledger.Result) ledger.Result {
	if r.Code == 0 {
		return r
	}
	return ledger.Result{Hash: r.Hash, Height: r.Height, Index: r.Index, Code: r.Code, Codespace: r.Codespace, Reason: r.Reason}
}

// checkLogs checks the endpoint's anchor logs of block hdr against the
// block's receipts, which the header's receipts root commits to: in a
// block whose logs bloom may hold an Anchored event of the contract (or
// for which the endpoint gave logs), the receipts must make the root,
// and the Anchored logs of the contract in them must be logs: as many,
// in the same order, at the same transaction and log index, with the
// same topics and data. So a log that the endpoint left out (or made up)
// stops the follower at its own block.
func (l *Ledger) checkLogs(ctx context.Context, hdr *types.Header, logs []types.Log) error {
	n := hdr.Number.Uint64()
	if len(logs) == 0 && !(types.BloomLookup(hdr.Bloom, l.cfg.Contract) && types.BloomLookup(hdr.Bloom, anchoredTopic)) {
		return nil // no Anchored event of the contract in the block
	}
	rcs, err := l.chain.BlockReceipts(ctx, rpc.BlockNumberOrHashWithHash(hdr.Hash(), true))
	if err != nil {
		return fmt.Errorf("receipts of block %d: %w", n, err)
	}
	if _, err := receiptsTrie(hdr, rcs); err != nil {
		return fmt.Errorf("block %d: %w", n, err)
	}
	var want []types.Log
	index := uint(0) // the log's index in the block
	for i, rc := range rcs {
		for _, lg := range rc.Logs {
			if lg.Address == l.cfg.Contract && len(lg.Topics) > 0 && lg.Topics[0] == anchoredTopic {
				want = append(want, types.Log{Topics: lg.Topics, Data: lg.Data, TxIndex: uint(i), Index: index}) //nolint:gosec // an index
			}
			index++
		}
	}
	same := len(want) == len(logs)
	for i := 0; same && i < len(want); i++ {
		w, g := want[i], logs[i]
		same = w.TxIndex == g.TxIndex && w.Index == g.Index && bytes.Equal(w.Data, g.Data) && slices.Equal(w.Topics, g.Topics)
	}
	if !same {
		return fmt.Errorf("block %d: the endpoint's %d anchor logs are not the %d of the block's receipts", n, len(logs), len(want))
	}
	return nil
}

// record publishes block e, hands its submitters their results (full:
// e's results in full), and counts the gas of this node's anchor
// transactions in it.
func (l *Ledger) record(ctx context.Context, e blocklog.Entry[evmBlock], full []ledger.Result, root []byte, logs []types.Log) {
	var ownTxs []common.Hash
	l.mu.Lock()
	l.appHash = root
	// Applied first, failures after: a copy that applied answers whoever
	// sent it; a failure only from this node's own transaction.
	for _, applied := range []bool{true, false} {
		for i, r := range full {
			h := [32]byte(r.Hash)
			p, ok := l.waiting[h]
			if !ok || (r.Code == 0) != applied || !(applied || l.own(p, e.Extra.Sources[i])) {
				continue
			}
			delete(l.waiting, h)
			if applied { // as CometBFT's cache forgets a transaction that failed in its block
				l.seen.add(h)
			}
			p.done <- outcome{r: &r}
		}
	}
	l.expire(e.Block.Height)
	for _, lg := range logs {
		if _, ok := l.inflight[lg.TxHash]; ok {
			ownTxs = append(ownTxs, lg.TxHash)
		}
	}
	l.mu.Unlock()
	l.blocks.Append(e)
	for _, tx := range ownTxs {
		l.countGas(ctx, tx, e.Block.Height)
	}
}

// own reports whether the operation at src is p's in this node's own
// anchor transaction. Anyone may copy a pending operation into a batch
// of its own and have it ordered first, where it may fail (it may need
// an earlier operation of this node's): such a failure never answers
// p's submitter. The caller holds mu.
func (l *Ledger) own(p *pending, src source) bool {
	f := l.inflight[src.Tx]
	return f != nil && src.Op < len(f.ops) && f.ops[src.Op] == p
}

// retain drops the blocks that neither Config.RetainBlocks nor the
// application's retain height (appRetain, 0: all) keeps after block h.
func (l *Ledger) retain(h, appRetain int64) {
	below := appRetain
	if n := l.cfg.RetainBlocks; n > 0 {
		below = max(below, h-n+1)
	}
	if below <= 1 {
		return
	}
	if err := l.blocks.Prune(below); err != nil {
		l.log.Warn("pruning blocks", "below", below, "err", err)
	}
}

// expire forgets the anchor transactions of this node that no final
// block took by block height, Config.DropAfter blocks after the chain's
// head when they were sent, and fails their waiting submitters with
// ErrDropped; the caller holds mu.
func (l *Ledger) expire(height int64) {
	evm := l.genesis + uint64(height) - 1 //nolint:gosec // heights are positive
	for tx, f := range l.inflight {
		if evm < f.sent+l.cfg.DropAfter {
			continue
		}
		delete(l.inflight, tx)
		l.nonce = 0 // its nonce may be free again: take the endpoint's
		failed := 0
		for _, p := range f.ops {
			if l.waiting[p.hash] == p {
				delete(l.waiting, p.hash)
				p.done <- outcome{err: fmt.Errorf("%w: transaction %s, sent after EVM block %d", ErrDropped, tx, f.sent)}
				failed++
			}
		}
		l.log.Warn("anchor transaction not final in time; its submitters may submit again", "tx", tx, "sent", f.sent, "height", height, "ops", failed)
	}
}

// countGas logs and counts the gas of this node's anchor transaction tx.
func (l *Ledger) countGas(ctx context.Context, tx common.Hash, height int64) {
	rc, err := l.chain.TransactionReceipt(ctx, tx)
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.inflight[tx]
	delete(l.inflight, tx)
	if f == nil { // expired meanwhile
		return
	}
	ops := len(f.ops)
	if err != nil {
		l.log.Warn("receipt of an anchor transaction", "tx", tx, "err", err)
		return
	}
	l.gas.Batches++
	l.gas.Ops += uint64(ops) //nolint:gosec // at most MaxBatchOps
	l.gas.Gas += rc.GasUsed
	l.log.Info("anchored batch", "height", height, "tx", tx, "ops", ops, "gas", rc.GasUsed)
}

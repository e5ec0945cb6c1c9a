package cometledger

import (
	"context"
	"crypto/sha256"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/bias-iot/bias/internal/ledger"
)

// shim wraps the application to learn, without polling, when blocks
// commit and which transactions they carried, and to keep the times of
// the blocks this node proposes fresh (PrepareProposal).
type shim struct {
	abci.Application
	l       *Ledger
	height  int64
	time    time.Time
	pending []ledger.Result
	// maxAge is how far behind the clock a proposed block's time may be
	// for the block to carry operations; refreshed is the last height at
	// which this node proposed an empty block instead.
	maxAge    time.Duration
	refreshed int64
}

// PrepareProposal proposes an empty block in place of one whose time is
// stale (see refresh). CometBFT calls it only on the proposer, and what
// it proposes is then agreed on like any block: reading the clock here
// leaves the state a function of the committed blocks. Other nodes accept
// such a block and the usual one alike (ProcessProposal is the app's).
func (s *shim) PrepareProposal(ctx context.Context, req *abci.RequestPrepareProposal) (*abci.ResponsePrepareProposal, error) {
	resp, err := s.Application.PrepareProposal(ctx, req)
	if err != nil || len(resp.Txs) == 0 || !refresh(time.Now(), req.Time, s.maxAge, req.Height, s.refreshed) {
		return resp, err
	}
	s.refreshed = req.Height
	s.l.log.Debug("block time stale: proposing an empty block to refresh it", "height", req.Height,
		"time", req.Time, "operations", len(resp.Txs))
	return &abci.ResponsePrepareProposal{}, nil
}

// refresh reports whether a block with operations proposed at height,
// stamped t, should give way to an empty block: t lies more than maxAge
// behind now. In CometBFT v0.38 a block's time is the median of the
// precommit times of the commit before it, so after an idle spell it is
// the time of the last commit before the spell. The empty block commits
// now, the operations stay in the mempool, CometBFT goes on to the next
// height at once, and that block's time is the empty block's commit.
// Not when this node refreshed at the height before (a clock far ahead
// of the others' would otherwise hold operations back at every height it
// proposes): an operation waits at most one extra block for this node.
func refresh(now, t time.Time, maxAge time.Duration, height, refreshed int64) bool {
	return now.Sub(t) > maxAge && refreshed != height-1
}

func (s *shim) CheckTx(ctx context.Context, req *abci.RequestCheckTx) (*abci.ResponseCheckTx, error) {
	resp, err := s.Application.CheckTx(ctx, req)
	if err == nil && req.Type == abci.CheckTxType_Recheck && resp.Code != 0 {
		// Evicted from the mempool by a block that made it invalid: tell
		// whoever waits for it.
		h := sha256.Sum256(req.Tx)
		s.l.notify(h, rejection(h, resp))
	}
	return resp, err
}

func (s *shim) FinalizeBlock(ctx context.Context, req *abci.RequestFinalizeBlock) (*abci.ResponseFinalizeBlock, error) {
	resp, err := s.Application.FinalizeBlock(ctx, req)
	if err != nil {
		return resp, err
	}
	s.height, s.time = req.Height, req.Time
	s.pending = s.pending[:0]
	for i, tx := range req.Txs {
		s.pending = append(s.pending, result(tx, req.Height, i, resp.TxResults[i]))
	}
	return resp, nil
}

func (s *shim) Commit(ctx context.Context, req *abci.RequestCommit) (*abci.ResponseCommit, error) {
	resp, err := s.Application.Commit(ctx, req)
	if err != nil {
		return resp, err
	}
	for i := range s.pending {
		r := s.pending[i]
		s.l.notify([32]byte(r.Hash), &r)
	}
	s.pending = s.pending[:0]
	s.l.committed(s.height)
	return resp, nil
}

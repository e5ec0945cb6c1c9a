package cometledger

import (
	"context"
	"crypto/sha256"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/abciledger"
)

// shim wraps the application to learn, without polling, when blocks
// commit and which transactions they carried.
type shim struct {
	abci.Application
	l       *Ledger
	height  int64
	time    time.Time
	pending []ledger.Result
}

func (s *shim) CheckTx(ctx context.Context, req *abci.RequestCheckTx) (*abci.ResponseCheckTx, error) {
	resp, err := s.Application.CheckTx(ctx, req)
	if err == nil && req.Type == abci.CheckTxType_Recheck && resp.Code != 0 {
		// Evicted from the mempool by a block that made it invalid: tell
		// whoever waits for it.
		h := sha256.Sum256(req.Tx)
		s.l.notify(h, abciledger.Rejection(h, resp))
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
		s.pending = append(s.pending, abciledger.Result(tx, req.Height, i, resp.TxResults[i]))
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

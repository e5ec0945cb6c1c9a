package cometledger

import (
	"context"
	"crypto/sha256"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/bias-iot/bias/internal/ledger"
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
		s.l.notify(h, &ledger.Result{Hash: h[:], Code: resp.Code, Codespace: resp.Codespace, Reason: resp.Info, Log: resp.Log})
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
		s.pending = append(s.pending, toResult(tx, req.Height, i, resp.TxResults[i]))
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

func toResult(tx []byte, height int64, index int, r *abci.ExecTxResult) ledger.Result {
	h := sha256.Sum256(tx)
	out := ledger.Result{
		Hash: h[:], Height: height, Index: index, Code: r.Code, Codespace: r.Codespace,
		Reason: r.Info, Log: r.Log, Data: r.Data,
	}
	for _, e := range r.Events {
		ev := ledger.Event{Type: e.Type}
		for _, a := range e.Attributes {
			ev.Attrs = append(ev.Attrs, ledger.Attr{Key: a.Key, Value: a.Value})
		}
		out.Events = append(out.Events, ev)
	}
	return out
}

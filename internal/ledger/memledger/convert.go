package memledger

import (
	"crypto/sha256"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/bias-iot/bias/internal/ledger"
)

// The ABCI-to-ledger conversions, as cometledger makes them.

// toResult converts the result of the transaction at index of block height.
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

// rejection converts a refusal by CheckTx: a result before any block.
func rejection(h [32]byte, r *abci.ResponseCheckTx) *ledger.Result {
	return &ledger.Result{Hash: h[:], Code: r.Code, Codespace: r.Codespace, Reason: r.Info, Log: r.Log}
}

// toQueryResult converts a query response; the proof is the data of the
// first proof operation (the serialized ICS23 CommitmentProof).
func toQueryResult(r *abci.ResponseQuery) *ledger.QueryResult {
	out := &ledger.QueryResult{Code: r.Code, Reason: r.Info, Log: r.Log, Height: r.Height, Key: r.Key, Value: r.Value}
	if r.ProofOps != nil && len(r.ProofOps.Ops) > 0 {
		out.Proof = r.ProofOps.Ops[0].Data
	}
	return out
}

// Package abciledger converts an ABCI application's answers into the
// ledger interface's types, for the engines that drive an ABCI application
// (cometledger through CometBFT, memledger directly), so that both report
// results, rejections and queries alike.
//
//	r := abciledger.Result(tx, height, i, resp.TxResults[i])
//	q := abciledger.QueryResult(resp) // Proof: the first proof op's data
package abciledger

import (
	"crypto/sha256"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/bias-iot/bias/internal/ledger"
)

// Result converts the result of the transaction at index of block height.
func Result(tx []byte, height int64, index int, r *abci.ExecTxResult) ledger.Result {
	h := sha256.Sum256(tx)
	out := ledger.Result{
		Hash: h[:], Height: height, Index: index, Code: r.Code, Codespace: r.Codespace,
		Reason: r.Info, Log: r.Log, Data: r.Data,
	}
	out.Events = Events(r.Events)
	return out
}

// Events converts application events.
func Events(es []abci.Event) []ledger.Event {
	var out []ledger.Event
	for _, e := range es {
		ev := ledger.Event{Type: e.Type}
		for _, a := range e.Attributes {
			ev.Attrs = append(ev.Attrs, ledger.Attr{Key: a.Key, Value: a.Value})
		}
		out = append(out, ev)
	}
	return out
}

// Rejection converts a refusal by CheckTx of the transaction with hash h:
// a result before any block.
func Rejection(h [32]byte, r *abci.ResponseCheckTx) *ledger.Result {
	return &ledger.Result{Hash: h[:], Code: r.Code, Codespace: r.Codespace, Reason: r.Info, Log: r.Log}
}

// QueryResult converts a query response; the proof is the data of the
// first proof operation (the serialized ICS23 CommitmentProof).
func QueryResult(r *abci.ResponseQuery) *ledger.QueryResult {
	out := &ledger.QueryResult{Code: r.Code, Reason: r.Info, Log: r.Log, Height: r.Height, Key: r.Key, Value: r.Value}
	if r.ProofOps != nil && len(r.ProofOps.Ops) > 0 {
		out.Proof = r.ProofOps.Ops[0].Data
	}
	return out
}

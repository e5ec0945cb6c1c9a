package cometledger

import (
	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/core"
)

// The answers CometBFT hands back (the mempool's CheckTx, the block
// store's results, the query connection's responses) in the ledger
// interface's types: the inverse of abciApp's conversions.

// result converts the stored result of the transaction tx at index of
// block height.
func result(tx []byte, height int64, index int, r *abci.ExecTxResult) ledger.Result {
	return core.TxResult{Code: r.Code, Codespace: r.Codespace, Reason: r.Info, Log: r.Log, Data: r.Data, Events: events(r.Events)}.Result(tx, height, index)
}

// events converts stored events.
func events(es []abci.Event) []ledger.Event {
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

// rejection converts a refusal by CheckTx of the transaction with hash h:
// a result before any block.
func rejection(h [32]byte, r *abci.ResponseCheckTx) *ledger.Result {
	return core.CheckResult{Code: r.Code, Codespace: r.Codespace, Reason: r.Info, Log: r.Log}.Rejection(h)
}

// queryResult converts a query response; the proof is the data of the
// first proof operation (the serialized ICS23 CommitmentProof).
func queryResult(r *abci.ResponseQuery) *ledger.QueryResult {
	out := &ledger.QueryResult{Code: r.Code, Reason: r.Info, Log: r.Log, Height: r.Height, Key: r.Key, Value: r.Value}
	if r.ProofOps != nil && len(r.ProofOps.Ops) > 0 {
		out.Proof = r.ProofOps.Ops[0].Data
	}
	return out
}

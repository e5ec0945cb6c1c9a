package cometledger

import (
	"context"
	"errors"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/core"
)

// ProofOpType names the proof operation of a query response: its data is
// the serialized ICS23 CommitmentProof of an IAVL tree.
const ProofOpType = "ics23:iavl"

// abciApp adapts a core.App to CometBFT's ABCI: it converts each call and
// its answer, and nothing else. PrepareProposal and ProcessProposal are
// ABCI's defaults (the proposer's mempool order; every block accepted):
// the application decides on each operation in ApplyBlock.
type abciApp struct {
	abci.BaseApplication
	app core.App
}

var _ abci.Application = (*abciApp)(nil)

// Info tells CometBFT what the application has committed, for the
// handshake that replays the blocks it missed.
func (a *abciApp) Info(ctx context.Context, _ *abci.RequestInfo) (*abci.ResponseInfo, error) {
	info, err := a.app.Info(ctx)
	if err != nil {
		return nil, err
	}
	return &abci.ResponseInfo{
		Data: "bias registry", Version: "1", AppVersion: info.AppVersion,
		LastBlockHeight: info.Height, LastBlockAppHash: info.AppHash,
	}, nil
}

// InitChain hands the genesis document and validators to the application.
// The validator set stays genesis's: the response names none.
func (a *abciApp) InitChain(ctx context.Context, req *abci.RequestInitChain) (*abci.ResponseInitChain, error) {
	if req.InitialHeight > 1 {
		return nil, errors.New("initial height above 1 is not supported")
	}
	g := core.Genesis{ChainID: req.ChainId, Time: req.Time, AppState: req.AppStateBytes}
	for _, v := range req.Validators {
		g.Validators = append(g.Validators, core.ValidatorUpdate{PubKey: v.PubKey.GetEd25519(), Power: v.Power})
	}
	root, err := a.app.InitChain(ctx, g)
	if err != nil {
		return nil, err
	}
	return &abci.ResponseInitChain{AppHash: root}, nil
}

// CheckTx checks a new transaction, and, after each block, each one left
// in the mempool (CheckTxType_Recheck): both against the last committed
// state. The shim tells the submitter of one that a recheck evicts.
func (a *abciApp) CheckTx(ctx context.Context, req *abci.RequestCheckTx) (*abci.ResponseCheckTx, error) {
	r := a.app.Check(ctx, req.Tx)
	return &abci.ResponseCheckTx{Code: r.Code, Codespace: r.Codespace, Log: r.Log, Info: r.Reason}, nil
}

// FinalizeBlock applies a decided block. A change of the app version
// reaches CometBFT as ConsensusParamUpdates.Version.App, which it puts in
// the headers from the next block on.
func (a *abciApp) FinalizeBlock(ctx context.Context, req *abci.RequestFinalizeBlock) (*abci.ResponseFinalizeBlock, error) {
	res, err := a.app.ApplyBlock(ctx, core.Block{Height: req.Height, Time: req.Time, Txs: req.Txs})
	if err != nil {
		return nil, err
	}
	out := &abci.ResponseFinalizeBlock{TxResults: make([]*abci.ExecTxResult, len(res.TxResults)), Events: abciEvents(res.Events), AppHash: res.AppHash}
	for i, r := range res.TxResults {
		out.TxResults[i] = &abci.ExecTxResult{Code: r.Code, Codespace: r.Codespace, Log: r.Log, Info: r.Reason, Data: r.Data, Events: abciEvents(r.Events)}
	}
	for _, v := range res.ValidatorUpdates {
		out.ValidatorUpdates = append(out.ValidatorUpdates, abci.Ed25519ValidatorUpdate(v.PubKey, v.Power))
	}
	if res.AppVersion != 0 {
		out.ConsensusParamUpdates = &cmtproto.ConsensusParams{Version: &cmtproto.VersionParams{App: res.AppVersion}}
	}
	return out, nil
}

// Commit makes the block durable and passes on the retention.
func (a *abciApp) Commit(ctx context.Context, _ *abci.RequestCommit) (*abci.ResponseCommit, error) {
	res, err := a.app.Commit(ctx)
	if err != nil {
		return nil, err
	}
	return &abci.ResponseCommit{RetainHeight: res.RetainHeight}, nil
}

// Query reads committed state; a proof travels as one ProofOp of type
// ProofOpType.
func (a *abciApp) Query(ctx context.Context, req *abci.RequestQuery) (*abci.ResponseQuery, error) {
	res, err := a.app.Query(ctx, ledger.Query{Path: req.Path, Data: req.Data, Height: req.Height, Prove: req.Prove})
	if err != nil {
		return nil, err
	}
	out := &abci.ResponseQuery{Code: res.Code, Log: res.Log, Info: res.Reason, Height: res.Height, Key: res.Key, Value: res.Value}
	if res.Proof != nil {
		out.ProofOps = &cmtcrypto.ProofOps{Ops: []cmtcrypto.ProofOp{{Type: ProofOpType, Key: res.Key, Data: res.Proof}}}
	}
	return out, nil
}

// abciEvents renders events for CometBFT, every attribute indexed.
func abciEvents(es []ledger.Event) []abci.Event {
	if es == nil {
		return nil
	}
	out := make([]abci.Event, len(es))
	for i, e := range es {
		out[i] = abci.Event{Type: e.Type, Attributes: make([]abci.EventAttribute, len(e.Attrs))}
		for j, at := range e.Attrs {
			out[i].Attributes[j] = abci.EventAttribute{Key: at.Key, Value: at.Value, Index: true}
		}
	}
	return out
}

package cometledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"reflect"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/core"
)

// scripted is a core.App that answers what it is told and records what
// it was asked.
type scripted struct {
	info    core.Info
	genesis core.Genesis
	root    []byte
	checked [][]byte
	check   core.CheckResult
	block   core.Block
	result  *core.BlockResult
	retain  int64
	query   ledger.Query
	answer  *ledger.QueryResult
}

func (s *scripted) Info(context.Context) (core.Info, error) { return s.info, nil }
func (s *scripted) InitChain(_ context.Context, g core.Genesis) ([]byte, error) {
	s.genesis = g
	return s.root, nil
}

func (s *scripted) Check(_ context.Context, tx []byte) core.CheckResult {
	s.checked = append(s.checked, tx)
	return s.check
}

func (s *scripted) ApplyBlock(_ context.Context, b core.Block) (*core.BlockResult, error) {
	s.block = b
	return s.result, nil
}

func (s *scripted) Commit(context.Context) (*core.CommitResult, error) {
	return &core.CommitResult{RetainHeight: s.retain}, nil
}

func (s *scripted) Query(_ context.Context, q ledger.Query) (*ledger.QueryResult, error) {
	s.query = q
	return s.answer, nil
}

var ctx = context.Background()

// TestABCIAdapterBlock: a block reaches the core as it was decided, and
// its results reach CometBFT with the reason in Info, every attribute
// indexed, Ed25519 validator updates and the app version change as a
// consensus parameter update; read back as the block store holds them,
// they are the results the core gave.
func TestABCIAdapterBlock(t *testing.T) {
	pk := bytes.Repeat([]byte{7}, 32)
	ev := []ledger.Event{{Type: "bias.entity", Attrs: []ledger.Attr{{Key: "did", Value: "did:bias:x:y"}, {Key: "op", Value: "register"}}}}
	res := &core.BlockResult{
		TxResults: []core.TxResult{
			{Reason: "ok", Data: []byte{1}, Events: ev},
			{Code: 7, Codespace: "bias", Reason: "revoked", Log: "the entity is revoked"},
		},
		Events:           []ledger.Event{{Type: "bias.gov", Attrs: []ledger.Attr{{Key: "expired", Value: "p1"}}}},
		ValidatorUpdates: []core.ValidatorUpdate{{PubKey: pk, Power: 0}},
		AppHash:          []byte("root"),
	}
	for _, version := range []uint64{0, 3} {
		res.AppVersion = version
		s := &scripted{result: res}
		a := &abciApp{app: s}
		when := time.Unix(1_700_000_000, 5).UTC()
		txs := [][]byte{[]byte("a"), []byte("b")}
		out, err := a.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Height: 9, Time: when, Txs: txs})
		if err != nil {
			t.Fatal(err)
		}
		if want, got := (core.Block{Height: 9, Time: when, Txs: txs}), s.block; !reflect.DeepEqual(want, got) {
			t.Errorf("the block the core saw: %+v, want %+v", got, want)
		}
		if !bytes.Equal(out.AppHash, res.AppHash) || len(out.TxResults) != 2 {
			t.Fatalf("response %+v", out)
		}
		for i, r := range out.TxResults {
			if r.Info != res.TxResults[i].Reason {
				t.Errorf("tx %d: info %q, want the reason %q", i, r.Info, res.TxResults[i].Reason)
			}
			for _, e := range r.Events {
				for _, at := range e.Attributes {
					if !at.Index {
						t.Errorf("tx %d: attribute %s not indexed", i, at.Key)
					}
				}
			}
			if want, got := res.TxResults[i].Result(txs[i], 9, i), result(txs[i], 9, i, r); !reflect.DeepEqual(want, got) {
				t.Errorf("tx %d read back: %+v, want %+v", i, got, want)
			}
		}
		if want, got := res.Events, events(out.Events); !reflect.DeepEqual(want, got) {
			t.Errorf("block events read back: %+v, want %+v", got, want)
		}
		if len(out.ValidatorUpdates) != 1 || !bytes.Equal(out.ValidatorUpdates[0].PubKey.GetEd25519(), pk) || out.ValidatorUpdates[0].Power != 0 {
			t.Errorf("validator updates %v", out.ValidatorUpdates)
		}
		switch u := out.ConsensusParamUpdates; {
		case version == 0 && u != nil:
			t.Errorf("no app version change, but consensus param updates %v", u)
		case version != 0 && (u == nil || u.Version == nil || u.Version.App != version):
			t.Errorf("app version %d: consensus param updates %v", version, u)
		}
	}
}

// TestABCIAdapterCheckTx: a new transaction and a recheck both ask the
// core's Check, and a refusal reads back as the core's rejection.
func TestABCIAdapterCheckTx(t *testing.T) {
	s := &scripted{check: core.CheckResult{Code: 7, Codespace: "bias", Reason: "revoked", Log: "the entity is revoked"}}
	a := &abciApp{app: s}
	for _, typ := range []abci.CheckTxType{abci.CheckTxType_New, abci.CheckTxType_Recheck} {
		r, err := a.CheckTx(ctx, &abci.RequestCheckTx{Tx: []byte("t"), Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256([]byte("t"))
		if want, got := s.check.Rejection(h), rejection(h, r); !reflect.DeepEqual(want, got) {
			t.Errorf("%v read back: %+v, want %+v", typ, got, want)
		}
	}
	if len(s.checked) != 2 {
		t.Errorf("Check called %d times, want 2", len(s.checked))
	}
}

// TestABCIAdapterQuery: a proof travels as one ics23:iavl proof op for
// the key and reads back as the core's serialized proof; an answer
// without one has no proof ops.
func TestABCIAdapterQuery(t *testing.T) {
	for _, ans := range []*ledger.QueryResult{
		{Height: 4, Key: []byte("k"), Value: []byte("v"), Proof: []byte("ics23")},
		{Height: 4, Key: []byte("k"), Value: []byte("v")},
		{Code: 3, Reason: "invalid-field", Log: "unknown query path"},
	} {
		s := &scripted{answer: ans}
		a := &abciApp{app: s}
		req := &abci.RequestQuery{Path: "/key", Data: []byte("k"), Height: 4, Prove: ans.Proof != nil}
		r, err := a.Query(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if want, got := (ledger.Query{Path: req.Path, Data: req.Data, Height: req.Height, Prove: req.Prove}), s.query; !reflect.DeepEqual(want, got) {
			t.Errorf("the query the core saw: %+v, want %+v", got, want)
		}
		if ans.Proof == nil && r.ProofOps != nil {
			t.Errorf("no proof, but proof ops %v", r.ProofOps)
		}
		if ans.Proof != nil && (r.ProofOps == nil || len(r.ProofOps.Ops) != 1 || r.ProofOps.Ops[0].Type != ProofOpType || !bytes.Equal(r.ProofOps.Ops[0].Key, ans.Key)) {
			t.Errorf("proof ops %v", r.ProofOps)
		}
		if want, got := ans, queryResult(r); !reflect.DeepEqual(want, got) {
			t.Errorf("read back: %+v, want %+v", got, want)
		}
	}
}

// TestABCIAdapterChain: Info, InitChain and Commit pass through; a chain
// that starts above height 1 is refused.
func TestABCIAdapterChain(t *testing.T) {
	pk := bytes.Repeat([]byte{9}, 32)
	s := &scripted{info: core.Info{Height: 12, AppHash: []byte("h"), AppVersion: 2}, root: []byte("g"), retain: 5}
	a := &abciApp{app: s}
	info, err := a.Info(ctx, &abci.RequestInfo{})
	if err != nil || info.LastBlockHeight != 12 || string(info.LastBlockAppHash) != "h" || info.AppVersion != 2 {
		t.Errorf("info %+v, %v", info, err)
	}
	when := time.Unix(1_700_000_000, 0).UTC()
	req := &abci.RequestInitChain{ChainId: "net", Time: when, AppStateBytes: []byte("{}"), InitialHeight: 1,
		Validators: []abci.ValidatorUpdate{abci.Ed25519ValidatorUpdate(pk, 10)}}
	ic, err := a.InitChain(ctx, req)
	if err != nil || string(ic.AppHash) != "g" {
		t.Fatalf("init chain %+v, %v", ic, err)
	}
	want := core.Genesis{ChainID: "net", Time: when, AppState: []byte("{}"), Validators: []core.ValidatorUpdate{{PubKey: pk, Power: 10}}}
	if got := s.genesis; !reflect.DeepEqual(want, got) {
		t.Errorf("genesis the core saw: %+v, want %+v", got, want)
	}
	t.Run("fail/initial-height", func(t *testing.T) {
		s.genesis = core.Genesis{}
		req.InitialHeight = 2
		if _, err := a.InitChain(ctx, req); err == nil || s.genesis.ChainID != "" {
			t.Errorf("a chain from height 2: %v, the core saw %+v", err, s.genesis)
		}
	})
	c, err := a.Commit(ctx, &abci.RequestCommit{})
	if err != nil || c.RetainHeight != 5 {
		t.Errorf("commit %+v, %v", c, err)
	}
}

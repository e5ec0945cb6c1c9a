// Package cometledgertest leaves in a stopped node's home what a crash
// can leave behind, for tests of the embedded ledger and of the nodes
// over it.
//
//	h := cometledgertest.LoseWAL(t, home, cometledgertest.Precommit)
//	// start the node on home: its validator is wedged at height h
package cometledgertest

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/privval"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	"github.com/cometbft/cometbft/types"
)

// Message is what a validator signs in a round, in order.
type Message int

// The messages of a round.
const (
	Proposal Message = iota + 1
	Prevote
	Precommit
)

// LoseWAL makes home, whose node is stopped, look like a validator that
// crashed after signing msg in round 0 of the height after the last one
// it signed, for a block nobody kept (the crash came before the block
// store had it), and whose consensus write-ahead log (data/cs.wal) was
// then lost. It returns that height. A single validator wedged so never
// commits again after a prevote or a precommit; after a proposal it goes
// on in round 1.
func LoseWAL(t testing.TB, home string, msg Message) int64 {
	t.Helper()
	cfg := cmtcfg.DefaultConfig()
	cfg.SetRoot(home)
	gen, err := types.GenesisDocFromFile(cfg.GenesisFile())
	if err != nil {
		t.Fatal(err)
	}
	pv := privval.LoadFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile())
	height := pv.LastSignState.Height + 1
	block := cmtproto.BlockID{Hash: random(), PartSetHeader: cmtproto.PartSetHeader{Total: 1, Hash: random()}}
	switch msg {
	case Proposal:
		err = pv.SignProposal(gen.ChainID, &cmtproto.Proposal{Type: cmtproto.ProposalType, Height: height, PolRound: -1, BlockID: block, Timestamp: time.Now()})
	case Prevote, Precommit:
		typ := cmtproto.PrevoteType
		if msg == Precommit {
			typ = cmtproto.PrecommitType
		}
		err = pv.SignVote(gen.ChainID, &cmtproto.Vote{Type: typ, Height: height, BlockID: block, Timestamp: time.Now(), ValidatorAddress: pv.GetAddress()})
	default:
		t.Fatalf("no message %d", msg)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Dir(cfg.Consensus.WalFile())); err != nil {
		t.Fatal(err)
	}
	return height
}

func random() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

package cometledger

import (
	"fmt"
	"sync"
	"time"

	"github.com/cometbft/cometbft/crypto"
	"github.com/cometbft/cometbft/privval"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	"github.com/cometbft/cometbft/types"
)

// signer is the validator's key as consensus sees it: CometBFT's file
// signer, whose last-sign state (data/priv_validator_state.json) refuses
// any message at or below the height/round/step it signed last (its
// protection against double signing), and which remembers what it
// refused. A mutex orders signing with the reads of the wedge watcher.
type signer struct {
	pv *privval.FilePV

	mu      sync.Mutex
	refused *refusal // the first vote refused since the last signature
}

var _ types.PrivValidator = (*signer)(nil)

// refusal is a vote the signer would not sign.
type refusal struct {
	height int64
	round  int32
	what   string // prevote, precommit
	err    error
	at     time.Time
}

// signed is a last-sign state: what the validator signed last.
type signed struct {
	height int64
	round  int32
	step   int8 // 0 none, 1 proposal, 2 prevote, 3 precommit
}

func (s signed) String() string {
	return fmt.Sprintf("%d/%d/%s", s.height, s.round, [...]string{"none", "proposal", "prevote", "precommit"}[min(max(s.step, 0), 3)])
}

func (s *signer) GetPubKey() (crypto.PubKey, error) { return s.pv.GetPubKey() }

func (s *signer) SignVote(chainID string, vote *cmtproto.Vote) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.pv.SignVote(chainID, vote)
	what := "prevote"
	if vote.Type == cmtproto.PrecommitType {
		what = "precommit"
	}
	s.note(vote.Height, vote.Round, what, err)
	return err
}

func (s *signer) SignProposal(chainID string, p *cmtproto.Proposal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.pv.SignProposal(chainID, p)
	if err == nil {
		s.refused = nil
	}
	// A refused proposal is no wedge by itself: the round can go on
	// without one (a vote for nil), and the next round has another.
	return err
}

// note records the outcome of a vote's signature; the caller holds mu.
// Of the votes refused in one round, the first is kept (with its time).
func (s *signer) note(height int64, round int32, what string, err error) {
	switch {
	case err == nil:
		s.refused = nil
	case s.refused == nil || s.refused.height != height || s.refused.round != round:
		s.refused = &refusal{height: height, round: round, what: what, err: err, at: time.Now()}
	}
}

// state returns the last-sign state and the last refusal.
func (s *signer) state() (signed, *refusal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lss := s.pv.LastSignState
	return signed{height: lss.Height, round: lss.Round, step: lss.Step}, s.refused
}

package cometledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bias-iot/bias/internal/ledger"
)

// ErrWedged is what a wedged validator's readiness reports (wrapped in a
// *WedgeError): this node's validator refuses to vote at the height and
// round consensus is at, and the network cannot commit without it.
var ErrWedged = errors.New("validator wedged")

// ErrCatchingUp is what readiness reports while the node syncs blocks
// from its peers.
var ErrCatchingUp error = &notReady{err: "catching up", reason: "the node is catching up with the network"}

// WedgeError describes a wedged validator. CometBFT's signer keeps what it
// signed last (data/priv_validator_state.json) and never signs at that
// height/round/step or below again, so that it never signs two different
// messages for one step. Consensus rebuilds a height in progress from its
// write-ahead log (data/cs.wal): without it (a crash that lost or
// corrupted it, a restore of data/ without it) the node starts the height
// afresh at round 0, below what the signer already signed, and the signer
// refuses its proposal and its votes. Consensus leaves a round only once
// more than 2/3 of the voting power has voted in it: if this validator
// holds a third of the power or more (a single validator holds it all),
// no block ever commits.
type WedgeError struct {
	Height int64  // the height that cannot commit
	Round  int32  // the round consensus stays in
	Vote   string // the vote refused: prevote or precommit
	Reason string // the signer's refusal
	Signed string // what the signer signed last: height/round/step
	Since  time.Time
}

func (e *WedgeError) Error() string {
	return fmt.Sprintf("validator wedged at height %d round %d: its signer, which signed %s last, refuses the %s (%s)",
		e.Height, e.Round, e.Signed, e.Vote, e.Reason)
}

// Unwrap makes errors.Is(err, ErrWedged) hold.
func (e *WedgeError) Unwrap() error { return ErrWedged }

// Wedged returns a *WedgeError while this node's validator is wedged, and
// nil otherwise. The watcher decides it (see Config.WedgeAfter).
func (l *Ledger) Wedged() error {
	if w := l.wedge.Load(); w != nil {
		return w
	}
	return nil
}

// Ready reports whether the node can answer current reads and commit
// writes: nil, or ErrCatchingUp while it syncs blocks, a *WedgeError
// while its validator is wedged, a *QuorumError while the validators it
// sees hold at most two thirds of the voting power (quorum.go), a
// *StallError while operations wait with no block for the stall
// warning's window, ledger.ErrClosed once closed.
func (l *Ledger) Ready(ctx context.Context) error {
	if !l.enter() {
		return ledger.ErrClosed
	}
	defer l.exit()
	if l.node.ConsensusReactor().WaitSync() {
		return ErrCatchingUp
	}
	if err := l.Wedged(); err != nil {
		return err
	}
	if err := l.quorum(ctx); err != nil {
		return err
	}
	return l.stalled()
}

// wedgeFacts is what one look at the node shows.
type wedgeFacts struct {
	height     int64 // consensus height
	round      int32 // consensus round
	refused    *refusal
	ours       int64 // this node's voting power
	total      int64 // the validator set's
	catchingUp bool
	now        time.Time
}

// wedged reports whether the facts show a validator that the network
// cannot do without (the others hold at most 2/3 of the power, so no
// round ends without its vote) refusing to vote in the round consensus
// is at, for at least after. An idle network refuses nothing; a refused
// proposal alone is no wedge (the round goes on with a vote for nil); a
// node that syncs blocks does not vote yet.
func (f wedgeFacts) wedged(after time.Duration) bool {
	r := f.refused
	return r != nil && !f.catchingUp && f.ours > 0 && 3*(f.total-f.ours) <= 2*f.total &&
		r.height == f.height && r.round == f.round && f.now.Sub(r.at) >= after
}

// watchWedge looks at the signer and consensus once, and logs when the
// validator becomes wedged and when it is no longer. The caller holds
// life.
func (l *Ledger) watchWedge(after time.Duration) {
	last, refused := l.signer.state()
	var (
		w *WedgeError
		f wedgeFacts
	)
	if refused != nil {
		var err error
		if f, err = l.wedgeFacts(refused); err != nil {
			l.log.Debug("wedge watch: consensus state", "err", err)
			return
		}
		if f.wedged(after) {
			w = &WedgeError{Height: f.height, Round: f.round, Vote: refused.what, Reason: refused.err.Error(), Signed: last.String(), Since: refused.at}
		}
	}
	switch prev := l.wedge.Swap(w); {
	case w != nil && prev == nil:
		l.logWedge(w, f)
	case w == nil && prev != nil:
		l.log.Info("validator no longer wedged", "was", prev.Error())
	}
}

func (l *Ledger) wedgeFacts(refused *refusal) (wedgeFacts, error) {
	f := wedgeFacts{refused: refused, now: time.Now(), catchingUp: l.node.ConsensusReactor().WaitSync()}
	cs, err := l.client.ConsensusState(context.Background())
	if err != nil {
		return f, err
	}
	var rs struct {
		HRS string `json:"height/round/step"`
	}
	if err := json.Unmarshal(cs.RoundState, &rs); err != nil {
		return f, err
	}
	var step int
	if _, err := fmt.Sscanf(rs.HRS, "%d/%d/%d", &f.height, &f.round, &step); err != nil {
		return f, fmt.Errorf("height/round/step %q: %w", rs.HRS, err)
	}
	pub, err := l.signer.GetPubKey()
	if err != nil {
		return f, err
	}
	vals, err := l.validators(context.Background(), nil)
	if err != nil {
		return f, err
	}
	for _, v := range vals {
		f.total += v.Power
		if string(v.PubKey) == string(pub.Bytes()) {
			f.ours = v.Power
		}
	}
	return f, nil
}

// logWedge says, once, what happened and what to do.
func (l *Ledger) logWedge(w *WedgeError, f wedgeFacts) {
	cfg := l.cfg
	l.log.Error("validator wedged: it refuses to vote at this height, and no block commits without it",
		"height", w.Height, "round", w.Round, "refused", w.Vote, "reason", w.Reason, "lastSigned", w.Signed,
		"power", fmt.Sprintf("%d of %d", f.ours, f.total), "wal", cfg.Consensus.WalFile(), "signState", cfg.PrivValidatorStateFile(),
		"fix", "put the consensus WAL (data/cs.wal/) back as it was at the crash and restart; else follow docs/operations.md, "+
			"\"A validator that never commits again (wedge)\"",
		"reset", fmt.Sprintf(`last resort, only for a network's single validator when no node has block %d, every other node stopped `+
			`(docs/operations.md): stop this node, write %s as {"height": "%d", "round": 0, "step": 0} and start it`, w.Height, cfg.PrivValidatorStateFile(), w.Height-1))
}

package cometledger

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/types"
)

// notReady is a readiness failure that says why in words a client may
// see (ReadyReason): no key, path or peer address in them.
type notReady struct{ err, reason string }

func (e *notReady) Error() string       { return e.err }
func (e *notReady) ReadyReason() string { return e.reason }

// ReadyReason says, for a client, why a wedged validator is not ready:
// the log has the details.
func (e *WedgeError) ReadyReason() string {
	return "this node's validator cannot vote at the height consensus is at (wedged); its log says why"
}

// QuorumError is readiness refused for want of quorum: the validators
// this node sees (see Ledger.Ready) hold at most two thirds of the
// voting power, so no block can commit.
type QuorumError struct {
	Seen, Total int64 // voting power
	Validators  int   // how many validators it sees
	Of          int   // of how many
}

func (e *QuorumError) Error() string {
	return fmt.Sprintf("no quorum: the validators seen hold %d of %d voting power", e.Seen, e.Total)
}

// ReadyReason implements the API's readiness reasons.
func (e *QuorumError) ReadyReason() string {
	return fmt.Sprintf("no quorum: this node sees %d of %d validators, holding %d of %d voting power; more than two thirds are needed to commit",
		e.Validators, e.Of, e.Seen, e.Total)
}

// StallError is readiness refused because operations wait here but no
// block has committed for a while (the stall warning's window).
type StallError struct {
	Waiting int
	Since   time.Duration
}

func (e *StallError) Error() string {
	return fmt.Sprintf("stalled: %d operations wait, no block for %s", e.Waiting, e.Since.Round(time.Second))
}

// ReadyReason implements the API's readiness reasons.
func (e *StallError) ReadyReason() string {
	return fmt.Sprintf("operations wait but no block has committed for %s", e.Since.Round(time.Second))
}

// errNoBlock: before the first block there is nothing to read.
var errNoBlock error = &notReady{err: "no block yet", reason: "the network has not committed its first block yet"}

// recentCommit is how long after a block its commit stands as evidence
// of who votes.
func (l *Ledger) recentCommit() time.Duration {
	return max(l.stallAfter, 2*l.cfg.Consensus.TimeoutCommit)
}

// quorum checks that the validators this node sees hold more than two
// thirds of the voting power of the current validator set. A validator
// is seen when it is this node's; or it signed the last block, committed
// within recentCommit; or it is a connected peer whose moniker is the
// validator's name in the genesis (bias's init and testnet name a
// validator's node after it; a validator the genesis does not name is
// seen only through its signatures). Before the first block, nothing is
// readable: not ready either. The caller holds life.
func (l *Ledger) quorum(ctx context.Context) error {
	l.mu.Lock()
	height, since := l.height, time.Since(l.lastCommit)
	l.mu.Unlock()
	if height < 1 {
		return errNoBlock
	}
	vals, err := l.validators(ctx, nil)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	if pub, err := l.signer.GetPubKey(); err == nil {
		seen[hex.EncodeToString(pub.Address())] = true
	}
	if since < l.recentCommit() {
		if c := l.node.BlockStore().LoadSeenCommit(height); c != nil {
			for _, s := range c.Signatures {
				if s.BlockIDFlag == types.BlockIDFlagCommit {
					seen[hex.EncodeToString(s.ValidatorAddress)] = true
				}
			}
		}
	}
	named := map[string]string{} // genesis name -> address
	for _, v := range l.node.GenesisDoc().Validators {
		if v.Name != "" {
			named[v.Name] = hex.EncodeToString(v.Address)
		}
	}
	for _, p := range l.node.Switch().Peers().List() {
		if ni, ok := p.NodeInfo().(p2p.DefaultNodeInfo); ok {
			if a, ok := named[ni.Moniker]; ok {
				seen[a] = true
			}
		}
	}
	q := &QuorumError{Of: len(vals)}
	for _, v := range vals {
		q.Total += v.Power
		if seen[v.Address] {
			q.Seen += v.Power
			q.Validators++
		}
	}
	if 3*q.Seen > 2*q.Total {
		return nil
	}
	return q
}

// stalled reports operations that wait while no block commits.
func (l *Ledger) stalled() error {
	l.mu.Lock()
	since := time.Since(l.lastCommit)
	l.mu.Unlock()
	if n := l.node.Mempool().Size(); n > 0 && since >= l.stallAfter {
		return &StallError{Waiting: n, Since: since}
	}
	return nil
}

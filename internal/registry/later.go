package registry

import (
	"errors"

	"github.com/bias-iot/bias/op"
)

// A deferred rejection is one that a block this node has not seen yet
// could lift: the entity it acts on, the version it names, the status it
// needs, an alias freed or the contract it binds may arrive in that
// block. It rejects in FinalizeBlock and at a submission (the node's own
// state is what its client sees), but not in CheckTx: there it may be a
// peer's operation that depends on the block the peer has just committed
// and this node has not, and refusing it would leave it with the peer
// alone. With create_empty_blocks = false a network then waits for a
// proposer that holds it (CometBFT proposes only from its own mempool),
// which can be forever. A rejection is deferred only once the signer is
// authenticated (see unknownTarget); everything else (form, signature,
// network, replay, authority, a version already passed) rejects
// everywhere.
type deferred struct{ e *op.Error }

func (d deferred) Error() string { return d.e.Error() }
func (d deferred) Unwrap() error { return d.e }

// later marks a rejection as deferred; an internal error stays as it is.
func later(err error) error {
	var oe *op.Error
	if errors.As(err, &oe) && oe.Reason != op.ReasonInternal {
		return deferred{oe}
	}
	return err
}

// strict undoes later: the rejection applies in CheckTx too.
func strict(err error) error {
	var d deferred
	if errors.As(err, &d) {
		return d.e
	}
	return err
}

// isDeferred reports whether err is a deferred rejection.
func isDeferred(err error) bool {
	var d deferred
	return errors.As(err, &d)
}

package registry

import (
	"errors"

	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// verify checks the operation's signature with k, the key its kid names.
func (x *executor) verify(k op.Key) error {
	pk, err := k.Public()
	if err != nil {
		return op.Reject(op.ReasonInternal, "stored key does not parse")
	}
	x.verifiedKey = pk.Bytes()
	if x.a.ops.verified(x.txHash, pk.Bytes()) {
		return nil
	}
	if err := x.s.Msg.Verify(pk, nil); err != nil {
		return op.Reject(op.ReasonBadSignature, "signature does not verify with "+x.s.Kid.String())
	}
	return nil
}

// providerSigner authenticates the operation's signers as admin keys of
// the provider id: the provider is registered (else unknown-provider),
// each kid names one of its current keys (else unknown-signer), each
// signature verifies with that key, and there are as many as the
// provider's threshold (else below-threshold; cosigners in keys.go). It
// returns the provider.
func (x *executor) providerSigner(id string) (*record.Provider, error) {
	prov, err := getProvider(x.st, id)
	if err != nil {
		return nil, err
	}
	if prov == nil {
		return nil, op.Reject(op.ReasonUnknownProvider, "provider "+id+" is not registered")
	}
	if prov.Removed != 0 {
		return nil, removedProvider(prov, "its keys sign nothing")
	}
	k, ok := prov.Key(x.s.Kid.Fragment)
	if !ok {
		return nil, x.unknownSigner()
	}
	if err := x.verify(k); err != nil {
		return nil, err
	}
	if err := x.cosigners(prov); err != nil {
		return nil, err
	}
	return prov, nil
}

// unknownSigner rejects a kid that names no current key of its signer.
func (x *executor) unknownSigner() error {
	return op.Reject(op.ReasonUnknownSigner, x.s.Kid.String()+" is not a current key")
}

// isReason reports whether err is a rejection for reason r.
func isReason(err error, r op.Reason) bool { return errors.Is(err, &op.Error{Reason: r}) }

// target loads the entity an operation acts on, resolves its signer (a key
// of the entity itself, self, or an admin key of its provider) and checks
// the signature. The caller checks the version once it has checked that
// the signer may make the operation.
//
// A signature is judged on the keys this state holds, in CheckTx too (a
// key rotated in a block not yet seen here is the rare case that the
// ledger's re-sending of waiting operations covers).
func (x *executor) target() (e *record.Entity, self bool, err error) {
	id := x.s.Payload.Target()
	e, err = getEntity(x.st, id)
	if err != nil {
		return nil, false, err
	}
	if e == nil {
		return nil, false, x.unknownTarget(id)
	}
	switch x.s.Kid.Base().String() {
	case e.DID:
		if err := x.singleSigner(); err != nil {
			return nil, false, err
		}
		k, ok := e.Key(x.s.Kid.Fragment)
		err := x.unknownSigner()
		if ok {
			err = x.verify(k)
		}
		if err != nil {
			// Perhaps the update that rotated this key away, replayed.
			if r := x.replayedPastKey(e); r != nil {
				err = r
			}
			return nil, false, err
		}
		return e, true, nil
	case e.Provider:
		// An entity's provider is registered (a removed provider's
		// record stays, and its keys are refused as unauthorized);
		// were it not, its key would be as unknown as any.
		_, err := x.providerSigner(e.Provider)
		if isReason(err, op.ReasonUnknownProvider) {
			err = x.unknownSigner()
		}
		if err != nil {
			return nil, false, err
		}
		return e, false, nil
	default:
		return nil, false, op.Reject(op.ReasonUnauthorized, "signer is neither the entity nor its provider")
	}
}

// replayedPastKey is the replay guard of an operation that the entity's
// current keys do not authenticate (its kid names no current key, or one
// whose material changed): the entity's own update that rotated its
// signing key away, submitted again, is a replay, as any other applied
// operation is. It is one if this payload made the successor of the
// version it names (the version guard's test) and the key that version
// held under the kid verifies the signature; then it returns the
// version guard's replayed rejection, else nil (the caller's rejection
// stands), or a failed read of the store. It reads the successor and the
// named version, never more of the history, and verifies only a payload
// that was applied.
func (x *executor) replayedPastKey(e *record.Entity) error {
	err := x.checkVersion(e)
	var oe *op.Error
	switch {
	case err == nil:
		return nil // the current version: not applied yet
	case !errors.As(err, &oe):
		return err // a failed read
	case oe.Reason != op.ReasonReplayed:
		return nil
	}
	past, rerr := getHistory(x.st, e.DID, x.s.Payload.TargetVersion())
	if rerr != nil || past == nil {
		return rerr
	}
	k, ok := past.Key(x.s.Kid.Fragment)
	if !ok {
		return nil
	}
	if pk, kerr := k.Public(); kerr == nil && x.s.Msg.Verify(pk, nil) == nil {
		return err
	}
	return nil
}

// unknownTarget rejects an operation on an entity this state lacks. The
// rejection is deferred (a block not seen here may register it) only for
// an operation that an admin key of a provider signed: an operation whose
// signer cannot be authenticated (no such provider, no such key of it)
// must not reach the mempool, or any peer could fill blocks with junk
// signed by nobody.
func (x *executor) unknownTarget(id string) error {
	unknown := op.Reject(op.ReasonUnknownEntity, id+" is not registered")
	_, err := x.providerSigner(x.s.Kid.Base().String())
	switch {
	case isReason(err, op.ReasonUnknownProvider), isReason(err, op.ReasonUnknownSigner):
		return unknown
	case err != nil:
		return err
	}
	return later(unknown)
}

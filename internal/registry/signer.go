package registry

import (
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

// target loads the entity an operation acts on, resolves its signer (a key
// of the entity itself, self, or an admin key of its provider) and checks
// the signature. The caller checks the version once it has checked that
// the signer may make the operation.
func (x *executor) target() (e *record.Entity, self bool, err error) {
	id := x.s.Payload.Target()
	e, err = getEntity(x.st, id)
	if err != nil {
		return nil, false, err
	}
	if e == nil {
		return nil, false, x.unknownTarget(id)
	}
	var k op.Key
	var ok bool
	switch x.s.Kid.Base().String() {
	case e.DID:
		self = true
		k, ok = e.Key(x.s.Kid.Fragment)
	case e.Provider:
		var prov *record.Provider
		if prov, err = getProvider(x.st, e.Provider); err != nil {
			return nil, false, err
		}
		if prov != nil {
			k, ok = prov.Key(x.s.Kid.Fragment)
		}
	default:
		return nil, false, op.Reject(op.ReasonUnauthorized, "signer is neither the entity nor its provider")
	}
	// A signature is judged on the keys this state holds, in CheckTx too
	// (a key rotated in a block not yet seen here is the rare case that
	// the ledger's re-sending of waiting operations covers).
	if !ok {
		return nil, false, op.Reject(op.ReasonUnknownSigner, x.s.Kid.String()+" is not a current key")
	}
	if err := x.verify(k); err != nil {
		return nil, false, err
	}
	return e, self, nil
}

// unknownTarget rejects an operation on an entity this state lacks. The
// rejection is deferred (a block not seen here may register it) only for
// an operation that an admin key of a provider signed: an operation whose
// signer cannot be authenticated must not reach the mempool, or any peer
// could fill blocks with junk signed by nobody.
func (x *executor) unknownTarget(id string) error {
	unknown := op.Reject(op.ReasonUnknownEntity, id+" is not registered")
	prov, err := getProvider(x.st, x.s.Kid.Base().String())
	if err != nil {
		return err
	}
	if prov == nil {
		return unknown
	}
	k, ok := prov.Key(x.s.Kid.Fragment)
	if !ok {
		return unknown
	}
	if err := x.verify(k); err != nil {
		return err
	}
	return later(unknown)
}

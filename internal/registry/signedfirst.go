package registry

import (
	"fmt"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/state"
	"github.com/bias-iot/bias/op"
)

// signedFirst checks, for an operation larger than any single-entity
// operation may be (only a bulk enrollment may), that an admin key of a
// provider signed it, before its payload is decoded: decoding and
// validating a batch of thousands of entries costs far more than one
// signature, and a forged batch must cost no more than the signature
// check. Only the COSE envelope is read here; Decode checks the rest.
func signedFirst(st state.Reader, tx []byte) error {
	if len(tx) <= op.MaxOpBytes || len(tx) > op.MaxEnrollBytes {
		return nil // small, or refused by Decode at once for its size
	}
	// A threshold's further signatures are checked once the payload is
	// decoded: the first bounds the cost of a forgery here.
	ms, err := cose.DecodeAll(tx)
	if err != nil {
		return op.Reject(op.ReasonMalformed, err.Error())
	}
	m := ms[0]
	kid, err := did.Parse(string(m.Kid))
	if err != nil || kid.Fragment == "" || !m.KidProtected {
		return op.Reject(op.ReasonMalformed, "kid must be the DID URL of a key, in the protected header")
	}
	prov, err := getProvider(st, kid.Base().String())
	if err != nil {
		return err
	}
	if prov == nil {
		return op.Reject(op.ReasonOversized, fmt.Sprintf("operation is %d bytes: only a bulk enrollment, signed by an admin key of its provider, may exceed %d", len(tx), op.MaxOpBytes))
	}
	k, ok := prov.Key(kid.Fragment)
	if !ok {
		return op.Reject(op.ReasonUnknownSigner, kid.String()+" is not a current key")
	}
	pk, err := k.Public()
	if err != nil {
		return op.Reject(op.ReasonInternal, "stored key does not parse")
	}
	if err := m.Verify(pk, nil); err != nil {
		return op.Reject(op.ReasonBadSignature, "signature does not verify with "+kid.String())
	}
	return nil
}

package op

import (
	"fmt"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
)

// Sign encodes p and signs it as a COSE_Sign1 with kid, the DID URL of the
// signer's key.
func Sign(s cose.Signer, kid did.DID, p Payload) ([]byte, error) {
	if kid.Fragment == "" {
		return nil, fmt.Errorf("kid %s has no key fragment", kid)
	}
	payload, err := Marshal(p)
	if err != nil {
		return nil, err
	}
	return cose.Sign1(s, []byte(kid.String()), payload, nil)
}

// RegisterDID returns the DID that a registration payload creates.
func RegisterDID(p Payload) (did.DID, error) {
	payload, err := Marshal(p)
	if err != nil {
		return did.DID{}, err
	}
	return did.New(p.Network, payload), nil
}

// SignRegister signs an entity.register payload with the entity's own key
// keyID (which must be one of p.Register.Doc.Keys) and returns the
// operation and the DID it creates.
func SignRegister(s cose.Signer, keyID string, p Payload) ([]byte, did.DID, error) {
	p.Type = TypeRegister
	id, err := RegisterDID(p)
	if err != nil {
		return nil, did.DID{}, err
	}
	tx, err := Sign(s, id.WithFragment(keyID), p)
	return tx, id, err
}

package op

import (
	"fmt"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
)

// A provider's admin keys form an m-of-n set: the provider holds 1 to
// MaxKeys admin keys and a threshold m (1 by default). Each of its
// operations (status changes, updates of its entities, bulk
// enrollments, contracts, publications, governance proposals and votes,
// and provider.keys itself) is signed by m distinct current admin keys:
// with m = 1 a COSE_Sign1, as every other operation; with more, one
// COSE_Sign (RFC 9052 section 4.1) over the same payload with one
// signature per key (SignMulti, Cosign). The registry refuses fewer
// than m (below-threshold).

// TypeKeys replaces a provider's admin keys and threshold.
const TypeKeys = "provider.keys"

// ProviderKeys is the body of provider.keys, signed by a threshold of
// the provider's current admin keys: its new admin keys (1 to MaxKeys)
// and threshold (1 to the number of keys). It names the key-set version
// it replaces (0 for the keys of the provider's genesis or admission),
// the replay guard.
type ProviderKeys struct {
	Provider  string `cbor:"1,keyasint" json:"provider"`
	Version   uint64 `cbor:"2,keyasint" json:"version"`
	Keys      []Key  `cbor:"3,keyasint" json:"keys"`
	Threshold uint64 `cbor:"4,keyasint" json:"threshold"`
}

// ValidateKeySet checks an admin key set and its threshold: 1 to
// MaxKeys distinct keys of unique ids, a threshold of 1 to their number (0 means
// 1 where allowZero: an entry that leaves it out).
func ValidateKeySet(field string, keys []Key, threshold uint64, allowZero bool) error {
	doc := Document{Keys: keys}
	if err := doc.validate(field); err != nil {
		return err
	}
	// One key under two ids would count twice toward the threshold.
	for i := range keys {
		for j := range i {
			if keys[i].Alg == keys[j].Alg && string(keys[i].Pub) == string(keys[j].Pub) {
				return Reject(ReasonInvalidField, fmt.Sprintf("%s: %s and %s are one key: each admin key is a distinct key", field, keys[j].ID, keys[i].ID))
			}
		}
	}
	if (threshold == 0 && !allowZero) || threshold > uint64(len(keys)) {
		return Reject(ReasonInvalidField, fmt.Sprintf("%s.threshold must be 1 to the number of keys (%d)", field, len(keys)))
	}
	return nil
}

func (k *ProviderKeys) validate(network string) error {
	if err := checkDID("keys.provider", k.Provider, network); err != nil {
		return err
	}
	return ValidateKeySet("keys", k.Keys, k.Threshold, false)
}

// Cosigner is a signature of a COSE_Sign operation after the first (the
// first is Signed.Msg and Signed.Kid).
type Cosigner struct {
	Msg *cose.Message
	Kid did.DID
}

// SignMulti encodes p and signs it as one COSE_Sign with a signature by
// each of signers, kids[i] naming signers[i]'s key. One signer makes a
// COSE_Sign all the same (Sign makes a COSE_Sign1).
func SignMulti(signers []cose.Signer, kids []did.DID, p Payload) ([]byte, error) {
	if len(signers) != len(kids) {
		return nil, fmt.Errorf("%d signers, %d kids", len(signers), len(kids))
	}
	raw := make([][]byte, len(kids))
	for i, kid := range kids {
		if kid.Fragment == "" {
			return nil, fmt.Errorf("kid %s has no key fragment", kid)
		}
		raw[i] = []byte(kid.String())
	}
	payload, err := Marshal(p)
	if err != nil {
		return nil, err
	}
	return cose.Sign(signers, raw, payload, nil)
}

// Cosign adds a signature by s (kid) to a COSE_Sign operation that
// another admin key of the same provider signed: the way a threshold of
// keys held by different people is collected off the ledger. The
// operation must decode (Decode) before and after.
func Cosign(tx []byte, s cose.Signer, kid did.DID) ([]byte, error) {
	if kid.Fragment == "" {
		return nil, fmt.Errorf("kid %s has no key fragment", kid)
	}
	if _, err := Decode(tx); err != nil {
		return nil, err
	}
	out, err := cose.Cosign(tx, s, []byte(kid.String()), nil)
	if err != nil {
		return nil, err
	}
	if _, err := Decode(out); err != nil {
		return nil, err
	}
	return out, nil
}

// signers checks the signatures of a decoded message: each algorithm is
// one bias accepts, each kid is protected and the DID URL of a key, all
// name keys of one signer (the first's DID), and no key signs twice.
func signers(ms []*cose.Message) (did.DID, []Cosigner, error) {
	var first did.DID
	var co []Cosigner
	seen := map[string]bool{}
	for i, m := range ms {
		if m.Alg != cose.AlgEdDSA && m.Alg != cose.AlgES256 {
			return did.DID{}, nil, Reject(ReasonUnsupportedAlg, fmt.Sprintf("algorithm %v; use EdDSA or ES256", m.Alg))
		}
		if !m.KidProtected {
			return did.DID{}, nil, Reject(ReasonMalformed, "kid must be in the protected header")
		}
		kid, err := did.Parse(string(m.Kid))
		if err != nil || kid.Fragment == "" {
			return did.DID{}, nil, Reject(ReasonMalformed, "kid must be the DID URL of a key (did:bias:<network>:<suffix>#<key>)")
		}
		if i == 0 {
			first = kid
		} else {
			if kid.Base() != first.Base() {
				return did.DID{}, nil, Reject(ReasonUnauthorized, "the signatures of one operation are by keys of one signer")
			}
			co = append(co, Cosigner{Msg: m, Kid: kid})
		}
		if seen[kid.Fragment] {
			return did.DID{}, nil, Reject(ReasonDuplicateSigner, kid.String()+" signs the operation twice")
		}
		seen[kid.Fragment] = true
	}
	return first, co, nil
}

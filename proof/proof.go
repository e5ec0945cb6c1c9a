// Package proof checks the Merkle proofs that a bias node returns with its
// records, so that a client need not trust the node that answered: an
// ICS23 proof (IAVL spec) of a key at height H verifies against the app
// hash in the header of block H+1. Checking that header itself (signed by
// 2/3 of the validators' power) is a light client's job.
//
//	err := proof.Verify(header.AppHash, view.Proof.Key, view.Proof.Value, view.Proof.Proof)
package proof

import (
	"errors"
	"fmt"

	ics23 "github.com/cosmos/ics23/go"
)

// ErrInvalid is returned when a proof does not prove the claim.
var ErrInvalid = errors.New("proof does not verify")

// MaxProofBytes bounds a proof (an IAVL proof of a billion keys is about 2 KiB).
const MaxProofBytes = 64 << 10

// Verify checks that key holds value in the state with root appHash; a nil
// value checks that key is absent.
func Verify(appHash, key, value, proof []byte) error {
	if len(proof) == 0 || len(proof) > MaxProofBytes {
		return fmt.Errorf("%w: proof must be 1 to %d bytes", ErrInvalid, MaxProofBytes)
	}
	var p ics23.CommitmentProof
	if err := p.Unmarshal(proof); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var ok bool
	if value == nil {
		ok = ics23.VerifyNonMembership(ics23.IavlSpec, appHash, &p, key)
	} else {
		ok = ics23.VerifyMembership(ics23.IavlSpec, appHash, &p, key, value)
	}
	if !ok {
		return ErrInvalid
	}
	return nil
}

package sdk

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/proof"
)

// ProvenView is an authn.View for a verifier that does not trust the node
// it asks: each record comes with a Merkle proof, checked against the app
// hash of a block header fetched from Witness, a node of another operator.
// A lie needs both nodes to collude. (Checking the header's commit
// signatures against the validator set, a light client, is the next step.)
type ProvenView struct {
	C       *Client // the node that answers
	Witness *Client // the node whose headers are believed
}

// ErrProof is wrapped when a record does not verify.
var ErrProof = errors.New("record does not verify against the witness's header")

// Entity implements authn.View.
func (v ProvenView) Entity(ctx context.Context, id did.DID) (*authn.Entity, error) {
	e, err := v.C.EntityProof(ctx, id.String(), 0)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil, nil // absence is not proven yet: treated as unknown
	}
	if err != nil {
		return nil, err
	}
	p := e.Proof
	if p == nil {
		return nil, fmt.Errorf("%w: no proof", ErrProof)
	}
	h, err := v.Witness.Header(ctx, p.AppHashHeight)
	if err != nil {
		return nil, fmt.Errorf("witness header %d: %w", p.AppHashHeight, err)
	}
	appHash, err := hex.DecodeString(h.AppHash)
	if err != nil {
		return nil, err
	}
	if err := proof.Verify(appHash, p.Key, p.Value, p.Proof); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProof, err)
	}
	// Read the proven bytes, not the node's JSON view.
	var rec struct {
		DID      string      `cbor:"1,keyasint"`
		Kind     string      `cbor:"2,keyasint"`
		Provider string      `cbor:"3,keyasint"`
		Doc      op.Document `cbor:"4,keyasint"`
		Status   string      `cbor:"5,keyasint"`
	}
	if err := op.UnmarshalLoose(p.Value, &rec); err != nil {
		return nil, fmt.Errorf("%w: record: %v", ErrProof, err)
	}
	if rec.DID != id.Base().String() || string(p.Key) != "e/"+rec.DID {
		return nil, fmt.Errorf("%w: the proof is for another record", ErrProof)
	}
	return &authn.Entity{DID: rec.DID, Kind: rec.Kind, Provider: rec.Provider, Status: rec.Status, Keys: rec.Doc.Keys, Access: rec.Doc.Access}, nil
}

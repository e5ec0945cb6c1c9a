package sdk

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
)

// PairwiseRequest asks for a pairwise DID of Device with Doc (its own
// keys; no legacy identifier).
type PairwiseRequest struct {
	Device did.DID
	Doc    op.Document
}

// Pairwise is a pairwise DID that a provider registered, and the opening
// of its commitment to its device: the provider keeps it, hands it to
// the device (sealed: Client.Seal), and puts it in the device's
// revocation (Client.RevokeWithPairwise). The ledger never sees Device or
// Salt until then.
type Pairwise struct {
	DID    did.DID `json:"did"`
	Device did.DID `json:"device"`
	Salt   []byte  `json:"salt"`
}

// RegisterPairwise registers pairwise DIDs (at most op.MaxPairwiseItems)
// under the provider of the admin key kid, in one operation signed with
// s, and waits for its block. Requests for many devices in one call hide
// which pairwise DIDs belong together better than one call per device.
func (c *Client) RegisterPairwise(ctx context.Context, s cose.Signer, kid did.DID, reqs []PairwiseRequest) ([]Pairwise, *SubmitResult, error) {
	provider := kid.Base().String()
	body := &op.Pairwise{Provider: provider}
	out := make([]Pairwise, 0, len(reqs))
	for _, r := range reqs {
		e, salt, err := op.NewPairwise(kid.Network, r.Device, r.Doc, rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		id, err := op.PairwiseDID(kid.Network, provider, e)
		if err != nil {
			return nil, nil, err
		}
		body.Items = append(body.Items, e)
		out = append(out, Pairwise{DID: id, Device: r.Device.Base(), Salt: salt})
	}
	tx, err := op.Sign(s, kid, op.Payload{Type: op.TypePairwise, Network: kid.Network, Pairwise: body})
	if err != nil {
		return nil, nil, err
	}
	res, err := c.Submit(ctx, tx)
	if err != nil {
		return nil, nil, err
	}
	return out, res, nil
}

// RevokeWithPairwise revokes device, at its current version, and its
// pairwise DIDs (at most op.MaxPairwise) in one operation signed with s,
// an admin key kid of its provider: all of them from the same block on.
// The revocation puts the link between them on the ledger.
func (c *Client) RevokeWithPairwise(ctx context.Context, s cose.Signer, kid did.DID, device did.DID, pairwise []Pairwise, reason string) (*SubmitResult, error) {
	e, err := c.Entity(ctx, device.Base().String())
	if err != nil {
		return nil, err
	}
	st := &op.Status{DID: e.DID, Version: e.Version, Reason: reason}
	for _, p := range pairwise {
		if p.Device.Base() != device.Base() {
			return nil, fmt.Errorf("%s is a pairwise DID of %s, not of %s", p.DID, p.Device, device.Base())
		}
		st.Pairwise = append(st.Pairwise, op.PairwiseOpening{DID: p.DID.String(), Salt: p.Salt})
	}
	tx, err := op.Sign(s, kid, op.Payload{Type: op.TypeRevoke, Network: kid.Network, Status: st})
	if err != nil {
		return nil, err
	}
	return c.Submit(ctx, tx)
}

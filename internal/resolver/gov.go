package resolver

import (
	"context"

	"github.com/bias-iot/bias/record"
)

// Governance reads the network's membership, validator set and
// parameters; Record is nil on a state that predates governance.
func (r *Resolver) Governance(ctx context.Context) (*Reading[record.Governance], error) {
	return read(ctx, r, record.GovernanceKey(), 0, false, record.DecodeGovernance)
}

// Proposal reads a governance proposal; Record is nil if there is none.
func (r *Resolver) Proposal(ctx context.Context, id string) (*Reading[record.Proposal], error) {
	return read(ctx, r, record.ProposalKey(id), 0, false, record.DecodeProposal)
}

// Proposals lists the proposals, in id order (at most 1000).
func (r *Resolver) Proposals(ctx context.Context) ([]*record.Proposal, error) {
	items, err := r.prefix(ctx, record.ProposalPrefix())
	if err != nil {
		return nil, err
	}
	out := make([]*record.Proposal, 0, len(items))
	for _, kv := range items {
		p, err := record.DecodeProposal(kv.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

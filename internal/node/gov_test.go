package node_test

import (
	"testing"

	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// TestGovViews: GET /v1/gov, /v1/gov/proposals and
// /v1/gov/proposals/{id} show a proposal open with one approval of two,
// then executed by the second provider's vote, and the parameters it set.
func TestGovViews(t *testing.T) {
	h := nodetest.Start(t)
	ctx := t.Context()
	g, err := h.Client.Governance(ctx)
	if err != nil || len(g.Providers) != 2 || g.Params != op.DefaultParams() || len(g.Validators) != 1 || g.Validators[0].Provider != h.Provider.DID.String() {
		t.Fatalf("governance: %+v, %v", g, err)
	}
	want := op.Params{VoteNum: 3, VoteDen: 4, Deadline: 50}
	p := op.Proposal{Kind: op.ProposalParams, Params: &want}
	res := h.MustSubmit(h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypePropose, Gov: &op.Gov{Provider: h.Provider.DID.String(), Proposal: &p}}))
	list, err := h.Client.Proposals(ctx)
	if err != nil || len(list) != 1 || list[0].ID != res.Proposal || list[0].Status != record.ProposalOpen ||
		list[0].Counted != 1 || list[0].Providers != 2 || list[0].Threshold != "2/3" || list[0].Deadline != res.Height+10_000 {
		t.Fatalf("proposals: %+v, %v", list, err)
	}
	h.MustSubmit(h.Sign(h.Other.Signer, h.Other.Kid, op.Payload{Type: op.TypeVote, Gov: &op.Gov{Provider: h.Other.DID.String(), Vote: res.Proposal}}))
	v, err := h.Client.Proposal(ctx, res.Proposal)
	if err != nil || v.Status != record.ProposalExecuted || v.Counted != 2 || v.Threshold != "3/4" || len(v.Approvals) != 2 || v.Proposal.Proposal.Params == nil {
		t.Fatalf("proposal: %+v, %v", v, err)
	}
	if g, err := h.Client.Governance(ctx); err != nil || g.Params != want {
		t.Fatalf("params: %+v, %v", g, err)
	}
	if _, err := h.Client.Proposal(ctx, "ABC"); !isReason(err, op.ReasonInvalidField) {
		t.Errorf("a bad id: %v", err)
	}
	if _, err := h.Client.Proposal(ctx, res.Hash); !isReason(err, op.ReasonUnknownProposal) {
		t.Errorf("an unknown id: %v", err) // the tx hash is not the payload hash
	}
}

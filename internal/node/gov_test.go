package node_test

import (
	"strings"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
	"github.com/bias-iot/bias/sdk"
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
	propose := h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypePropose, Gov: &op.Gov{Provider: h.Provider.DID.String(), Proposal: &p}})
	res := h.MustSubmit(propose)
	if _, err := h.Submit(propose); !isReason(err, op.ReasonReplayed) {
		t.Fatalf("the proposal again: %v", err)
	}
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

// TestRemovedProvider: once governance removes provider B, B's records
// stay (its device resolves, validated as it was), its keys sign
// nothing, a registration under it is refused, and its access contract
// denies where A's service binds it.
func TestRemovedProvider(t *testing.T) {
	h := nodetest.Start(t)
	ctx := t.Context()
	a, b := h.Provider, h.Other
	gate := b.DID.String() + "/gate"
	h.MustSubmit(h.Sign(b.Signer, b.Kid, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{
		Provider: b.DID.String(), Name: "gate", Kind: op.ContractAccess, Source: `true`, Binders: []string{a.DID.String()}}}))
	bdev := h.Register(op.KindDevice, b.DID, cose.AlgEdDSA)
	h.MustSubmit(h.Sign(b.Signer, b.Kid, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: bdev.DID.String(), Version: 1}}))
	svc := h.RegisterValidated(op.KindService, cose.AlgEdDSA)
	h.MustSubmit(h.Sign(a.Signer, a.Kid, op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: svc.DID.String(), Version: 2,
		Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", svc.Signer.Public())}, Access: []string{gate}}}}))
	dev := h.RegisterValidated(op.KindDevice, cose.AlgEdDSA)
	access := func() (bool, string) {
		d, err := h.Client.Access(ctx, sdk.AccessRequest{Device: dev.DID.String(), Service: svc.DID.String()})
		if err != nil {
			t.Fatal(err)
		}
		return d.OK, d.Detail
	}
	if ok, detail := access(); !ok {
		t.Fatalf("before the removal: %s", detail)
	}

	p := op.Proposal{Kind: op.ProposalRemove, Provider: b.DID.String()}
	res := h.MustSubmit(h.Sign(a.Signer, a.Kid, op.Payload{Type: op.TypePropose, Gov: &op.Gov{Provider: a.DID.String(), Proposal: &p}}))
	if ok, _ := access(); !ok {
		t.Fatal("an open proposal took effect")
	}
	h.MustSubmit(h.Sign(b.Signer, b.Kid, op.Payload{Type: op.TypeVote, Gov: &op.Gov{Provider: b.DID.String(), Vote: res.Proposal}}))

	if ok, detail := access(); ok || !strings.Contains(detail, "removed") {
		t.Fatalf("a removed provider's contract decided: %v %s", ok, detail)
	}
	if pv, err := h.Client.Provider(ctx, b.DID.String()); err != nil || pv.Removed == 0 {
		t.Fatalf("provider B: %+v, %v", pv, err)
	}
	if e := h.Entity(bdev.DID); e.Status != op.StatusValidated {
		t.Fatalf("B's device: %+v", e)
	}
	_, err := h.Submit(h.Sign(b.Signer, b.Kid, op.Payload{Type: op.TypeRevoke, Status: &op.Status{DID: bdev.DID.String(), Version: 2}}))
	if !isReason(err, op.ReasonUnauthorized) {
		t.Fatalf("B's key revoked after the removal: %v", err)
	}
	s := nodetest.NewKey(t, cose.AlgEdDSA)
	tx, _ := h.SignRegister(s, h.RegisterPayload(op.KindDevice, b.DID, s))
	if _, err := h.Submit(tx); !isReason(err, op.ReasonUnauthorized) {
		t.Fatalf("a registration under B: %v", err)
	}
}

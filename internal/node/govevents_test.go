package node_test

import (
	"fmt"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
	"github.com/bias-iot/bias/sdk"
)

// TestGovEvents: GET /v1/events?types=gov streams, in order, a proposal
// made and approved, the upgrade it scheduled, the upgrade applied at its
// height, a proposal that expired (a version-2 block event) and a
// provider's replaced keys; entity events stay off it, and the default
// stream carries no governance event.
func TestGovEvents(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	sign := func(by nodetest.Provider, p op.Payload) []byte { return h.Sign(by.Signer, by.Kid, p) }
	propose := func(by nodetest.Provider, p op.Proposal) []byte {
		return sign(by, op.Payload{Type: op.TypePropose, Gov: &op.Gov{Provider: by.DID.String(), Proposal: &p}})
	}
	n := 0
	tick := func() int64 {
		n++
		return h.MustSubmit(sign(h.Provider, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{
			Provider: h.Provider.DID.String(), Name: fmt.Sprintf("tick-%d", n), Kind: op.ContractAccess, Source: "true"}})).Height
	}
	at := tick() + 6
	up := propose(h.Provider, op.Proposal{Kind: op.ProposalUpgrade, Upgrade: &op.Upgrade{Name: "v2", Version: 2, Height: at}})
	h.MustSubmit(up)
	s, err := op.Decode(up)
	if err != nil {
		t.Fatal(err)
	}
	id := op.ProposalID(s.PayloadHash)
	h.MustSubmit(sign(h.Other, op.Payload{Type: op.TypeVote, Gov: &op.Gov{Provider: h.Other.DID.String(), Vote: id}}))
	for tick() < at {
	}
	// Version 2: proposals live one block from here on.
	fast := propose(h.Provider, op.Proposal{Kind: op.ProposalParams, Params: &op.Params{VoteNum: 2, VoteDen: 3, Deadline: 1}})
	h.MustSubmit(fast)
	if s, err = op.Decode(fast); err != nil {
		t.Fatal(err)
	}
	h.MustSubmit(sign(h.Other, op.Payload{Type: op.TypeVote, Gov: &op.Gov{Provider: h.Other.DID.String(), Vote: op.ProposalID(s.PayloadHash)}}))
	short := propose(h.Provider, op.Proposal{Kind: op.ProposalParams, Params: &op.Params{VoteNum: 3, VoteDen: 4, Deadline: 1}})
	made := h.MustSubmit(short).Height
	for tick() <= made+2 {
	}
	key := nodetest.NewKey(t, cose.AlgEdDSA)
	h.MustSubmit(sign(h.Other, op.Payload{Type: op.TypeKeys, Keys: &op.ProviderKeys{Provider: h.Other.DID.String(),
		Keys: []op.Key{op.KeyFrom(h.Other.Kid.Fragment, h.Other.Signer.Public()), op.KeyFrom("admin-2", key.Public())}, Threshold: 1}}))

	ch, err := h.Client.GovEvents(t.Context(), "", 1, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []func(e sdk.GovEvent) bool{
		func(e sdk.GovEvent) bool {
			return e.Event == record.GovProposed && e.Proposal == id && e.Kind == op.ProposalUpgrade && e.Approvals == 1 && e.Providers == 2
		},
		func(e sdk.GovEvent) bool {
			return e.Event == record.GovVoted && e.Provider == h.Other.DID.String() && e.Status == record.ProposalExecuted
		},
		func(e sdk.GovEvent) bool {
			return e.Event == record.GovScheduled && e.Proposal == id && e.Upgrade == "v2" && e.Version == 2 && e.UpgradeHeight == at
		},
		func(e sdk.GovEvent) bool {
			return e.Event == record.GovUpgraded && e.Height == at && e.Version == 2 && e.Upgrade == "v2"
		},
		func(e sdk.GovEvent) bool { return e.Event == record.GovProposed && e.Kind == op.ProposalParams },
		func(e sdk.GovEvent) bool { return e.Event == record.GovVoted && e.Status == record.ProposalExecuted },
		func(e sdk.GovEvent) bool { return e.Event == record.GovProposed && e.Height == made },
		func(e sdk.GovEvent) bool {
			return e.Event == record.GovExpired && e.Height == made+2 && e.Provider == h.Provider.DID.String() && e.Kind == op.ProposalParams
		},
		func(e sdk.GovEvent) bool {
			return e.Event == record.GovKeys && e.Provider == h.Other.DID.String() && e.KeysVersion == 1 && e.Threshold == 1
		},
	}
	for i, ok := range want {
		if e := next(t, ch); !ok(e) {
			t.Fatalf("governance event %d: %+v", i, e)
		}
	}
	// The default stream is of entity events only: its first is a
	// registration made now, after all of the above.
	all := stream(t, h, 1, "", "")
	dev := h.Register(op.KindDevice, h.Provider.DID, cose.AlgEdDSA)
	if e := next(t, all); e.DID != dev.DID.String() || e.Op != op.TypeRegister {
		t.Fatalf("first event of the default stream: %+v", e)
	}
}

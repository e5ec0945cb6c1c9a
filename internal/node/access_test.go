package node_test

import (
	"testing"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// TestAccessContract is the seed's roaming case: operator B's MEC service
// binds B's access contract, which admits cars of operator A only in
// areas 1 and 2; the node decides with the contract and names it.
func TestAccessContract(t *testing.T) {
	h := nodetest.Start(t)
	provA, provB := h.Provider, h.Other
	src := `device["provider"] == "` + provA.DID.String() + `" && request[?"area"].orValue("") in ["1", "2"]`
	h.MustSubmit(h.Sign(provB.Signer, provB.Kid, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{
		Provider: provB.DID.String(), Name: "roaming", Kind: op.ContractAccess, Source: src}}))

	validate := func(p nodetest.Provider, e nodetest.Entity) {
		h.MustSubmit(h.Sign(p.Signer, p.Kid, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: e.DID.String(), Version: 1}}))
	}
	mec := h.Register(op.KindService, provB.DID, cose.AlgEdDSA)
	validate(provB, mec)
	car := h.Register(op.KindDevice, provA.DID, cose.AlgEdDSA)
	validate(provA, car)

	bind := func(signer nodetest.Provider, e nodetest.Entity, v uint64, refs ...string) error {
		_, err := h.Submit(h.Sign(signer.Signer, signer.Kid, op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: e.DID.String(), Version: v,
			Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", e.Signer.Public())}, Access: refs}}}))
		return err
	}
	if err := bind(provB, mec, 2, provB.DID.String()+"/nothing"); !isReason(err, op.ReasonInvalidField) {
		t.Fatalf("binding a contract that does not exist: %v", err)
	}
	if err := bind(provA, car, 2, provB.DID.String()+"/roaming"); !isReason(err, op.ReasonInvalidField) {
		t.Fatalf("a device binding an access contract: %v", err)
	}
	if err := bind(provB, mec, 2, provB.DID.String()+"/roaming"); err != nil {
		t.Fatal(err)
	}

	view := sdk.View{C: h.Client}
	svc := &sdk.Service{Signer: mec.Signer, Kid: mec.DID.WithFragment("k1"), View: view}
	dev := &sdk.Device{Signer: car.Signer, Kid: car.DID.WithFragment("k1"), View: view}
	auth := func(area string) authn.Decision {
		ch, _ := svc.Challenge()
		p, err := dev.Answer(t.Context(), ch)
		if err != nil {
			t.Fatal(err)
		}
		d, err := h.Client.VerifyIn(t.Context(), ch, p, map[string]string{"area": area})
		if err != nil {
			t.Fatal(err)
		}
		return *d
	}
	if d := auth("1"); !d.OK || d.Contract != provB.DID.String()+"/roaming@1" {
		t.Fatalf("car of A in area 1: %+v", d)
	}
	if d := auth("3"); d.OK || d.Reason != authn.FailContractDenied || d.Contract != provB.DID.String()+"/roaming@1" {
		t.Fatalf("car of A in area 3: %+v", d)
	}
	// B widens the areas: the next decision uses version 2.
	h.MustSubmit(h.Sign(provB.Signer, provB.Kid, op.Payload{Type: op.TypeContractUp, Contract: &op.Contract{
		Provider: provB.DID.String(), Name: "roaming", Version: 1, Source: `device["provider"] == "` + provA.DID.String() + `"`}}))
	if d := auth("3"); !d.OK || d.Contract != provB.DID.String()+"/roaming@2" {
		t.Fatalf("after the update: %+v", d)
	}
}

package node_test

import (
	"strings"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

const tacContract = `aliases.exists(a, a.startsWith("urn:imei:35209900")) ? "validate" : "pending"`

// TestRegistrationContract: a provider's registration contract decides in
// the block of the registration; an update changes later decisions, not
// earlier ones; bad contracts and foreign deployments are refused.
func TestRegistrationContract(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	deploy := func(signer nodetest.Provider, provider string, typ, name, kind string, version uint64, src string) error {
		_, err := h.Submit(h.Sign(signer.Signer, signer.Kid, op.Payload{Type: typ, Contract: &op.Contract{
			Provider: provider, Name: name, Kind: kind, Version: version, Source: src}}))
		return err
	}
	prov := h.Provider.DID.String()
	deployTx := h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{
		Provider: prov, Name: "tac", Kind: op.ContractRegistration, Source: tacContract}})
	if r := h.MustSubmit(deployTx); r.Version != 1 {
		t.Fatalf("deploy: %+v", r)
	}
	signers := map[string]cose.Signer{}
	register := func(alias string) (string, string) {
		s := nodetest.NewKey(t, cose.AlgEdDSA)
		p := h.RegisterPayload(op.KindDevice, h.Provider.DID, s)
		p.Register.Doc.Aliases = []string{alias}
		tx, id := h.SignRegister(s, p)
		r := h.MustSubmit(tx)
		signers[id.String()] = s
		return id.String(), r.EntityStatus
	}
	good, st := register("urn:imei:35209900-176148-1")
	if st != op.StatusValidated {
		t.Fatalf("a device with the TAC: %s", st)
	}
	e := h.Entity(mustDID(good))
	if e.Decision == nil || e.Decision.Outcome != "validate" || !strings.HasSuffix(e.Decision.Contract, "/tac@1") || e.Version != 1 {
		t.Fatalf("decision: %+v", e)
	}
	other, st := register("urn:imei:49015420-323751-8")
	if st != op.StatusPending {
		t.Fatalf("a device without the TAC: %s", st)
	}

	// Version 2 closes registrations: later ones are rejected, earlier ones stay.
	if err := deploy(h.Provider, prov, op.TypeContractUp, "tac", "", 1, `"reject: registrations are closed"`); err != nil {
		t.Fatal(err)
	}
	late, st := register("urn:imei:35209900-176148-1")
	le := h.Entity(mustDID(late))
	if st != op.StatusRejected || le.StatusReason != "registrations are closed" || !strings.HasSuffix(le.Decision.Contract, "/tac@2") {
		t.Fatalf("after the update: %s %+v", st, le)
	}
	if h.Entity(mustDID(good)).Status != op.StatusValidated || h.Entity(mustDID(other)).Status != op.StatusPending {
		t.Fatal("an update changed earlier decisions")
	}

	// A re-registration by the device goes before the contract (version 2:
	// closed): the validated device is rejected; the provider's own update
	// of another device is not.
	reregister := func(id string, signer cose.Signer, kid did.DID) *sdkEntity {
		e := h.Entity(mustDID(id))
		h.MustSubmit(h.Sign(signer, kid, op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: id, Version: e.Version,
			Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", signers[id].Public())}, Aliases: e.Aliases, Attrs: []op.Attr{{K: "fw", V: "2"}}}}}))
		return h.Entity(mustDID(id))
	}
	if e := reregister(good, signers[good], mustDID(good).WithFragment("k1")); e.Status != op.StatusRejected || e.StatusReason != "registrations are closed" {
		t.Fatalf("self re-registration under the closed contract: %+v", e)
	}
	if e := reregister(other, h.Provider.Signer, h.Provider.Kid); e.Status != op.StatusPending || e.Attributes["fw"] != "2" {
		t.Fatalf("the provider's update went before the contract: %+v", e)
	}
	// A contract that fails at run time rejects with its reason; the node goes on.
	if err := deploy(h.Provider, prov, op.TypeContractUp, "tac", "", 2, `attrs["owner"] == "x" ? "validate" : "pending"`); err != nil {
		t.Fatal(err)
	}
	broken, st := register("tel:+15550100")
	if be := h.Entity(mustDID(broken)); st != op.StatusRejected || !strings.Contains(be.StatusReason, "contract error") {
		t.Fatalf("runtime error: %s %+v", st, be)
	}

	cases := []struct {
		name string
		err  error
		want op.Reason
	}{
		{"fail/does-not-compile", deploy(h.Provider, prov, op.TypeDeploy, "broken", op.ContractRegistration, 0, `"validate" +`), op.ReasonBadContract},
		{"fail/wrong-type", deploy(h.Provider, prov, op.TypeDeploy, "bool", op.ContractRegistration, 0, `true`), op.ReasonBadContract},
		{"fail/over-cost", deploy(h.Provider, prov, op.TypeDeploy, "costly", op.ContractRegistration, 0,
			`aliases.all(a, aliases.all(b, aliases.all(c, aliases.all(d, a + b + c + d != "")))) ? "validate" : "pending"`), op.ReasonBadContract},
		{"fail/other-providers-name", deploy(h.Other, prov, op.TypeDeploy, "mine", op.ContractRegistration, 0, tacContract), op.ReasonUnauthorized},
		{"fail/stale-update", deploy(h.Provider, prov, op.TypeContractUp, "tac", "", 1, tacContract), op.ReasonStaleVersion},
		{"fail/replayed-deploy", func() error { _, err := h.Submit(deployTx); return err }(), op.ReasonReplayed},
		{"fail/update-unknown", deploy(h.Provider, prov, op.TypeContractUp, "nothing", "", 1, tacContract), op.ReasonInvalidField},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !isReason(c.err, c.want) {
				t.Fatalf("got %v, want %s", c.err, c.want)
			}
		})
	}
}

func mustDID(s string) did.DID { return did.MustParse(s) }

type sdkEntity = sdk.EntityView

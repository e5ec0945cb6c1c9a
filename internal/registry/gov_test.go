package registry

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/core"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// govChain is a chain of n founding providers, each with a validator of
// power 10, for governance tests.
type govChain struct {
	*world
	ps  []provider
	gen []byte // the genesis app state
}

func newGovChain(t *testing.T, n int) *govChain {
	t.Helper()
	w := &world{t: t, seed: t.Name()}
	var keys []cose.Signer
	for i := range n {
		keys = append(keys, w.key(cose.AlgEdDSA, string(rune('a'+i))))
	}
	g, ps := genesisOf(t, keys...)
	w.c = newChain(t, g)
	return &govChain{world: w, ps: ps, gen: g}
}

// block applies txs, each accepted, and returns FinalizeBlock's response.
func (g *govChain) block(txs ...[]byte) *core.BlockResult {
	g.t.Helper()
	resp := g.c.finalize(txs...)
	for i, r := range resp.TxResults {
		if r.Code != 0 {
			g.t.Fatalf("tx %d: %s: %s", i, reason(r), r.Log)
		}
	}
	return resp
}

func (g *govChain) proposal(id string) *record.Proposal {
	g.t.Helper()
	p, err := getProposal(g.c.st.Latest(), id)
	if err != nil || p == nil {
		g.t.Fatalf("proposal %s: %v, %v", id, p, err)
	}
	return p
}

func (g *govChain) governance() *record.Governance {
	g.t.Helper()
	gov, err := getGovernance(g.c.st.Latest())
	if err != nil || gov == nil {
		g.t.Fatalf("governance: %v, %v", gov, err)
	}
	return gov
}

// updates renders validator updates as key:power.
func updates(us []core.ValidatorUpdate) map[string]int64 {
	m := map[string]int64{}
	for _, u := range us {
		m[string(u.PubKey)] = u.Power
	}
	return m
}

func attr(ev ledger.Event, key string) string {
	for _, a := range ev.Attrs {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}

func mustDID(t *testing.T, s string) did.DID {
	t.Helper()
	d, err := did.ParseNoFragment(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestGovRemoveLastProvider: the only provider cannot remove itself.
func TestGovRemoveLastProvider(t *testing.T) {
	g := newGovChain(t, 1)
	tx := g.propose(g.ps[0], op.Proposal{Kind: op.ProposalRemove, Provider: g.ps[0].kid.Base().String()})
	msg := refuses(t, g.c, rejection{name: "fail/gov-remove-last-provider", reason: op.ReasonUnsafeChange, where: everywhere}, tx)
	if msg != "the last provider cannot be removed" {
		t.Errorf("message %q", msg)
	}
}

// TestGovMembershipAndValidators walks four providers through an
// admission with a validator, a removal and a validator change, and
// checks what FinalizeBlock tells CometBFT: the validator updates of the
// block in which each proposal passes, and none before.
func TestGovMembershipAndValidators(t *testing.T) {
	g := newGovChain(t, 4)
	a, b, c, d := g.ps[0], g.ps[1], g.ps[2], g.ps[3]

	// Admit e with a validator: more than 2/3 of 4 is 3 approvals.
	eKey := g.key(cose.AlgEdDSA, "e")
	eVal := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32)).Public().(ed25519.PublicKey)
	admit := g.propose(a, op.Proposal{Kind: op.ProposalAdmit, Admit: &op.Admit{
		Name: "e", Keys: []op.Key{op.KeyFrom("admin-1", eKey.Public())}, Validator: &op.Validator{PubKey: eVal, Power: 10}}})
	id := g.proposalID(admit)
	if resp := g.block(admit, g.vote(b, id)); len(resp.ValidatorUpdates) != 0 {
		t.Fatalf("2 of 4 approvals changed the validators: %v", resp.ValidatorUpdates)
	}
	if p := g.proposal(id); p.Status != record.ProposalOpen || len(p.Approvals) != 2 {
		t.Fatalf("short of the threshold: %+v", p)
	}
	resp := g.block(g.vote(c, id))
	if got := updates(resp.ValidatorUpdates); len(got) != 1 || got[string(eVal)] != 10 {
		t.Fatalf("admission: validator updates %v; want e's key at 10", resp.ValidatorUpdates)
	}
	var res record.Result
	if err := op.Unmarshal(resp.TxResults[0].Data, &res); err != nil || res.Status != record.ProposalExecuted || res.Count != 3 || res.DID == "" {
		t.Fatalf("result %+v, %v", res, err)
	}
	// The vote's event, then what the execution did.
	evs := resp.TxResults[0].Events
	if len(evs) != 2 || evs[0].Type != record.EventGov || evs[1].Type != record.EventGov ||
		attr(evs[0], "status") != record.ProposalExecuted || attr(evs[0], "approvals") != "3" || attr(evs[1], "admitted") != res.DID {
		t.Fatalf("events %+v", evs)
	}
	e := provider{signer: eKey, kid: mustDID(t, res.DID).WithFragment("admin-1")}
	if gov := g.governance(); len(gov.Providers) != 5 || !gov.IsProvider(res.DID) {
		t.Fatalf("providers %v", gov.Providers)
	}
	if v, ok := g.governance().ValidatorOf(res.DID); !ok || v.Power != 10 {
		t.Fatalf("e's validator %+v, %v", v, ok)
	}

	// The new provider proposes to remove d: 4 of 5 approvals.
	remove := g.propose(e, op.Proposal{Kind: op.ProposalRemove, Provider: d.kid.Base().String()})
	rid := g.proposalID(remove)
	// d's own vote counts while it is a member; not after.
	g.block(remove, g.vote(d, rid), g.vote(a, rid))
	resp = g.block(g.vote(b, rid))
	if got := updates(resp.ValidatorUpdates); len(got) != 1 || got[string(validatorKey("d"))] != 0 {
		t.Fatalf("removal: validator updates %v; want d's key at 0", resp.ValidatorUpdates)
	}
	if p := g.proposal(rid); p.Status != record.ProposalExecuted || approvals(g.governance(), p) != 3 {
		t.Fatalf("after the removal, the removed provider's approval no longer counts: %+v", p)
	}
	res0, _ := g.c.block(g.status(d, op.TypeValidate, mustDID(t, res.DID), 1))
	if reason(res0[0]) != op.ReasonUnauthorized {
		t.Errorf("a removed provider's key signed: %s %s", reason(res0[0]), res0[0].Log)
	}

	// A validator added and taken out in one block reaches CometBFT as
	// nothing (an update removing a key it never had would halt it).
	fKey := g.key(cose.AlgEdDSA, "f")
	fVal := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32)).Public().(ed25519.PublicKey)
	fAdmit := g.propose(a, op.Proposal{Kind: op.ProposalAdmit, Admit: &op.Admit{
		Name: "f", Keys: []op.Key{op.KeyFrom("admin-1", fKey.Public())}, Validator: &op.Validator{PubKey: fVal, Power: 5}}})
	fid := g.proposalID(fAdmit)
	fDID, err := ProviderDID(network, GenesisProvider{Name: "f", Keys: []op.Key{op.KeyFrom("admin-1", fKey.Public())}})
	if err != nil {
		t.Fatal(err)
	}
	fOut := g.propose(a, op.Proposal{Kind: op.ProposalValidator, Provider: fDID.String(), Validator: &op.Validator{PubKey: fVal}})
	oid := g.proposalID(fOut)
	resp = g.block(fAdmit, g.vote(b, fid), g.vote(c, fid), fOut, g.vote(b, oid), g.vote(c, oid), g.vote(e, oid))
	if len(resp.ValidatorUpdates) != 0 {
		t.Fatalf("in and out in one block: validator updates %v; want none", resp.ValidatorUpdates)
	}
	if _, ok := g.governance().ValidatorOf(fDID.String()); ok || g.proposal(oid).Status != record.ProposalExecuted {
		t.Fatal("f's validator should be out")
	}
}

// TestGovParams: the threshold and the deadline are parameters in state
// that a proposal changes, and a later proposal is counted by the new
// ones.
func TestGovParams(t *testing.T) {
	g := newGovChain(t, 3)
	a, b, c := g.ps[0], g.ps[1], g.ps[2]
	set := g.propose(a, op.Proposal{Kind: op.ProposalParams, Params: &op.Params{VoteNum: 1, VoteDen: 2, Deadline: 2}})
	id := g.proposalID(set)
	g.block(set, g.vote(b, id))
	if p := g.proposal(id); p.Status != record.ProposalOpen {
		t.Fatalf("2 of 3 is not more than 2/3: %+v", p)
	}
	g.block(g.vote(c, id))
	if gov := g.governance(); gov.Params != (op.Params{VoteNum: 1, VoteDen: 2, Deadline: 2}) {
		t.Fatalf("params %+v", gov.Params)
	}
	// Now 2 of 3 pass, and a proposal lives 2 blocks.
	next := g.propose(b, op.Proposal{Kind: op.ProposalParams, Params: &op.Params{VoteNum: 2, VoteDen: 3, Deadline: 100}})
	nid := g.proposalID(next)
	g.block(next)
	if p := g.proposal(nid); p.Deadline != p.Height+2 {
		t.Fatalf("deadline %d at height %d", p.Deadline, p.Height)
	}
	g.block(g.vote(c, nid))
	if p := g.proposal(nid); p.Status != record.ProposalExecuted {
		t.Fatalf("2 of 3 is more than 1/2: %+v", p)
	}
}

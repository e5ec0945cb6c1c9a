package registry

import (
	"errors"
	"fmt"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// signBy signs p with each of ks: a COSE_Sign1 for one key when one is
// true, else a COSE_Sign with a signature per key.
func signBy(t *testing.T, p op.Payload, one bool, ks ...provider) []byte {
	t.Helper()
	p.Network = network
	if one && len(ks) == 1 {
		return sign(t, ks[0].signer, ks[0].kid, p)
	}
	var ss []cose.Signer
	var kids []did.DID
	for _, k := range ks {
		ss, kids = append(ss, k.signer), append(kids, k.kid)
	}
	tx, err := op.SignMulti(ss, kids, p)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// adminKey is the admin key named id of the provider of base, derived
// from name.
func (g *govChain) adminKey(base did.DID, id, name string) provider {
	return provider{signer: g.key(cose.AlgEdDSA, name), kid: base.WithFragment(id)}
}

func keysOf(ks ...provider) []op.Key {
	var out []op.Key
	for _, k := range ks {
		out = append(out, op.KeyFrom(k.kid.Fragment, k.signer.Public()))
	}
	return out
}

func keysOp(prov did.DID, v uint64, threshold uint64, ks ...provider) op.Payload {
	return op.Payload{Type: op.TypeKeys, Keys: &op.ProviderKeys{Provider: prov.String(), Version: v, Keys: keysOf(ks...), Threshold: threshold}}
}

// refused checks that tx is refused for want, by Precheck and in a block.
func (g *govChain) refused(tx []byte, want op.Reason) {
	g.t.Helper()
	var oe *op.Error
	if err := g.c.app.Precheck(tx); !errors.As(err, &oe) || oe.Reason != want {
		g.t.Fatalf("Precheck: %v; want %s", err, want)
	}
	r := g.c.finalize(tx).TxResults[0]
	if reason(r) != want {
		g.t.Fatalf("in a block: %s: %s; want %s", reason(r), r.Log, want)
	}
}

func (g *govChain) provider(id did.DID) *record.Provider {
	g.t.Helper()
	p, err := getProvider(g.c.st.Latest(), id.String())
	if err != nil || p == nil {
		g.t.Fatalf("provider %s: %v %v", id, p, err)
	}
	return p
}

// TestProviderKeysRotation: a provider replaces its admin keys and
// threshold by a threshold of its current keys, naming the key-set
// version it replaces; each refusal is named.
func TestProviderKeysRotation(t *testing.T) {
	g := newGovChain(t, 3)
	a := g.ps[0]
	base := a.kid.Base()
	k2, k3, k4 := g.adminKey(base, "admin-2", "a2"), g.adminKey(base, "admin-3", "a3"), g.adminKey(base, "admin-4", "a4")

	// 1 of 1 (a COSE_Sign1, as before) makes the set 2 of 3.
	first := signBy(t, keysOp(base, 0, 2, k2, k3, k4), true, a)
	resp := g.block(first)
	p := g.provider(base)
	if p.KeysVersion != 1 || p.Quorum() != 2 || len(p.Keys) != 3 {
		t.Fatalf("after the first rotation: version %d, quorum %d, %d keys", p.KeysVersion, p.Quorum(), len(p.Keys))
	}
	ev := resp.TxResults[0].Events[0]
	if ev.Type != record.EventProvider || attr(ev, "keysVersion") != "1" || attr(ev, "threshold") != "2" {
		t.Fatalf("event %+v", ev)
	}
	t.Run("fail/keys-replayed", func(t *testing.T) {
		g.t = t
		g.refused(first, op.ReasonReplayed) // its signer is no longer a key
	})
	t.Run("fail/keys-old-key", func(t *testing.T) {
		g.t = t
		g.refused(signBy(t, keysOp(base, 1, 1, a), true, a), op.ReasonUnknownSigner)
	})
	t.Run("fail/keys-below-threshold", func(t *testing.T) {
		g.t = t
		g.refused(signBy(t, keysOp(base, 1, 1, k2), true, k2), op.ReasonBelowThreshold)
		g.refused(signBy(t, keysOp(base, 1, 1, k2), false, k2), op.ReasonBelowThreshold) // a COSE_Sign of one
	})
	t.Run("fail/keys-duplicate-signer", func(t *testing.T) {
		g.t = t
		g.refused(signBy(t, keysOp(base, 1, 1, k2), false, k2, k2), op.ReasonDuplicateSigner)
	})
	t.Run("fail/keys-unknown-cosigner", func(t *testing.T) {
		g.t = t
		g.refused(signBy(t, keysOp(base, 1, 1, k2), false, k2, g.adminKey(base, "admin-9", "a9")), op.ReasonUnknownSigner)
	})
	t.Run("fail/keys-wrong-cosignature", func(t *testing.T) {
		g.t = t
		forged := provider{signer: g.key(cose.AlgEdDSA, "not-a3"), kid: k3.kid}
		g.refused(signBy(t, keysOp(base, 1, 1, k2), false, k2, forged), op.ReasonBadSignature)
	})
	t.Run("fail/keys-other-signer", func(t *testing.T) {
		g.t = t
		g.refused(signBy(t, keysOp(base, 1, 1, k2), false, k2, g.ps[1]), op.ReasonUnauthorized)
	})
	t.Run("fail/keys-stale-version", func(t *testing.T) {
		g.t = t
		g.refused(signBy(t, keysOp(base, 0, 1, k2), false, k2, k3), op.ReasonStaleVersion)
	})
	for name, pl := range map[string]op.Payload{
		"threshold-zero":  keysOp(base, 1, 0, k2),
		"threshold-above": keysOp(base, 1, 2, k2),
		"no-keys":         keysOp(base, 1, 1),
		"too-many-keys":   keysOp(base, 1, 1, g.manyKeys(base, op.MaxKeys+1)...),
	} {
		t.Run("fail/keys-"+name, func(t *testing.T) {
			g.t = t
			g.refused(signBy(t, pl, false, k2, k3), op.ReasonInvalidField)
		})
	}
	g.t = t

	// 2 of 3 (k3 and k4, in either order) make it 1 of 1; then k2 is no
	// key, and k4's single signature is enough.
	k5 := g.adminKey(base, "admin-5", "a5")
	g.block(signBy(t, keysOp(base, 1, 1, k5), false, k4, k3))
	if p := g.provider(base); p.KeysVersion != 2 || p.Quorum() != 1 {
		t.Fatalf("after the second rotation: version %d, quorum %d", p.KeysVersion, p.Quorum())
	}
	g.refused(signBy(t, keysOp(base, 2, 1, k2), true, k2), op.ReasonUnknownSigner)
	g.block(g.deployBy(base, "c1", false, k5))
}

func (g *govChain) manyKeys(base did.DID, n int) []provider {
	var out []provider
	for i := range n {
		out = append(out, g.adminKey(base, fmt.Sprintf("m-%d", i), fmt.Sprintf("m%d", i)))
	}
	return out
}

func (g *govChain) deployBy(base did.DID, name string, one bool, ks ...provider) []byte {
	g.t.Helper()
	return signBy(g.t, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{Provider: base.String(), Name: name, Kind: op.ContractAccess, Source: "true"}}, one, ks...)
}

// TestStolenKeyCannotActAlone: with a threshold of 2, one admin key
// (stolen) signs none of the provider's operations alone, of any kind
// (below-threshold; a ticket, bad-ticket), and the same operation signed
// by two of its keys applies.
func TestStolenKeyCannotActAlone(t *testing.T) {
	g := newGovChain(t, 3)
	a := g.ps[0]
	base := a.kid.Base()
	stolen, k3 := g.adminKey(base, "admin-2", "a2"), g.adminKey(base, "admin-3", "a3")
	g.block(signBy(t, keysOp(base, 0, 2, stolen, k3), true, a))

	var devs []entity
	var txs [][]byte
	for i := range 5 {
		tx, e := g.register(op.KindDevice, a, g.key(cose.AlgEdDSA, fmt.Sprintf("dev%d", i)), nil)
		devs, txs = append(devs, e), append(txs, tx)
	}
	// b proposes, for a to approve.
	bProp := g.propose(g.ps[1], op.Proposal{Kind: op.ProposalParams, Params: &op.Params{VoteNum: 2, VoteDen: 3, Deadline: 100}})
	g.block(append(txs, bProp)...)

	status := func(typ string, e entity, v uint64) op.Payload {
		return op.Payload{Type: typ, Status: &op.Status{DID: e.id.String(), Version: v}}
	}
	ticket, err := op.Marshal(op.Ticket{Network: network, Provider: base.String(), Key: g.key(cose.AlgEdDSA, "ticketed").Public().Bytes(), Expires: g.c.time.Unix() + 3600})
	if err != nil {
		t.Fatal(err)
	}
	withTicket := func(ks ...provider) []byte {
		var ss []cose.Signer
		var kids [][]byte
		for _, k := range ks {
			ss, kids = append(ss, k.signer), append(kids, []byte(k.kid.String()))
		}
		tk, err := cose.Sign(ss, kids, ticket, nil)
		if len(ks) == 1 {
			tk, err = cose.Sign1(ks[0].signer, kids[0], ticket, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		tx, _ := g.register(op.KindDevice, a, g.key(cose.AlgEdDSA, "ticketed"), func(r *op.Register) { r.Ticket = tk })
		return tx
	}
	cases := []struct {
		name string
		p    op.Payload
	}{
		{"validate", status(op.TypeValidate, devs[0], 1)},
		{"revoke", status(op.TypeRevoke, devs[0], 2)},
		{"reject", status(op.TypeReject, devs[1], 1)},
		{"deactivate", status(op.TypeDeactivate, devs[2], 1)},
		{"update", op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: devs[3].id.String(), Version: 1, Doc: docOf(devs[3])}}},
		{"enroll", op.Payload{Type: op.TypeEnroll, Enroll: &op.Enroll{Provider: base.String(), Items: []op.EnrollEntry{g.item("batch-1")}}}},
		{"contract.deploy", op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{Provider: base.String(), Name: "acl", Kind: op.ContractAccess, Source: "true"}}},
		{"contract.update", op.Payload{Type: op.TypeContractUp, Contract: &op.Contract{Provider: base.String(), Name: "acl", Version: 1, Source: "!false"}}},
		{"publish", op.Payload{Type: op.TypePublish, Publish: &op.Publish{Provider: base.String(), TokenKeys: []op.Key{op.KeyFrom("t1", g.key(cose.AlgES256, "tok").Public())}}}},
		{"gov.propose", op.Payload{Type: op.TypePropose, Gov: &op.Gov{Provider: base.String(), Proposal: &op.Proposal{Kind: op.ProposalParams, Params: &op.Params{VoteNum: 3, VoteDen: 4, Deadline: 100}}}}},
		{"gov.vote", op.Payload{Type: op.TypeVote, Gov: &op.Gov{Provider: base.String(), Vote: g.proposalID(bProp)}}},
		{"provider.keys", keysOp(base, 1, 2, stolen, k3, g.adminKey(base, "admin-4", "a4"))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g.t = t
			g.refused(signBy(t, c.p, true, stolen), op.ReasonBelowThreshold)
			g.refused(signBy(t, c.p, false, stolen), op.ReasonBelowThreshold)
			g.block(signBy(t, c.p, false, stolen, k3))
		})
	}
	t.Run("ticket", func(t *testing.T) {
		g.t = t
		g.refused(withTicket(stolen), op.ReasonBadTicket)
		g.block(withTicket(stolen, k3))
	})
	g.t = t
	if p := g.provider(base); p.KeysVersion != 2 || p.Publication == nil {
		t.Fatalf("provider after the cases: keys version %d, publication %v", p.KeysVersion, p.Publication)
	}
}

// TestKeysRecoveryByGovernance: a provider that lost every admin key gets
// a new set by a provider.keys proposal of the others; its old key then
// signs nothing, its new one does.
func TestKeysRecoveryByGovernance(t *testing.T) {
	g := newGovChain(t, 4)
	lost := g.ps[0]
	base := lost.kid.Base()
	fresh := g.adminKey(base, "admin-2", "fresh")
	prop := g.propose(g.ps[1], op.Proposal{Kind: op.ProposalKeys, Provider: base.String(), KeySet: &op.KeySet{Keys: keysOf(fresh), Threshold: 1}})
	id := g.proposalID(prop)
	g.block(prop, g.vote(g.ps[2], id))
	if g.provider(base).KeysVersion != 0 {
		t.Fatal("2 of 4 replaced the keys")
	}
	resp := g.block(g.vote(g.ps[3], id))
	if g.proposal(id).Status != record.ProposalExecuted {
		t.Fatal("3 of 4 did not execute the proposal")
	}
	p := g.provider(base)
	if p.KeysVersion != 1 || len(p.Keys) != 1 || p.Keys[0].ID != "admin-2" || p.KeysOp != nil {
		t.Fatalf("recovered provider %+v", p)
	}
	found := false
	for _, ev := range resp.TxResults[0].Events {
		found = found || (ev.Type == record.EventProvider && attr(ev, "keysVersion") == "1")
	}
	if !found {
		t.Error("no provider event for the recovered keys")
	}
	g.refused(g.deployBy(base, "c", true, lost), op.ReasonUnknownSigner)
	g.block(g.deployBy(base, "c", true, fresh))
	// A provider that is not current gets no keys.
	g.refused(g.propose(g.ps[1], op.Proposal{Kind: op.ProposalKeys, Provider: did.New(network, []byte("nobody")).String(), KeySet: &op.KeySet{Keys: keysOf(fresh), Threshold: 1}}), op.ReasonUnknownProvider)
}

// TestEntityOperationIsSingleSigned: an entity's own operation carries
// one signature; a COSE_Sign of two of its keys is unauthorized.
func TestEntityOperationIsSingleSigned(t *testing.T) {
	g := newGovChain(t, 1)
	tx, e := g.register(op.KindDevice, g.ps[0], g.key(cose.AlgEdDSA, "dev"), nil)
	g.block(tx)
	other := g.key(cose.AlgEdDSA, "dev-2")
	doc := op.Document{Keys: []op.Key{op.KeyFrom("k1", e.s.Public()), op.KeyFrom("k2", other.Public())}}
	g.block(g.update(e.s, e.kid(), e, 1, doc))
	pl := op.Payload{Type: op.TypeDeactivate, Status: &op.Status{DID: e.id.String(), Version: 2}}
	g.refused(signBy(t, pl, false, provider{e.s, e.kid()}, provider{other, e.id.WithFragment("k2")}), op.ReasonUnauthorized)
	g.block(signBy(t, pl, true, provider{e.s, e.kid()}))
}

// BenchmarkThresholdPrecheck measures the check of a provider's
// operation (a governance proposal, uncached: each iteration a new one)
// signed by 1 key (a COSE_Sign1), and by 2 and 3 keys of a 3-key set
// (a COSE_Sign): the cost of a threshold is one verification per key.
func BenchmarkThresholdPrecheck(b *testing.B) {
	t := &testing.T{} // the helpers take a *testing.T; the setup does not fail
	for _, n := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			g := newGovChain(t, 1)
			a := g.ps[0]
			base := a.kid.Base()
			ks := []provider{g.adminKey(base, "admin-2", "b2"), g.adminKey(base, "admin-3", "b3"), g.adminKey(base, "admin-4", "b4")}
			g.block(signBy(t, keysOp(base, 0, uint64(n), ks...), true, a))
			txs := make([][]byte, b.N)
			for i := range txs {
				txs[i] = signBy(t, op.Payload{Type: op.TypePropose, Gov: &op.Gov{Provider: base.String(), Proposal: &op.Proposal{
					Kind: op.ProposalParams, Params: &op.Params{VoteNum: 2, VoteDen: 3, Deadline: 9}, Nonce: []byte(fmt.Sprint(i))}}}, true, ks[:n]...)
			}
			b.ResetTimer()
			for i := range b.N {
				if err := g.c.app.Precheck(txs[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

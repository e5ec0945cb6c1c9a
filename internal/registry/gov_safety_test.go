package registry

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"strings"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/ledger/core"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// setPower is a validator.set proposal giving provider p's validator the
// power.
func (g *govChain) setPower(by, p provider, power int64, nonce string) []byte {
	return g.propose(by, op.Proposal{Kind: op.ProposalValidator, Provider: p.kid.Base().String(),
		Validator: &op.Validator{PubKey: validatorKey(string(rune('a' + g.index(p)))), Power: power}, Nonce: []byte(nonce)})
}

func (g *govChain) index(p provider) int {
	for i, q := range g.ps {
		if q.kid == p.kid {
			return i
		}
	}
	g.t.Fatalf("no provider %s", p.kid)
	return -1
}

// TestGovValidatorSafety: the BFT-safety rule of validator changes holds
// for a block's changes together (two proposals that each move less than
// a third do not pass in one block if together they move more); a change
// does not leave fewer than four validators, nor give one validator a
// third or more of the power; and an admin key set does not hold one key
// under two ids (it would count twice toward the threshold).
func TestGovValidatorSafety(t *testing.T) {
	g := newGovChain(t, 6) // power 10 each, 60 in all: a third is 20
	a, b, c, d, e := g.ps[0], g.ps[1], g.ps[2], g.ps[3], g.ps[4]
	x := g.setPower(a, a, 21, "x") // moves 11
	y := g.setPower(b, b, 21, "y") // moves 11: 22 with x
	xid, yid := g.proposalID(x), g.proposalID(y)
	g.block(y, g.vote(a, yid), g.vote(c, yid), g.vote(d, yid)) // 4 of 6: open
	res, _ := g.c.block(x, g.vote(b, xid), g.vote(c, xid), g.vote(d, xid), g.vote(e, xid), g.vote(e, yid))
	for i, r := range res[:5] {
		if r.Code != 0 {
			t.Fatalf("tx %d: %s: %s", i, reason(r), r.Log)
		}
	}
	if r := res[5]; reason(r) != op.ReasonUnsafeChange || !strings.Contains(r.Log, "the changes of one block") {
		t.Fatalf("fail/gov-block-moves-a-third: the vote passing y in x's block: %s: %s", reason(r), r.Log)
	}
	if p := g.proposal(yid); p.Status != record.ProposalOpen {
		t.Fatalf("y %+v", p)
	}
	// In the next block, from the set x made, y moves 11 of 71: it passes.
	resp := g.block(g.vote(e, yid))
	if got := updates(resp.ValidatorUpdates); len(got) != 1 || got[string(validatorKey("b"))] != 21 {
		t.Fatalf("y in a block of its own: %v", resp.ValidatorUpdates)
	}

	// Four validators: none may go.
	g4 := newGovChain(t, 4) // 40 in all
	a4, d4 := g4.ps[0], g4.ps[3]
	tx := g4.propose(a4, op.Proposal{Kind: op.ProposalValidator, Provider: d4.kid.Base().String(), Validator: &op.Validator{PubKey: validatorKey("d")}})
	if msg := refuses(t, g4.c, rejection{name: "fail/gov-fewer-than-four-validators", reason: op.ReasonUnsafeChange, where: everywhere}, tx); !strings.Contains(msg, "leave 3 validators") {
		t.Errorf("message %q", msg)
	}
	// One validator to 19 of 49 (it moves 9, less than a third of 40).
	tx = g4.propose(a4, op.Proposal{Kind: op.ProposalValidator, Provider: a4.kid.Base().String(), Validator: &op.Validator{PubKey: validatorKey("a"), Power: 19}})
	if msg := refuses(t, g4.c, rejection{name: "fail/gov-one-validator-a-third", reason: op.ReasonUnsafeChange, where: everywhere}, tx); !strings.Contains(msg, "19 of the total power 49") {
		t.Errorf("message %q", msg)
	}
	// To 13 of 43 it may.
	g4.block(g4.propose(a4, op.Proposal{Kind: op.ProposalValidator, Provider: a4.kid.Base().String(), Validator: &op.Validator{PubKey: validatorKey("a"), Power: 13}}))

	// An admission with a current provider's admin key (one operator,
	// two votes).
	tx = g4.propose(a4, op.Proposal{Kind: op.ProposalAdmit, Admit: &op.Admit{Name: "twin", Keys: []op.Key{op.KeyFrom("admin-1", d4.signer.Public())}}})
	if msg := refuses(t, g4.c, rejection{name: "fail/gov-admit-current-key", reason: op.ReasonInvalidField, where: everywhere}, tx); !strings.Contains(msg, "is "+d4.kid.Base().String()+"'s") {
		t.Errorf("message %q", msg)
	}

	// One key under two ids.
	base := a4.kid.Base()
	twice := keysOp(base, 0, 2, a4, provider{signer: a4.signer, kid: base.WithFragment("admin-2")})
	g4.refused(signBy(t, twice, true, a4), op.ReasonInvalidField)
}

// TestGovReplayDeterminism: a chain that admits a provider with a
// validator, rotates a provider's admin keys to 2 of 3, removes a
// provider, and registers and revokes entities throughout, replayed from
// its genesis on a second node, has the same app hash at every block and
// the same validator updates: membership changes are deterministic.
func TestGovReplayDeterminism(t *testing.T) {
	g := newGovChain(t, 5)
	a, b, c, d, e := g.ps[0], g.ps[1], g.ps[2], g.ps[3], g.ps[4]
	var blocks [][][]byte
	add := func(txs ...[]byte) { blocks = append(blocks, txs) }

	fKey := g.key(cose.AlgEdDSA, "f")
	fVal := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32)).Public().(ed25519.PublicKey)
	admit := g.propose(a, op.Proposal{Kind: op.ProposalAdmit, Admit: &op.Admit{
		Name: "f", Keys: []op.Key{op.KeyFrom("admin-1", fKey.Public())}, Validator: &op.Validator{PubKey: fVal, Power: 10}}})
	aid := g.proposalID(admit)
	dev, devE := g.register(op.KindDevice, a, g.key(cose.AlgEdDSA, "dev"), nil)
	add(admit, g.vote(b, aid), dev)
	add(g.vote(c, aid), g.vote(d, aid), g.status(a, op.TypeValidate, devE.id, 1))
	base := b.kid.Base()
	k2, k3 := g.adminKey(base, "admin-2", "b2"), g.adminKey(base, "admin-3", "b3")
	add(signBy(t, keysOp(base, 0, 2, b, k2, k3), true, b))
	remove := g.propose(c, op.Proposal{Kind: op.ProposalRemove, Provider: e.kid.Base().String()})
	rid := g.proposalID(remove)
	add(remove, g.vote(a, rid), signBy(t, op.Payload{Type: op.TypeVote, Gov: &op.Gov{Provider: base.String(), Vote: rid}}, false, b, k2))
	add(g.vote(d, rid), g.vote(e, rid), g.status(a, op.TypeRevoke, devE.id, 2))
	add()

	run := func(ch *chain) ([][]byte, [][]core.ValidatorUpdate) {
		var hashes [][]byte
		var vals [][]core.ValidatorUpdate
		for i, txs := range blocks {
			resp := ch.finalize(txs...)
			for j, r := range resp.TxResults {
				if r.Code != 0 {
					t.Fatalf("block %d tx %d: %s: %s", i, j, reason(r), r.Log)
				}
			}
			hashes, vals = append(hashes, resp.AppHash), append(vals, resp.ValidatorUpdates)
		}
		return hashes, vals
	}
	first, firstVals := run(g.c)
	second, secondVals := run(newChain(t, g.gen))
	for i := range first {
		if !bytes.Equal(first[i], second[i]) {
			t.Fatalf("block %d: app hash %x, replayed %x", i, first[i], second[i])
		}
		if fmt.Sprint(updates(firstVals[i])) != fmt.Sprint(updates(secondVals[i])) {
			t.Fatalf("block %d: validator updates %v, replayed %v", i, firstVals[i], secondVals[i])
		}
	}
	// The script did change the membership and the validators.
	gov := g.governance()
	if len(gov.Providers) != 5 || gov.IsProvider(e.kid.Base().String()) {
		t.Fatalf("providers after the script: %v", gov.Providers)
	}
	if changed := updates(firstVals[1]); changed[string(fVal)] != 10 {
		t.Fatalf("the admission's validator update: %v", firstVals[1])
	}
}

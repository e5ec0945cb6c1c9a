package node_test

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/ledger/cometledger"
	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/keyfile"
	"github.com/bias-iot/bias/lightclient"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// TestTestnetGovernance runs four validators and one full node in
// process on loopback. Operators A, B and C admit operator E with the
// full node's consensus key as its validator: CometBFT's validator set
// takes it in and its address signs commits. A proposal short of the
// threshold never changes the set; then A, B, C and E remove D, whose
// validator leaves the set. A light client that trusts the genesis set
// verifies headers of both new sets (lightclient.VerifyTrusting).
// Registrations commit throughout.
func TestTestnetGovernance(t *testing.T) {
	t.Parallel()
	const network = "govnet"
	nodes, clients := startNet(t, network, 4, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	waitFor(ctx, t, "the network to start", func() bool {
		provs, err := clients[0].Providers(ctx)
		return err == nil && len(provs) == 4
	})

	type operator struct {
		signer cose.Signer
		id     did.DID
	}
	var ops []operator
	for _, n := range nodes[:4] {
		s, err := keyfile.Load(n.AdminKey)
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, operator{s, did.MustParse(n.ProviderDID)})
	}
	submit := func(c *sdk.Client, by operator, g op.Gov) *sdk.SubmitResult {
		t.Helper()
		g.Provider = by.id.String()
		tx, err := op.Sign(by.signer, by.id.WithFragment(node.AdminKeyID), op.Payload{Type: gtype(g), Network: network, Gov: &g})
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Submit(ctx, tx)
		if err != nil {
			t.Fatalf("%s by %s: %v", gtype(g), by.id, err)
		}
		return res
	}

	// Registrations at node 0, throughout.
	var (
		regMu      sync.Mutex
		registered []int64 // the heights they committed at
		regErr     error
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			s := nodetest.NewKey(t, cose.AlgEdDSA)
			tx, _, err := op.SignRegister(s, "k1", op.Payload{Network: network, Register: &op.Register{
				Kind: op.KindDevice, Provider: ops[0].id.String(), Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}}}})
			if err == nil {
				var res *sdk.SubmitResult
				res, err = clients[0].Submit(ctx, tx)
				if err == nil {
					regMu.Lock()
					registered = append(registered, res.Height)
					regMu.Unlock()
				}
			}
			if err != nil {
				regMu.Lock()
				regErr = err
				regMu.Unlock()
				return
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()

	// The full node's consensus key becomes operator E's validator.
	eVal := validatorOf(t, nodes[4].Config.Home)
	eAdmin := nodetest.NewKey(t, cose.AlgEdDSA)
	admit := op.Proposal{Kind: op.ProposalAdmit, Admit: &op.Admit{
		Name: "operator-e", Keys: []op.Key{op.KeyFrom(node.AdminKeyID, eAdmin.Public())}, Validator: &op.Validator{PubKey: eVal, Power: 10}}}
	res := submit(clients[0], ops[0], op.Gov{Proposal: &admit})
	id := res.Proposal
	if res.ProposalStatus != "open" || res.Count != 1 || len(id) != 64 {
		t.Fatalf("proposal: %+v", res)
	}
	waitFor(ctx, t, "node 1 to see the proposal", func() bool { h, _ := clients[1].Status(ctx); return h != nil && h.Height > res.Height })
	if res := submit(clients[1], ops[1], op.Gov{Vote: id}); res.ProposalStatus != "open" || res.Count != 2 {
		t.Fatalf("2 of 4 approvals: %+v", res)
	}
	// Short of the threshold, for several blocks: the set is unchanged.
	short := submit(clients[0], ops[0], op.Gov{Proposal: &op.Proposal{Kind: op.ProposalValidator, Provider: ops[3].id.String(),
		Validator: &op.Validator{PubKey: validatorOf(t, nodes[3].Config.Home), Power: 12}}})
	waitFor(ctx, t, "node 2 to see the proposals", func() bool { h, _ := clients[2].Status(ctx); return h != nil && h.Height > short.Height })
	submit(clients[2], ops[1], op.Gov{Vote: short.Proposal})
	executed := submit(clients[2], ops[2], op.Gov{Vote: id})
	if executed.ProposalStatus != "executed" || executed.Count != 3 || executed.DID == "" {
		t.Fatalf("3 of 4 approvals: %+v", executed)
	}
	eID := did.MustParse(executed.DID)

	// CometBFT takes E's validator in (from two blocks on), and the full
	// node's key signs commits.
	waitFor(ctx, t, "E's validator in the set", func() bool { return hasValidator(ctx, clients[0], eVal, 10) && len(validators(ctx, clients[0])) == 5 })
	eAddr := lightclient.Validator{PubKey: eVal, Power: 10}.Address()
	waitFor(ctx, t, "a commit signed by E's validator", func() bool {
		st, err := clients[0].Status(ctx)
		if err != nil {
			return false
		}
		sh, err := clients[0].SignedHeader(ctx, st.Height)
		if err != nil {
			return false
		}
		for _, s := range sh.Commit.Signatures {
			if bytes.Equal(s.ValidatorAddress, eAddr) && len(s.Signature) > 0 {
				return true
			}
		}
		return false
	})
	gb, err := os.ReadFile(cometledger.GenesisFile(nodes[0].Config.Home))
	if err != nil {
		t.Fatal(err)
	}
	genesis, err := lightclient.ParseGenesis(gb)
	if err != nil {
		t.Fatal(err)
	}
	// A light client that trusts the genesis set follows the change:
	// the genesis validators that signed a header of the new set hold
	// more than a third of the genesis power.
	follows := func() bool {
		st, err := clients[0].Status(ctx)
		if err != nil {
			return false
		}
		vs, err := st.ValidatorSet()
		if err != nil {
			return false
		}
		sh, err := clients[0].SignedHeader(ctx, st.Height)
		if err != nil {
			return false
		}
		if lightclient.Verify(network, sh, genesis.Validators) == nil {
			return false // still the genesis set
		}
		// The status and the header may name different sets for a moment.
		return lightclient.VerifyTrusting(network, sh, genesis.Validators, vs) == nil
	}
	waitFor(ctx, t, "a header of the new set verified from the genesis set", follows)
	for _, v := range validators(ctx, clients[0]) {
		if v.Power != 10 {
			t.Fatalf("a proposal short of the threshold changed a validator: %+v", v)
		}
	}

	// A, B, C and E (4 of 5) remove D; D's validator leaves the set.
	e := operator{eAdmin, eID}
	dVal := validatorOf(t, nodes[3].Config.Home)
	remove := submit(clients[0], ops[0], op.Gov{Proposal: &op.Proposal{Kind: op.ProposalRemove, Provider: ops[3].id.String()}})
	waitFor(ctx, t, "node 4 to see the removal", func() bool { h, _ := clients[4].Status(ctx); return h != nil && h.Height > remove.Height })
	submit(clients[1], ops[1], op.Gov{Vote: remove.Proposal})
	submit(clients[2], ops[2], op.Gov{Vote: remove.Proposal})
	removed := submit(clients[4], e, op.Gov{Vote: remove.Proposal})
	if removed.ProposalStatus != "executed" {
		t.Fatalf("4 of 5: %+v", removed)
	}
	waitFor(ctx, t, "D's validator out of the set", func() bool {
		return !hasValidator(ctx, clients[0], dVal, 10) && len(validators(ctx, clients[0])) == 4
	})
	waitFor(ctx, t, "a header of the set without D verified from the genesis set", follows)
	// D's admin key signs nothing now.
	if _, err := clients[3].Submit(ctx, mustSign(t, ops[3].signer, ops[3].id, op.Gov{Provider: ops[3].id.String(), Vote: short.Proposal})); !isReason(err, op.ReasonUnauthorized) {
		t.Fatalf("a removed provider voted: %v", err)
	}

	// Registrations committed while the admission was open, under the
	// five validators, and under the four after the removal (a change
	// applies two blocks after the block that made it).
	last := validatorsHeight(ctx, t, clients[0])
	waitFor(ctx, t, "a registration after the removal", func() bool {
		regMu.Lock()
		defer regMu.Unlock()
		return regErr != nil || (len(registered) > 0 && registered[len(registered)-1] > last)
	})
	regMu.Lock()
	defer regMu.Unlock()
	if regErr != nil {
		t.Fatalf("a registration failed: %v", regErr)
	}
	spans := []struct {
		what     string
		from, to int64
	}{
		{"while the admission was open", res.Height, executed.Height},
		{"under five validators", executed.Height + 2, removed.Height + 1},
		{"under four after the removal", removed.Height + 2, last + 1},
	}
	for _, sp := range spans {
		n := 0
		for _, h := range registered {
			if h >= sp.from && h <= sp.to {
				n++
			}
		}
		if n == 0 {
			t.Errorf("no registration committed %s (heights %d to %d; registrations at %v)", sp.what, sp.from, sp.to, registered)
		}
	}
	t.Logf("%d registrations committed from height %d to %d", len(registered), registered[0], registered[len(registered)-1])
}

func gtype(g op.Gov) string {
	if g.Proposal != nil {
		return op.TypePropose
	}
	return op.TypeVote
}

func mustSign(t *testing.T, s cose.Signer, id did.DID, g op.Gov) []byte {
	t.Helper()
	tx, err := op.Sign(s, id.WithFragment(node.AdminKeyID), op.Payload{Type: gtype(g), Network: id.Network, Gov: &g})
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func waitFor(ctx context.Context, t *testing.T, what string, ok func() bool) {
	t.Helper()
	for !ok() {
		if ctx.Err() != nil {
			t.Fatalf("waited in vain for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func validators(ctx context.Context, c *sdk.Client) []sdk.ValidatorView {
	st, err := c.Status(ctx)
	if err != nil {
		return nil
	}
	return st.Validators
}

func hasValidator(ctx context.Context, c *sdk.Client, pub []byte, power int64) bool {
	for _, v := range validators(ctx, c) {
		if bytes.Equal(v.PubKey, pub) && v.Power == power {
			return true
		}
	}
	return false
}

// validatorOf is the consensus key of the node in home.
func validatorOf(t *testing.T, home string) []byte {
	t.Helper()
	id, err := cometledger.InitKeys(home)
	if err != nil {
		t.Fatal(err)
	}
	return id.ValidatorPubKey.Bytes()
}

func validatorsHeight(ctx context.Context, t *testing.T, c *sdk.Client) int64 {
	t.Helper()
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st.Height
}

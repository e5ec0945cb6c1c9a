package node_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
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

// TestTestnetLightClient runs four validators and a full node in process.
// The operators admit E (the full node's consensus key) and remove D;
// then a ProvenView whose light client starts from the original genesis
// verifies a record registered after both changes, and keeps its newest
// header in a file, from which a new light client goes on without the
// genesis. A header forged after the removal and signed by D's real
// consensus key alone is refused, from the genesis and from the stored
// header.
func TestTestnetLightClient(t *testing.T) {
	t.Parallel()
	const network = "lightnet"
	nodes, clients := startNet(t, network, 4, 1)
	c := clients[0]
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	waitFor(ctx, t, "the network to start", func() bool {
		provs, err := c.Providers(ctx)
		return err == nil && len(provs) == 4
	})
	signers := make([]cose.Signer, 4)
	ids := make([]did.DID, 4)
	for i, n := range nodes[:4] {
		var err error
		if signers[i], err = keyfile.Load(n.AdminKey); err != nil {
			t.Fatal(err)
		}
		ids[i] = did.MustParse(n.ProviderDID)
	}
	// Every operation goes through node 0, which has committed the
	// proposal by the time a vote for it is signed.
	gov := func(s cose.Signer, id did.DID, g op.Gov) *sdk.SubmitResult {
		t.Helper()
		g.Provider = id.String()
		res, err := c.Submit(ctx, mustSign(t, s, id, g))
		if err != nil {
			t.Fatalf("%s by %s: %v", gtype(g), id, err)
		}
		return res
	}

	eVal := validatorOf(t, nodes[4].Config.Home)
	eAdmin := nodetest.NewKey(t, cose.AlgEdDSA)
	admit := gov(signers[0], ids[0], op.Gov{Proposal: &op.Proposal{Kind: op.ProposalAdmit, Admit: &op.Admit{
		Name: "operator-e", Keys: []op.Key{op.KeyFrom(node.AdminKeyID, eAdmin.Public())}, Validator: &op.Validator{PubKey: eVal, Power: 9}}}})
	gov(signers[1], ids[1], op.Gov{Vote: admit.Proposal})
	admitted := gov(signers[2], ids[2], op.Gov{Vote: admit.Proposal})
	if admitted.ProposalStatus != "executed" {
		t.Fatalf("3 of 4: %+v", admitted)
	}
	eID := did.MustParse(admitted.DID)
	waitFor(ctx, t, "E's validator in the set", func() bool { return hasValidator(ctx, c, eVal, 9) && len(validators(ctx, c)) == 5 })

	dVal := validatorOf(t, nodes[3].Config.Home)
	remove := gov(signers[0], ids[0], op.Gov{Proposal: &op.Proposal{Kind: op.ProposalRemove, Provider: ids[3].String()}})
	gov(signers[1], ids[1], op.Gov{Vote: remove.Proposal})
	gov(signers[2], ids[2], op.Gov{Vote: remove.Proposal})
	removed := gov(eAdmin, eID, op.Gov{Vote: remove.Proposal})
	if removed.ProposalStatus != "executed" {
		t.Fatalf("4 of 5: %+v", removed)
	}
	waitFor(ctx, t, "D's validator out of the set", func() bool { return !hasValidator(ctx, c, dVal, 10) && len(validators(ctx, c)) == 4 })

	// A record made after both changes, read from the original genesis.
	register := func() (did.DID, *sdk.SubmitResult) {
		t.Helper()
		s := nodetest.NewKey(t, cose.AlgEdDSA)
		tx, dev, err := op.SignRegister(s, "k1", op.Payload{Network: network, Register: &op.Register{
			Kind: op.KindDevice, Provider: ids[0].String(), Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}}}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Submit(ctx, tx)
		if err != nil {
			t.Fatal(err)
		}
		return dev, res
	}
	dev, reg := register()
	gb, err := os.ReadFile(cometledger.GenesisFile(nodes[0].Config.Home))
	if err != nil {
		t.Fatal(err)
	}
	genesis, err := lightclient.ParseGenesis(gb)
	if err != nil {
		t.Fatal(err)
	}
	// The genesis set alone verifies nothing the changed set signed.
	if _, err := (sdk.ProvenView{C: c, Validators: genesis.Validators}).Entity(ctx, dev); !errors.Is(err, sdk.ErrProof) {
		t.Fatalf("the genesis set verified a header of the changed set: %v", err)
	}
	store := &sdk.TrustFile{Path: filepath.Join(t.TempDir(), "trusted.json")}
	e, err := (sdk.ProvenView{C: c, Light: lightclient.NewClient(genesis, c, store)}).Entity(ctx, dev)
	if err != nil || e == nil || e.DID != dev.String() {
		t.Fatalf("from the genesis, after an admission and a removal: %+v %v", e, err)
	}
	stored, err := store.Load(network)
	if err != nil || stored == nil || stored.Height <= reg.Height || len(stored.Validators) != 4 {
		t.Fatalf("the stored header: %+v %v", stored, err)
	}
	for _, v := range stored.Validators {
		if bytes.Equal(v.PubKey, dVal) {
			t.Fatal("the stored set holds the removed validator")
		}
	}

	// A node that forges the newest header with a set of D alone, signed
	// by D's consensus key (a block made after the stored header: the
	// network makes no empty blocks).
	register()
	var st *sdk.StatusView
	waitFor(ctx, t, "a block after the stored header", func() bool {
		st, err = c.Status(ctx)
		return err == nil && st.Height > stored.Height
	})
	forger := &forgedHeaders{Source: c, height: st.Height, sh: forgeBy(ctx, t, c, st.Height, nodes[3].Config.Home)}
	if _, err := lightclient.NewClient(genesis, forger, nil).VerifyHeight(ctx, st.Height, time.Now()); !errors.Is(err, lightclient.ErrUnverified) {
		t.Fatalf("from the genesis, a header signed by the removed validator alone: %v", err)
	}
	if !forger.served {
		t.Fatal("the forged header was never read")
	}
	// From the stored header (after the removal), by a light client whose
	// genesis is no root of trust any more.
	forger.served = false
	if _, err := lightclient.NewClient(genesis, forger, store).VerifyHeight(ctx, st.Height, time.Now()); !errors.Is(err, lightclient.ErrUnverified) || !forger.served {
		t.Fatalf("from the stored header, a header signed by the removed validator alone: %v", err)
	}
	// The real header of that height verifies from the stored one.
	if tr, err := lightclient.NewClient(genesis, c, store).VerifyHeight(ctx, st.Height, time.Now()); err != nil || tr.Height != st.Height {
		t.Fatalf("the real header %d: %+v %v", st.Height, tr, err)
	}
}

// startNet starts a testnet of network in process on loopback, with
// validators and full nodes, and returns its nodes and a client of each.
func startNet(t *testing.T, network string, validators, full int) ([]node.TestnetNode, []*sdk.Client) {
	t.Helper()
	// The ports are picked free, then bound by the nodes: another process
	// may take one between the two. Such a start is tried again on
	// other ports.
	for attempt := 1; ; attempt++ {
		nodes, clients, err := tryStartNet(t, network, validators, full)
		if err == nil {
			return nodes, clients
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
		t.Logf("a port was taken meanwhile; again on others: %v", err)
	}
}

func tryStartNet(t *testing.T, network string, validators, full int) ([]node.TestnetNode, []*sdk.Client, error) {
	t.Helper()
	nodes, err := node.InitTestnet(node.TestnetConfig{
		Dir: t.TempDir(), Network: network, Validators: validators, FullNodes: full, Host: "127.0.0.1",
		HTTPBase: freePorts(t, validators+full), P2PBase: freePorts(t, validators+full), TimeoutCommit: 100 * time.Millisecond,
	})
	if err != nil {
		return nil, nil, err
	}
	var runs []*node.Node
	var clients []*sdk.Client
	for _, n := range nodes {
		run, err := node.Start(n.Config, nodetest.Logger(t))
		if err != nil {
			for _, r := range runs {
				_ = r.Close()
			}
			return nil, nil, err
		}
		runs = append(runs, run)
		clients = append(clients, sdk.NewClient(run.URL()))
	}
	for _, run := range runs {
		t.Cleanup(func() {
			if err := run.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	return nodes, clients, nil
}

// forgedHeaders answers sh for height and the source's headers for the
// others.
type forgedHeaders struct {
	lightclient.Source
	height int64
	sh     *lightclient.SignedHeader
	served bool
}

func (f *forgedHeaders) SignedHeader(ctx context.Context, h int64) (*lightclient.SignedHeader, error) {
	if h == f.height {
		f.served = true
		return f.sh, nil
	}
	return f.Source.SignedHeader(ctx, h)
}

// forgeBy makes header height again, with another app hash and a
// validator set of the validator in home alone, signed by its key.
func forgeBy(ctx context.Context, t *testing.T, c *sdk.Client, height int64, home string) *lightclient.SignedHeader {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(home, "config", "priv_validator_key.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pv struct {
		PrivKey struct {
			Value []byte `json:"value"`
		} `json:"priv_key"`
	}
	if err := json.Unmarshal(b, &pv); err != nil || len(pv.PrivKey.Value) != ed25519.PrivateKeySize {
		t.Fatalf("%s: %v", home, err)
	}
	priv := ed25519.PrivateKey(pv.PrivKey.Value)
	d := lightclient.Validator{PubKey: priv.Public().(ed25519.PublicKey), Power: 10}
	set, err := lightclient.NewValidatorSet([]lightclient.Validator{d})
	if err != nil {
		t.Fatal(err)
	}
	orig, err := c.SignedHeader(ctx, height)
	if err != nil {
		t.Fatal(err)
	}
	h := orig.Header
	h.ValidatorsHash, h.NextValidatorsHash, h.AppHash = set.Hash(), set.Hash(), bytes.Repeat([]byte{7}, 32)
	sh := &lightclient.SignedHeader{Header: h, Validators: set.Validators(), Commit: lightclient.Commit{
		Height: height, Round: orig.Commit.Round, BlockID: lightclient.BlockID{Hash: h.Hash(), PartsTotal: 1, PartsHash: orig.Commit.BlockID.PartsHash},
		Signatures: []lightclient.CommitSig{{Flag: lightclient.FlagCommit, ValidatorAddress: d.Address(), Timestamp: h.Time.Add(time.Millisecond)}},
	}}
	sh.Commit.Signatures[0].Signature = ed25519.Sign(priv, lightclient.VoteSignBytes(h.ChainID, &sh.Commit, 0))
	// The forgery is well made: D's own set believes it.
	if err := lightclient.Verify(h.ChainID, sh, set); err != nil {
		t.Fatal(err)
	}
	return sh
}

package node_test

import (
	"context"
	"encoding/hex"
	"os"
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

// TestTestnet generates a four-validator network (one provider each) and
// runs it in process on loopback: a device of operator A registered at
// A's node is validated by A, and every node serves the same record.
func TestTestnet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	nodes, err := node.InitTestnet(node.TestnetConfig{
		Dir: dir, Network: "testnet", Validators: 4, Host: "127.0.0.1",
		HTTPBase: freePorts(t, 4), P2PBase: freePorts(t, 4), TimeoutCommit: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 4 || nodes[0].ProviderDID == nodes[1].ProviderDID {
		t.Fatalf("testnet: %+v", nodes)
	}
	var clients []*sdk.Client
	for _, n := range nodes {
		run, err := node.Start(n.Config, nodetest.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := run.Close(); err != nil {
				t.Error(err)
			}
		})
		clients = append(clients, sdk.NewClient(run.URL()))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for _, c := range clients {
		for {
			st, err := c.Status(ctx)
			if err == nil && st.Height >= 1 {
				if len(st.Validators) != 4 {
					t.Fatalf("validators: %+v", st.Validators)
				}
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("network did not start: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// Every node serves the four genesis providers once it has committed
	// block 1 (its status can show the block a moment before).
	for i, c := range clients {
		for {
			provs, err := c.Providers(ctx)
			if err == nil && len(provs) == 4 {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("node %d providers: %+v %v", i, provs, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// Operator A's device registers at A's node and A validates it.
	admin, err := keyfile.Load(nodes[0].AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	provider := did.MustParse(nodes[0].ProviderDID)
	s := nodetest.NewKey(t, cose.AlgEdDSA)
	tx, id, err := op.SignRegister(s, "k1", op.Payload{Network: "testnet", Register: &op.Register{
		Kind: op.KindDevice, Provider: provider.String(), Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clients[0].Submit(ctx, tx); err != nil {
		t.Fatal(err)
	}
	// The validation goes in through operator D's node, once it has the
	// registration's block (nodes commit the same blocks, each in its time).
	for {
		if _, err := clients[3].Entity(ctx, id.String()); err == nil {
			break
		} else if ctx.Err() != nil {
			t.Fatalf("node 3 never saw %s: %v", id, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	vtx, err := op.Sign(admin, provider.WithFragment(node.AdminKeyID), op.Payload{Type: op.TypeValidate, Network: "testnet", Status: &op.Status{DID: id.String(), Version: 1}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := clients[3].Submit(ctx, vtx)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range clients {
		for {
			e, err := c.Entity(ctx, id.String())
			if err == nil && e.Height >= res.Height {
				if e.Status != op.StatusValidated {
					t.Fatalf("node %d: %+v", i, e)
				}
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("node %d never saw height %d: %v", i, res.Height, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// All nodes agree on the app hash of a common height.
	var want string
	for i, c := range clients {
		h, err := c.Header(ctx, res.Height)
		if err != nil {
			t.Fatalf("node %d header: %v", i, err)
		}
		if i == 0 {
			want = h.AppHash
		} else if h.AppHash != want {
			t.Fatalf("node %d app hash %s, node 0 %s", i, h.AppHash, want)
		}
	}
	// A light client that trusts the genesis file's four validators
	// believes each node's signed header of that height.
	gb, err := os.ReadFile(cometledger.GenesisFile(nodes[0].Config.Home))
	if err != nil {
		t.Fatal(err)
	}
	g, err := lightclient.ParseGenesis(gb)
	if err != nil || len(g.Validators.Validators()) != 4 {
		t.Fatalf("genesis: %+v %v", g, err)
	}
	for i, c := range clients {
		sh, err := c.SignedHeader(ctx, res.Height)
		if err != nil {
			t.Fatalf("node %d signed header: %v", i, err)
		}
		if err := lightclient.Verify("testnet", sh, g.Validators); err != nil || hex.EncodeToString(sh.Header.AppHash) != want {
			t.Fatalf("node %d signed header: %v", i, err)
		}
	}
}

func freePorts(t *testing.T, n int) int {
	t.Helper()
	base, err := node.FreePortBase("127.0.0.1", n)
	if err != nil {
		t.Fatal(err)
	}
	return base
}

package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/sdk"
)

// TestGenesisTooling assembles the genesis of two operators, each from its
// own home, with bias genesis and bias node id alone; the two nodes start
// on it, commit, and serve both providers under the DIDs add-provider
// printed.
func TestGenesisTooling(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var homes []string
	for _, op := range []string{"a", "b"} {
		if r := runCLI(t, "testnet", "init", "--validators", "1", "--dir", filepath.Join(dir, op)); r.code != 0 {
			t.Fatal(r)
		}
		homes = append(homes, filepath.Join(dir, op, "node0"))
	}
	jsonOf := func(args ...string) map[string]any {
		t.Helper()
		r := runCLI(t, append([]string{"--output", "json"}, args...)...)
		var m map[string]any
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &m) != nil {
			t.Fatalf("bias %s: %s", strings.Join(args, " "), r)
		}
		return m
	}
	idB := jsonOf("node", "id", "--home", homes[1])
	g := filepath.Join(dir, "genesis.json")
	jsonOf("genesis", "init", "--network", "consortium", "--out", g)
	jsonOf("genesis", "add-validator", g, "--home", homes[0], "--name", "operator-a")
	jsonOf("genesis", "add-validator", g, "--pubkey", idB["validatorPubKey"].(string), "--name", "operator-b")
	a := jsonOf("genesis", "add-provider", g, "--name", "operator-a", "--key", filepath.Join(homes[0], "provider", "admin.key"), "--validator-home", homes[0])["did"].(string)
	b := jsonOf("genesis", "add-provider", g, "--name", "operator-b", "--key", filepath.Join(homes[1], "provider", "admin.key"), "--validator", idB["validatorPubKey"].(string))["did"].(string)
	v := jsonOf("genesis", "validate", g)
	if len(v["providers"].([]any)) != 2 || len(v["validators"].([]any)) != 2 || v["network"] != "consortium" {
		t.Fatalf("validate: %v", v)
	}
	// What the README's hand-editing got wrong is refused with the fix.
	other := filepath.Join(dir, "other.key")
	runCLI(t, "key", "new", other)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"genesis", "add-provider", g, "--name", "operator-a", "--key", other}, `already has a provider "operator-a"`},
		{[]string{"genesis", "add-provider", g, "--name", "operator-c", "--key", other, "--validator", strings.Repeat("A", 43) + "="}, "not a genesis validator: bias genesis add-validator first"},
		{[]string{"genesis", "add-validator", g, "--home", homes[0], "--name", "again"}, "already lists this validator"},
		{[]string{"genesis", "add-validator", g, "--pubkey", "q83v7_-q83v7_-q83v7_-q83v7_-q83v7_-q83v7_-q8", "--name", "url"}, "standard base64"},
		{[]string{"genesis", "init", "--network", "consortium", "--out", g}, "exists"},
		{[]string{"genesis", "validate", filepath.Join(dir, "nosuch.json")}, "bias genesis init makes one"},
	} {
		r := runCLI(t, c.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("bias %s: %s\nwant exit 2 and %q", strings.Join(c.args, " "), r, c.want)
		}
	}
	empty := filepath.Join(dir, "empty.json")
	runCLI(t, "genesis", "init", "--network", "x", "--out", empty)
	if r := runCLI(t, "genesis", "validate", empty); r.code != exitUsage || !strings.Contains(r.stderr, "no validator") {
		t.Errorf("validate of a genesis without validators: %s", r)
	}

	// Both nodes start on it.
	var peers []string
	for _, h := range homes {
		peers = append(peers, jsonOf("node", "id", "--home", h)["peer"].(string))
	}
	b1, err := os.ReadFile(g)
	if err != nil {
		t.Fatal(err)
	}
	var clients []*sdk.Client
	for i, h := range homes {
		cfg, err := node.LoadConfig(h)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Network, cfg.PersistentPeers = "consortium", peers[1-i]
		if err := cfg.Save(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(h, "config", "genesis.json"), b1, 0o600); err != nil { //nolint:gosec // the test's own temp dir
			t.Fatal(err)
		}
		n, err := node.Start(cfg, nodetest.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := n.Close(); err != nil {
				t.Error(err)
			}
		})
		clients = append(clients, sdk.NewClient(n.URL()))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	for _, c := range clients {
		for {
			ps, err := c.Providers(ctx)
			if err == nil && len(ps) == 2 {
				dids := []string{ps[0].DID, ps[1].DID}
				if !slices.Contains(dids, a) || !slices.Contains(dids, b) {
					t.Fatalf("the nodes serve providers %v, add-provider printed %s and %s", dids, a, b)
				}
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("the network on the assembled genesis did not start: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

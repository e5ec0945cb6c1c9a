package node

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStateSyncConfigValidate: a named refusal for each bad field of the
// snapshot, RPC and state sync configuration.
func TestStateSyncConfigValidate(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	ok := StateSyncConfig{Enable: true, RPCServers: []string{"tcp://a:26657", "http://b:26657"}, TrustHeight: 3, TrustHash: hash}
	for _, tc := range []struct {
		name string
		edit func(c *Config)
		want string // "" valid
	}{
		{"ok/off", func(*Config) {}, ""},
		{"ok/joining", func(c *Config) { c.StateSync = ok }, ""},
		{"ok/trust-file", func(c *Config) {
			c.StateSync = ok
			c.StateSync.TrustHeight, c.StateSync.TrustHash, c.StateSync.TrustFile = 0, "", "t.json"
		}, ""},
		{"ok/serving", func(c *Config) { c.RPC = "tcp://127.0.0.1:26657"; c.Snapshots = SnapshotConfig{Interval: 10, Keep: 2} }, ""},
		{"fail/rpc-address", func(c *Config) { c.RPC = "127.0.0.1:26657" }, "rpc:"},
		{"fail/negative-interval", func(c *Config) { c.Snapshots.Interval = -1 }, "snapshots.interval"},
		{"fail/negative-keep", func(c *Config) { c.Snapshots.Keep = -1 }, "snapshots.keep"},
		{"fail/chunk-size", func(c *Config) { c.Snapshots.ChunkBytes = 100 }, "snapshots.chunkBytes"},
		{"fail/one-rpc-server", func(c *Config) { c.StateSync = ok; c.StateSync.RPCServers = ok.RPCServers[:1] }, "at least two"},
		{"fail/rpc-server", func(c *Config) { c.StateSync = ok; c.StateSync.RPCServers = []string{"a", "b"} }, "stateSync.rpcServers"},
		{"fail/no-trust", func(c *Config) { c.StateSync = ok; c.StateSync.TrustHeight, c.StateSync.TrustHash = 0, "" }, "a trusted header"},
		{"fail/trust-hash", func(c *Config) { c.StateSync = ok; c.StateSync.TrustHash = "abcd" }, "stateSync.trustHash"},
		{"fail/negative-trust-height", func(c *Config) { c.StateSync = ok; c.StateSync.TrustHeight = -1 }, "stateSync.trustHeight"},
		{"fail/discovery-time", func(c *Config) { c.StateSync = ok; c.StateSync.DiscoveryTime = Duration(time.Second) }, "stateSync.discoveryTime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Test(t.TempDir())
			tc.edit(&c)
			err := c.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestStateSyncTrustFile: the trusted header comes from the trust file's
// newest header of the network; a file without one is refused by name.
func TestStateSyncTrustFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trusted.json")
	hash := bytes.Repeat([]byte{7}, 32)
	b, err := json.Marshal(map[string]any{"net": map[string]any{"chainId": "net", "height": 42, "hash": hash}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	c := StateSyncConfig{Enable: true, RPCServers: []string{"tcp://a:1", "tcp://b:1"}, TrustFile: path}
	got, err := c.ledger("net")
	if err != nil || got.TrustHeight != 42 || !bytes.Equal(got.TrustHash, hash) {
		t.Fatalf("from the trust file: %+v %v", got, err)
	}
	if _, err := c.ledger("other"); err == nil || !strings.Contains(err.Error(), "holds no header of network") {
		t.Fatalf("fail/no-header: %v", err)
	}
	c.TrustFile = filepath.Join(t.TempDir(), "absent.json")
	if _, err := c.ledger("net"); err == nil || !strings.Contains(err.Error(), "holds no header of network") {
		t.Fatalf("fail/absent-file: %v", err)
	}
}

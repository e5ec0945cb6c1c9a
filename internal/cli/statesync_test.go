package cli

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"

	"github.com/bias-iot/bias/internal/node"
)

// TestStateSyncFlags: the flags of bias node set the snapshot, RPC and
// state sync fields of the configuration, and leave those they do not
// name as the file has them.
func TestStateSyncFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want node.Config
	}{
		{"none", nil, node.Config{Snapshots: node.SnapshotConfig{Keep: 5}, StateSync: node.StateSyncConfig{TrustFile: "from-file"}}},
		{"serving", []string{"--rpc", "tcp://127.0.0.1:26657", "--snapshot-interval", "100", "--snapshot-keep", "3"},
			node.Config{RPC: "tcp://127.0.0.1:26657", Snapshots: node.SnapshotConfig{Interval: 100, Keep: 3}, StateSync: node.StateSyncConfig{TrustFile: "from-file"}}},
		{"joining", []string{"--state-sync", "--state-sync-rpc", "tcp://a:26657,tcp://b:26657", "--trust-file", "t.json"},
			node.Config{Snapshots: node.SnapshotConfig{Keep: 5}, StateSync: node.StateSyncConfig{Enable: true, RPCServers: []string{"tcp://a:26657", "tcp://b:26657"}, TrustFile: "t.json"}}},
		{"trusted-header", []string{"--state-sync", "--trust-height", "7", "--trust-hash", "ab"},
			node.Config{Snapshots: node.SnapshotConfig{Keep: 5}, StateSync: node.StateSyncConfig{Enable: true, TrustHeight: 7, TrustHash: "ab", TrustFile: "from-file"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f stateSyncFlags
			cmd := &cobra.Command{Use: "node", RunE: func(*cobra.Command, []string) error { return nil }}
			f.flags(cmd)
			if err := cmd.ParseFlags(tc.args); err != nil {
				t.Fatal(err)
			}
			got := node.Config{Snapshots: node.SnapshotConfig{Keep: 5}, StateSync: node.StateSyncConfig{TrustFile: "from-file"}}
			f.apply(cmd, &got)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Fatal(d)
			}
		})
	}
}

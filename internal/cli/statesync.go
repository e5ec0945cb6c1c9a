package cli

import (
	"github.com/spf13/cobra"

	"github.com/bias-iot/bias/internal/node"
)

// stateSyncFlags are bias node's flags of snapshots and state sync; each
// set one overrides config/bias.json.
type stateSyncFlags struct {
	rpc                  string
	interval             int64
	keep                 int
	enable               bool
	servers              []string
	trustHeight          int64
	trustHash, trustFile string
}

func (f *stateSyncFlags) flags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.rpc, "rpc", "", "also serve CometBFT's RPC on this address (tcp://host:port), for nodes that join by state sync; keep it private")
	fl.Int64Var(&f.interval, "snapshot-interval", 0, "take a snapshot of the state every N heights, for nodes that join by state sync (0: none)")
	fl.IntVar(&f.keep, "snapshot-keep", node.DefaultSnapshotKeep, "keep the latest N snapshots")
	fl.BoolVar(&f.enable, "state-sync", false, "join by state sync: restore a peer's snapshot instead of replaying every block (an empty state only)")
	fl.StringSliceVar(&f.servers, "state-sync-rpc", nil, "the CometBFT RPC addresses of two or more nodes of the network (their --rpc), for --state-sync")
	fl.Int64Var(&f.trustHeight, "trust-height", 0, "the height of a header trusted for --state-sync (with --trust-hash)")
	fl.StringVar(&f.trustHash, "trust-hash", "", "the hash (hex) of the header at --trust-height")
	fl.StringVar(&f.trustFile, "trust-file", "", "a trust file of bias show --verify --trust-file: its newest header is trusted for --state-sync")
}

// apply sets in cfg what the flags set.
func (f *stateSyncFlags) apply(cmd *cobra.Command, cfg *node.Config) {
	ch := cmd.Flags().Changed
	if ch("rpc") {
		cfg.RPC = f.rpc
	}
	if ch("snapshot-interval") {
		cfg.Snapshots.Interval = f.interval
	}
	if ch("snapshot-keep") {
		cfg.Snapshots.Keep = f.keep
	}
	if ch("state-sync") {
		cfg.StateSync.Enable = f.enable
	}
	if ch("state-sync-rpc") {
		cfg.StateSync.RPCServers = f.servers
	}
	if ch("trust-height") {
		cfg.StateSync.TrustHeight = f.trustHeight
	}
	if ch("trust-hash") {
		cfg.StateSync.TrustHash = f.trustHash
	}
	if ch("trust-file") {
		cfg.StateSync.TrustFile = f.trustFile
	}
}

package node

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"github.com/bias-iot/bias/internal/ledger/cometledger"
	"github.com/bias-iot/bias/internal/registry"
	"github.com/bias-iot/bias/internal/state"
	"github.com/bias-iot/bias/sdk"
)

// SnapshotConfig sets the state snapshots a node takes and serves to
// nodes that join by state sync (docs/operations.md, Joining by state
// sync). They are the node's own choice, no part of consensus.
type SnapshotConfig struct {
	// Interval is the number of heights between snapshots (0, the
	// default: none are taken; the node still restores from others').
	Interval int64 `json:"interval,omitempty"`
	// Keep is how many of the latest snapshots stay in data/snapshots
	// (default 2).
	Keep int `json:"keep,omitempty"`
	// ChunkBytes is the size of a snapshot's chunks (default 4 MiB,
	// between 1 KiB and 12 MiB): keep the default, alike on every node,
	// so that a joiner fetches one snapshot's chunks from all of them.
	ChunkBytes int `json:"chunkBytes,omitempty"`
}

// DefaultSnapshotKeep is the snapshots kept unless told otherwise.
const DefaultSnapshotKeep = registry.DefaultSnapshotKeep

// validRPC checks Config.RPC.
func validRPC(addr string) error {
	if addr == "" {
		return nil
	}
	if u, err := url.Parse(addr); err != nil || u.Scheme != "tcp" || u.Port() == "" {
		return fmt.Errorf("rpc: %q is no tcp://host:port", addr)
	}
	return nil
}

func (c SnapshotConfig) validate() error {
	var errs []error
	if c.Interval < 0 {
		errs = append(errs, errors.New("snapshots.interval is negative"))
	}
	if c.Keep < 0 {
		errs = append(errs, errors.New("snapshots.keep is negative"))
	}
	if c.ChunkBytes != 0 && (c.ChunkBytes < state.MinChunkBytes || c.ChunkBytes > state.MaxChunkBytes) {
		errs = append(errs, fmt.Errorf("snapshots.chunkBytes: 0 (the default) or %d to %d", state.MinChunkBytes, state.MaxChunkBytes))
	}
	return errors.Join(errs...)
}

// StateSyncConfig makes a node with an empty state join from a snapshot
// of its peers' instead of replaying every block from genesis. The
// restored state is checked against the app hash of a header that the
// node's light client verifies from a header it trusts: TrustHeight and
// TrustHash, or the newest header in TrustFile.
type StateSyncConfig struct {
	Enable bool `json:"enable,omitempty"`
	// RPCServers are the CometBFT RPC addresses (their `rpc`) of at
	// least two nodes of the network, e.g. tcp://a.example:26657.
	RPCServers []string `json:"rpcServers,omitempty"`
	// TrustHeight and TrustHash (hex) name a header the operator trusts.
	TrustHeight int64  `json:"trustHeight,omitempty"`
	TrustHash   string `json:"trustHash,omitempty"`
	// TrustFile is an sdk.TrustFile (what `bias show --verify
	// --trust-file` keeps): its newest header of the network is the
	// trusted one, unless TrustHeight is set.
	TrustFile string `json:"trustFile,omitempty"`
	// TrustPeriod is how long a trusted header stays usable (default
	// 168h, the light client's).
	TrustPeriod Duration `json:"trustPeriod,omitempty"`
	// DiscoveryTime is how long the node gathers snapshots before it
	// picks one (default 15s; at least 5s).
	DiscoveryTime Duration `json:"discoveryTime,omitempty"`
}

func (c StateSyncConfig) validate() error {
	if !c.Enable {
		return nil
	}
	var errs []error
	if len(c.RPCServers) < 2 {
		errs = append(errs, errors.New("stateSync.rpcServers: at least two (a light client's primary and witness)"))
	}
	for _, s := range c.RPCServers {
		if u, err := url.Parse(s); err != nil || u.Host == "" {
			errs = append(errs, fmt.Errorf("stateSync.rpcServers: %q is no tcp://host:port or http(s) URL", s))
		}
	}
	switch {
	case c.TrustHeight == 0 && c.TrustFile == "":
		errs = append(errs, errors.New("stateSync: a trusted header: trustHeight and trustHash, or trustFile"))
	case c.TrustHeight < 0:
		errs = append(errs, errors.New("stateSync.trustHeight is negative"))
	case c.TrustHeight > 0:
		if b, err := hex.DecodeString(c.TrustHash); err != nil || len(b) != 32 {
			errs = append(errs, errors.New("stateSync.trustHash: the header's hash, 64 hex digits"))
		}
	}
	if c.TrustPeriod < 0 {
		errs = append(errs, errors.New("stateSync.trustPeriod is negative"))
	}
	if c.DiscoveryTime != 0 && time.Duration(c.DiscoveryTime) < 5*time.Second {
		errs = append(errs, errors.New("stateSync.discoveryTime: 0 (the default) or at least 5s"))
	}
	return errors.Join(errs...)
}

// ledger is the engine's state sync configuration, with the trusted
// header read from TrustFile when no height is given.
func (c StateSyncConfig) ledger(network string) (cometledger.StateSync, error) {
	out := cometledger.StateSync{Enable: c.Enable, RPCServers: c.RPCServers, TrustHeight: c.TrustHeight,
		TrustPeriod: time.Duration(c.TrustPeriod), DiscoveryTime: time.Duration(c.DiscoveryTime)}
	if !c.Enable {
		return out, nil
	}
	if c.TrustHeight > 0 {
		var err error
		out.TrustHash, err = hex.DecodeString(c.TrustHash)
		return out, err
	}
	t, err := (&sdk.TrustFile{Path: filepath.Clean(c.TrustFile)}).Load(network)
	if err != nil {
		return out, fmt.Errorf("stateSync.trustFile: %w", err)
	}
	if t == nil {
		return out, fmt.Errorf("stateSync.trustFile: %s holds no header of network %q (bias show --verify GENESIS --trust-file %s writes one)", c.TrustFile, network, c.TrustFile)
	}
	out.TrustHeight, out.TrustHash = t.Height, t.Hash
	return out, nil
}

// restored counts the entities of a state restored from a snapshot, in
// the background (the count made at start was of the empty state).
func (n *Node) restored() {
	if n.metrics == nil {
		return
	}
	n.entities.recount(n.st)
}

// enableSnapshots sets up the node's snapshots and the engine's state
// sync.
func (n *Node) enableSnapshots(lc *cometledger.Config) error {
	c := n.cfg
	if err := n.app.EnableSnapshots(registry.SnapshotConfig{Dir: filepath.Join(c.Home, "data", "snapshots"),
		Interval: c.Snapshots.Interval, Keep: c.Snapshots.Keep, ChunkBytes: c.Snapshots.ChunkBytes,
		Restored: func(int64) { n.restored() }}); err != nil {
		return err
	}
	ss, err := c.StateSync.ledger(c.Network)
	if err != nil {
		return err
	}
	lc.Snapshots, lc.RPCListen, lc.StateSync = n.app, c.RPC, ss
	return nil
}

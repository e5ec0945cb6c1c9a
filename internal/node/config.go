package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/bias-iot/bias/did"
)

// Config is a node's configuration, stored as config/bias.json in its
// home. Zero values are replaced by Default's.
type Config struct {
	// Home is the node's directory (not stored).
	Home string `json:"-"`
	// Network is the chain id and the network segment of every DID.
	Network string `json:"network"`
	// HTTP is the API listen address.
	HTTP string `json:"http"`
	// P2P is the consensus p2p listen address.
	P2P string `json:"p2p"`
	// PersistentPeers lists id@host:port of the peers to keep connected.
	PersistentPeers string `json:"persistentPeers,omitempty"`
	// ExternalAddress is the host:port peers should dial.
	ExternalAddress string `json:"externalAddress,omitempty"`
	// Moniker names the node to its peers.
	Moniker string `json:"moniker"`
	// TimeoutCommit is the pause after each block (default 200ms): the
	// operations that come meanwhile share the next block, so that one
	// coming alone does not make a block of its own and an empty proof
	// block after it (BenchmarkBatching); 0 commits as soon as the votes
	// are in (about 10 ms on one node); a multi-host network wants about
	// 1s.
	TimeoutCommit Duration `json:"timeoutCommit"`
	// CreateEmptyBlocks makes blocks while idle.
	CreateEmptyBlocks bool `json:"createEmptyBlocks"`
	// AllowDuplicateIP lets peers share an IP (several nodes on one host).
	AllowDuplicateIP bool `json:"allowDuplicateIP"`
	// OAuth configures the authorization server (docs/oauth.md).
	OAuth OAuthConfig `json:"oauth,omitzero"`
	// X509 configures the node's X.509 CA (x509.go).
	X509 X509Config `json:"x509,omitzero"`
	// Storage bounds the history the node keeps (default: all of it).
	Storage StorageConfig `json:"storage,omitzero"`
	// Metrics is a listen address for /metrics on a listener of its own
	// (docs/metrics.md); "" serves it on the API listener only.
	Metrics string `json:"metrics,omitempty"`
	// NoMetrics turns the metrics off: no /metrics, no CometBFT
	// instrumentation.
	NoMetrics bool `json:"noMetrics,omitempty"`
	// RPC is a listen address (tcp://host:port) for CometBFT's RPC, which
	// nodes that join by state sync read light blocks from; "" (the
	// default): none. Keep it private: it also takes transactions.
	RPC string `json:"rpc,omitempty"`
	// Snapshots and StateSync: the snapshots this node serves, and its
	// joining by state sync (statesync.go).
	Snapshots SnapshotConfig  `json:"snapshots,omitzero"`
	StateSync StateSyncConfig `json:"stateSync,omitzero"`
	// CacheMB is the memory budget in MiB (0: the default, 512; else at
	// least 64),
	// split between the caches that grow with the state or the load
	// (SplitCache; docs/operations.md, Memory).
	CacheMB int `json:"cacheMB,omitempty"`
	// Ledger is the engine: LedgerCometBFT ("cometbft", the default: an
	// embedded CometBFT) or LedgerEVM ("evm": an EVM chain that orders
	// the operations, docs/evm.md). A home keeps the engine it was
	// initialised for and refuses to start on the other.
	Ledger string `json:"ledger,omitempty"`
	// EVM configures the EVM engine (evm.go); only with Ledger "evm".
	EVM EVMConfig `json:"evm,omitzero"`
}

// Default is the single-node configuration.
func Default() Config {
	return Config{Network: "local", HTTP: "127.0.0.1:8080", P2P: "tcp://127.0.0.1:26656", Moniker: "node0",
		TimeoutCommit: Duration(200 * time.Millisecond), CacheMB: DefaultCacheMB}
}

// Test is a configuration for tests: ephemeral ports, and each block as
// soon as its votes are in (timeoutCommit 0: a test waits for every
// commit in turn).
func Test(home string) Config {
	c := Default()
	c.Home, c.HTTP, c.P2P, c.TimeoutCommit = home, "127.0.0.1:0", "tcp://127.0.0.1:0", 0
	return c
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Home == "" {
		errs = append(errs, errors.New("home is empty"))
	}
	if err := did.ValidateNetwork(c.Network); err != nil {
		errs = append(errs, fmt.Errorf("network: %w", err))
	}
	if _, _, err := net.SplitHostPort(c.HTTP); err != nil {
		errs = append(errs, fmt.Errorf("http: %w", err))
	}
	if c.Metrics != "" {
		if _, _, err := net.SplitHostPort(c.Metrics); err != nil {
			errs = append(errs, fmt.Errorf("metrics: %w", err))
		}
		if c.NoMetrics {
			errs = append(errs, errors.New("metrics: a listen address is set, but metrics are off"))
		}
	}
	if c.TimeoutCommit < 0 {
		errs = append(errs, errors.New("timeoutCommit is negative"))
	}
	if err := validCacheMB(c.CacheMB); err != nil {
		errs = append(errs, err)
	}
	if err := c.OAuth.Validate(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.X509.validate(), c.Storage.validate(), c.Snapshots.validate(), c.StateSync.validate(), validRPC(c.RPC),
		c.validateLedger())
	return errors.Join(errs...)
}

func configPath(home string) string { return filepath.Join(home, "config", "bias.json") }

// LoadConfig reads home's configuration.
func LoadConfig(home string) (Config, error) {
	b, err := os.ReadFile(configPath(home))
	if err != nil {
		return Config{}, err
	}
	c := Default()
	if err := json.Unmarshal(b, &c); err != nil {
		return Config{}, fmt.Errorf("%s: %w", configPath(home), err)
	}
	c.Home = home
	return c, c.Validate()
}

// Save writes the configuration into its home.
func (c Config) Save() error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(configPath(c.Home)), 0o700); err != nil {
		return err
	}
	return os.WriteFile(configPath(c.Home), append(b, '\n'), 0o600)
}

// Duration is a time.Duration written as a string ("1s").
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// StorageConfig bounds what a node keeps (docs/operations.md, Disk).
type StorageConfig struct {
	// RetainBlocks is how many of the latest blocks the node keeps (0:
	// all; else at least MinRetain). Older blocks, their results and
	// CometBFT's state at them are pruned: event streams from a pruned
	// height are refused, and a node that joins must find a peer that
	// still holds the blocks it lacks.
	RetainBlocks int64 `json:"retainBlocks,omitempty"`
	// KeepVersions is how many of the latest state versions the node
	// keeps (0: all; else at least MinRetain): reads and proofs at an
	// older height are refused as pruned. Versioned resolution reads an
	// entity's own history at the latest version and needs none.
	KeepVersions int64 `json:"keepVersions,omitempty"`
}

// MinRetain is the least RetainBlocks and KeepVersions: a proof of the
// state after block H verifies against the header of block H+1, and a
// read that began at the previous version ends on a kept one.
const MinRetain = 2

func (c StorageConfig) validate() error {
	var errs []error
	if c.RetainBlocks != 0 && c.RetainBlocks < MinRetain {
		errs = append(errs, fmt.Errorf("storage.retainBlocks: 0 (all) or at least %d", MinRetain))
	}
	if c.KeepVersions != 0 && c.KeepVersions < MinRetain {
		errs = append(errs, fmt.Errorf("storage.keepVersions: 0 (all) or at least %d", MinRetain))
	}
	return errors.Join(errs...)
}

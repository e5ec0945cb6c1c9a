package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/internal/version"
)

// defaultHome is ~/.bias: HOME of the command's environment (as the
// client config's path reads it), else the user's home directory.
func (a *app) defaultHome() string {
	if h := a.env.Getenv("HOME"); h != "" {
		return filepath.Join(h, ".bias")
	}
	if d, err := os.UserHomeDir(); err == nil {
		return filepath.Join(d, ".bias")
	}
	return ".bias"
}

func (a *app) nodeCmd() *cobra.Command {
	var home, httpAddr, p2pAddr, logLevel, logFormat, metricsAddr string
	var sync stateSyncFlags
	var cacheMB int
	var evm evmFlags
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run a node (initialising a single-validator network on first run)",
		Long: `Run a bias node. On the first run the home directory is initialised with a
single-validator network, its genesis and a default provider whose admin key
is stored in HOME/provider/admin.key; later runs reuse the home and its state.

A node listens on two ports: the API (--http, default 127.0.0.1:8080) and
consensus p2p (--p2p, default tcp://127.0.0.1:26656). The ledger runs in
process: there is no CometBFT RPC port unless --rpc opens one (for nodes
that join by state sync to read light blocks from; keep it private).

A node with an empty state joins by state sync with --state-sync: it
restores a snapshot that its peers took (--snapshot-interval), checked
against a header its light client verifies from the one it trusts
(--trust-file, kept by bias show --verify --trust-file; or --trust-height
and --trust-hash), read from the CometBFT RPC of two nodes
(--state-sync-rpc), instead of replaying every block from genesis
(docs/operations.md, Joining by state sync). Each flag may come from its
environment variable (BIAS_HOME, BIAS_HTTP, BIAS_P2P, BIAS_LOG_LEVEL); a
flag wins over its variable, which wins over HOME/config/bias.json, which
wins over the default. The node holds HOME/node.lock (its pid) while it
runs: a second node on the same home is refused with that pid.

--cache-mb (config cacheMB, default 512) is the memory budget in MiB, split
between the state's caches, the checked-operation cache, the compiled
contracts and the mempool; the process also sets the Go runtime's soft
memory limit to the budget plus a quarter plus 256 MiB unless GOMEMLIMIT
is set (docs/operations.md, Memory).

--ledger evm (config ledger; a home keeps the engine it was initialised
for) runs the same registry on an EVM chain that orders the operations
(docs/evm.md). --evm-rpc URL follows a JSON-RPC endpoint; the first start
deploys the anchor contract, paying with HOME/evm.key (fund its account),
saves its address in HOME/config/bias.json and prints it: the other nodes
of the network take it with --evm-contract, and a copy of
HOME/config/genesis.json. A block is applied once under the chain's
finalized tag, or --evm-confirmations blocks deep. Without --evm-rpc the
chain is simulated in process and lives as long as the process: a home
whose state came from one is refused at the next start (remove
HOME/data to begin again). Peers, state sync, snapshots and --rpc are
CometBFT's and refused on the EVM engine.`,
		Example: example("bias node", "bias node --home /tmp/bias2 --http 127.0.0.1:9090 --p2p tcp://127.0.0.1:26666",
			"bias node --home ./e --state-sync --state-sync-rpc tcp://a.example:26657,tcp://b.example:26657 --trust-file trusted.json",
			"bias node --home ./evm --ledger evm --evm-rpc http://127.0.0.1:8545 --evm-confirmations 2"),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := nodeLogger(a.env.Stderr, logLevel, logFormat)
			if err != nil {
				return err
			}
			cfg, err := node.LoadConfig(home)
			first := os.IsNotExist(err)
			if err != nil && !first {
				return err
			}
			if first {
				cfg = node.Default()
				cfg.Home = home
			}
			if cmd.Flags().Changed("http") {
				cfg.HTTP = httpAddr
			}
			if cmd.Flags().Changed("p2p") {
				cfg.P2P = p2pAddr
			}
			if cmd.Flags().Changed("metrics") {
				cfg.Metrics = metricsAddr
			}
			sync.apply(cmd, &cfg)
			evm.apply(cmd, &cfg)
			if cmd.Flags().Changed("cache-mb") {
				cfg.CacheMB = cacheMB
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			if err := os.MkdirAll(home, 0o700); err != nil {
				return err
			}
			lock, err := lockHome(home)
			if err != nil {
				return err
			}
			var info *node.InitInfo
			if first {
				if info, err = node.Init(cfg); err != nil {
					return errors.Join(err, lock.release())
				}
			}
			return errors.Join(runNode(cmd.Context(), cfg, log, a, info), lock.release())
		},
	}
	cmd.AddCommand(a.nodeIDCmd())
	cmd.Flags().StringVar(&home, "home", a.defaultHome(), "node home directory")
	cmd.Flags().StringVar(&httpAddr, "http", "127.0.0.1:8080", "API listen address")
	cmd.Flags().StringVar(&p2pAddr, "p2p", "tcp://127.0.0.1:26656", "consensus p2p listen address")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "log format: text (logfmt) or json (one object a line)")
	cmd.Flags().StringVar(&metricsAddr, "metrics", "", "also serve /metrics on this address (host:port), apart from the API")
	sync.flags(cmd)
	evm.flags(cmd)
	cmd.Flags().IntVar(&cacheMB, "cache-mb", node.DefaultCacheMB, "memory budget in MiB, split between the node's caches and its mempool")
	return cmd
}

// nodeLogger is the node's logger: level and format as the flags say.
func nodeLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is neither text nor json", format)
}

// runNode runs the node until ctx ends; info, from a first run's
// initialisation, makes it print the bootstrap summary.
func runNode(ctx context.Context, cfg node.Config, log *slog.Logger, a *app, info *node.InitInfo) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(node.MemoryLimitBytes(cfg.CacheMB))
	}
	n, err := node.Start(cfg, log)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if err := n.WaitHeight(wctx, 1); err != nil {
		log.Warn("no block yet; waiting for peers", "err", err)
	}
	cancel()
	log.Info("node running", "network", cfg.Network, "api", n.URL(), "height", n.Height(), "home", cfg.Home, "version", version.Get().String())
	view := nodeView(cfg, info, n.URL())
	if c := n.EVMContract(); c != "" {
		view["evmContract"] = c
	}
	if err := a.emit(view, func() {
		if info != nil {
			a.bootstrapSummary(cfg, info, n.URL())
		}
		if c := n.EVMContract(); c != "" {
			a.out("anchor contract %s (the other nodes of the network: --evm-contract %s)\n", c, c)
		}
		a.out("node %s serving %s (network %s)\n", cfg.Moniker, n.URL(), cfg.Network)
	}); err != nil {
		return errors.Join(err, n.Close())
	}
	select {
	case <-ctx.Done():
	case err := <-n.Served():
		log.Error("api server stopped", "err", err)
	}
	log.Info("stopping")
	return n.Close()
}

// nodeView is what `bias node --output json` prints once the node
// serves; the provider fields only on the first run (and evmContract, the
// anchor contract, on the EVM engine).
func nodeView(cfg node.Config, info *node.InitInfo, url string) map[string]any {
	ledger := cfg.Ledger
	if ledger == "" {
		ledger = node.LedgerCometBFT
	}
	v := map[string]any{"moniker": cfg.Moniker, "network": cfg.Network, "api": url, "p2p": cfg.P2P, "home": cfg.Home, "initialised": info != nil,
		"ledger": ledger}
	if info != nil {
		v["providerDID"], v["adminKey"] = info.ProviderDID, info.AdminKey
	}
	return v
}

// bootstrapSummary is what a first run tells its operator: where
// everything is, and what to type next.
func (a *app) bootstrapSummary(cfg node.Config, info *node.InitInfo, url string) {
	a.out(`initialised %[1]s
  network:            %[2]s
  config:             %[3]s
  genesis:            %[4]s
  provider DID:       %[5]s (in %[6]s)
  provider admin key: %[7]s (keep it: it validates and revokes)
  API:                %[8]s
  p2p:                %[9]s
next, in another shell:
  bias --node %[8]s status
  bias key new cam.key && bias --node %[8]s register --key cam.key --provider %[5]s
`, cfg.Home, cfg.Network, filepath.Join(cfg.Home, "config", "bias.json"), filepath.Join(cfg.Home, "config", "genesis.json"),
		info.ProviderDID, filepath.Join(cfg.Home, "provider", "did"), info.AdminKey, url, cfg.P2P)
}

// evmFlags are bias node's flags of the EVM engine.
type evmFlags struct {
	ledger, rpc, contract  string
	confirmations, chainID uint64
}

func (f *evmFlags) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.ledger, "ledger", node.LedgerCometBFT, "ledger engine: cometbft (embedded) or evm (an EVM chain orders the operations)")
	cmd.Flags().StringVar(&f.rpc, "evm-rpc", "", "EVM JSON-RPC endpoint (http, https, ws, wss); none: an in-process simulated chain that ends with the process")
	cmd.Flags().StringVar(&f.contract, "evm-contract", "", "the network's anchor contract (0x...); none: the first start deploys one and saves it")
	cmd.Flags().Uint64Var(&f.confirmations, "evm-confirmations", 0, "apply an EVM block once this many blocks are on top; 0: once the chain's finalized tag covers it")
	cmd.Flags().Uint64Var(&f.chainID, "evm-chain-id", 0, "the EVM chain id the endpoint must have; 0: any")
}

// apply sets what the command line (or a BIAS_ variable) gave over cfg.
func (f *evmFlags) apply(cmd *cobra.Command, cfg *node.Config) {
	if cmd.Flags().Changed("ledger") {
		cfg.Ledger = f.ledger
	}
	if cmd.Flags().Changed("evm-rpc") {
		cfg.EVM.RPC = f.rpc
	}
	if cmd.Flags().Changed("evm-contract") {
		cfg.EVM.Contract = f.contract
	}
	if cmd.Flags().Changed("evm-confirmations") {
		cfg.EVM.Confirmations = f.confirmations
	}
	if cmd.Flags().Changed("evm-chain-id") {
		cfg.EVM.ChainID = f.chainID
	}
}

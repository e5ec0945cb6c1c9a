// Package node assembles a bias node: the Merkle state, the registry
// application, the ledger engine (an embedded CometBFT, or an EVM chain
// that orders the operations: Config.Ledger) and the HTTP API.
//
//	info, _ := node.Init(cfg)          // first run: keys, genesis, provider
//	n, _ := node.Start(cfg, logger)    // later runs reuse the home
//	defer n.Close()
package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/access"
	"github.com/bias-iot/bias/internal/api"
	"github.com/bias-iot/bias/internal/ca"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/cometledger"
	"github.com/bias-iot/bias/internal/ledger/evmledger"
	"github.com/bias-iot/bias/internal/metrics"
	"github.com/bias-iot/bias/internal/oauth"
	"github.com/bias-iot/bias/internal/registry"
	"github.com/bias-iot/bias/internal/resolver"
	"github.com/bias-iot/bias/internal/state"
	"github.com/bias-iot/bias/keyfile"
	"github.com/bias-iot/bias/op"
)

// DefaultProviderName is the provider that a single-node home starts with.
const DefaultProviderName = "default"

// AdminKeyID is the fragment of a genesis provider's first admin key.
const AdminKeyID = "admin-1"

// InitInfo describes a home that Init prepared.
type InitInfo struct {
	Created     bool   // false when the home existed already
	ProviderDID string // the default provider (single-node homes)
	AdminKey    string // path of its admin key file
}

// AdminKeyPath is where a home keeps its provider's admin key.
func AdminKeyPath(home string) string { return filepath.Join(home, "provider", "admin.key") }

// Init prepares a single-validator home with one default provider, unless
// the home already has a genesis. It is idempotent. Extra names add more
// genesis providers, whose admin keys are stored in
// HOME/provider/NAME.key. A home of the EVM engine has the same genesis
// file (its validators are the registry's governance record) and an
// account key, HOME/evm.key, that pays for the node's anchor
// transactions. A home that has only a genesis file (the network's,
// copied there) becomes a home of the configuration's engine.
func Init(cfg Config, extra ...string) (*InitInfo, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cometledger.HasGenesis(cfg.Home) {
		if err := adoptGenesis(cfg); err != nil {
			return nil, err
		}
		info := &InitInfo{AdminKey: AdminKeyPath(cfg.Home)}
		info.ProviderDID, _ = readProviderDID(cfg.Home)
		return info, nil
	}
	if err := cfg.Save(); err != nil {
		return nil, err
	}
	id, err := cometledger.InitKeys(cfg.Home)
	if err != nil {
		return nil, err
	}
	gp, err := NewProviderKey(cfg.Home, DefaultProviderName)
	if err != nil {
		return nil, err
	}
	gp.Validator = id.ValidatorPubKey.Bytes() // the default provider runs the validator
	g := registry.Genesis{Network: cfg.Network, Providers: []registry.GenesisProvider{*gp}}
	for _, name := range extra {
		s, err := keyfile.Generate(filepath.Join(cfg.Home, "provider", name+".key"), cose.AlgEdDSA)
		if err != nil {
			return nil, err
		}
		g.Providers = append(g.Providers, registry.GenesisProvider{Name: name, Keys: []op.Key{op.KeyFrom(AdminKeyID, s.Public())}})
	}
	app, err := json.Marshal(g)
	if err != nil {
		return nil, err
	}
	vals := []cometledger.GenesisValidator{{Name: cfg.Moniker, PubKey: id.ValidatorPubKey, Power: 10}}
	if err := cometledger.WriteGenesis(cfg.Home, cfg.Network, time.Now().UTC(), vals, app); err != nil {
		return nil, err
	}
	pid, err := registry.ProviderDID(cfg.Network, *gp)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(cfg.Home, "provider", "did"), []byte(pid.String()+"\n"), 0o644); err != nil {
		return nil, err
	}
	if _, err := ensureCA(cfg.Home); err != nil {
		return nil, err
	}
	if cfg.ledger() == LedgerEVM {
		if _, err := evmledger.LoadOrCreateKey(EVMKeyPath(cfg.Home)); err != nil {
			return nil, err
		}
	}
	if err := writeEngine(cfg.Home, engineRecord{Ledger: cfg.ledger()}); err != nil {
		return nil, err
	}
	return &InitInfo{Created: true, ProviderDID: pid.String(), AdminKey: AdminKeyPath(cfg.Home)}, nil
}

// NewProviderKey creates a provider admin key in home/provider and returns
// the provider's genesis entry.
func NewProviderKey(home, name string) (*registry.GenesisProvider, error) {
	if err := os.MkdirAll(filepath.Join(home, "provider"), 0o700); err != nil {
		return nil, err
	}
	s, err := keyfile.Generate(AdminKeyPath(home), cose.AlgEdDSA)
	if err != nil {
		return nil, err
	}
	if err := ensureTokenKey(home); err != nil {
		return nil, err
	}
	return &registry.GenesisProvider{Name: name, Keys: []op.Key{op.KeyFrom(AdminKeyID, s.Public())}}, nil
}

func readProviderDID(home string) (string, error) {
	b, err := os.ReadFile(filepath.Join(home, "provider", "did"))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// Node is a running node.
type Node struct {
	cfg Config
	st  *state.Store
	// entities keeps the entity gauges (nil without metrics).
	entities *entityCount
	app      *registry.App
	led      engine
	res      *resolver.Resolver
	acc      *access.Decider
	ln       net.Listener
	srv      *http.Server
	served   chan error
	// as is the authorization server (internal/oauth); stopOAuth ends its
	// publication of the token key.
	as        *oauth.Server
	stopOAuth func()
	// The X.509 CA (nil without one), and what stops its following of
	// the ledger (and waits for it).
	ca       *ca.Authority
	x509Stop context.CancelFunc
	// The metrics (nil when off), and their own listener (nil without
	// Config.Metrics).
	metrics   *metrics.Metrics
	metricsLn net.Listener
	metricsSv *http.Server
}

// engine is what the node needs of its ledger engine
// (*cometledger.Ledger, *evmEngine).
type engine interface {
	ledger.Ledger
	// Height is the last committed height.
	Height() int64
	// WaitHeight blocks until block h is committed or ctx ends.
	WaitHeight(ctx context.Context, h int64) error
	Close() error
}

var (
	_ engine = (*cometledger.Ledger)(nil)
	_ engine = (*evmEngine)(nil)
)

// Start opens the home's state, starts the ledger (replaying what the
// state missed) and serves the API.
func Start(cfg Config, log *slog.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cometledger.HasGenesis(cfg.Home) {
		return nil, fmt.Errorf("%s has no genesis: initialise it first", cfg.Home)
	}
	rec, err := checkEngine(cfg)
	if err != nil {
		return nil, err
	}
	// CometBFT exits the process, or panics, on some damaged files.
	if cfg.ledger() == LedgerCometBFT {
		if err := cometledger.Preflight(cfg.Home); err != nil {
			return nil, err
		}
	}
	caches := SplitCache(cfg.cacheMB())
	st, err := state.Open(filepath.Join(cfg.Home, "data", "bias-state.db"), state.WithLogger(log.With("module", "state")),
		state.WithKeepVersions(cfg.Storage.KeepVersions), state.WithCaches(caches.State))
	if err != nil {
		return nil, err
	}
	// The state's lock is held: no other node runs on this home, so the
	// temporary files of a crash are garbage.
	removed, err := cometledger.RemoveTempFiles(cfg.Home)
	for _, f := range removed {
		log.Info("removed a temporary file that a crash left", "file", f)
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("remove temporary files: %w", err), st.Close())
	}
	n := &Node{cfg: cfg, st: st, served: make(chan error, 1)}
	n.app = registry.New(cfg.Network, st, log.With("module", "registry"), registry.WithCaches(caches.Registry))
	n.app.SetRetainBlocks(cfg.Storage.RetainBlocks)
	if !cfg.NoMetrics {
		n.metrics = metrics.New()
		n.entities = &entityCount{m: n.metrics, log: log.With("module", "metrics")}
		n.app.Observe(observer{n.metrics, n.entities})
		n.entities.recount(st) // (before the ledger applies a block)
	}
	if cfg.ledger() == LedgerEVM {
		// No snapshots, state sync nor mempool: the chain keeps the
		// operations, and every node replays them.
		ctx, cancel := context.WithTimeout(context.Background(), evmStartTimeout)
		n.led, err = startEVM(ctx, cfg, rec, st, n.app, log.With("module", "evm"))
		cancel()
	} else {
		n.led, err = n.startComet(caches, log)
	}
	if err != nil {
		return nil, errors.Join(err, n.closeState())
	}
	// CheckTx estimates time from the last block until the next one comes.
	if h, err := n.led.Header(context.Background(), n.led.Height()); err == nil {
		n.app.SetLastBlockTime(h.Time.UnixNano())
	}
	n.ln, err = net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("http listen: %w", err), n.led.Close(), n.closeState())
	}
	n.res = resolver.New(n.led, cfg.Network)
	n.acc = access.New(n.res, n.app.Programs(), authn.NewMemorySpentSet(1<<20))
	if err := n.startOAuth(log.With("module", "oauth")); err != nil {
		return nil, errors.Join(fmt.Errorf("oauth: %w", err), n.ln.Close(), n.led.Close(), n.closeState())
	}
	if err := n.startX509(log.With("module", "x509")); err != nil {
		if n.stopOAuth != nil {
			n.stopOAuth()
		}
		return nil, errors.Join(fmt.Errorf("x509: %w", err), n.ln.Close(), n.led.Close(), n.closeState())
	}
	apiCfg := api.Config{Ledger: n.led, Resolver: n.res, Access: n.acc, Precheck: n.app, Log: log.With("module", "api"), OAuth: n.as, Metrics: n.metrics}
	if n.ca != nil {
		apiCfg.X509 = n.ca
	}
	handler := api.New(apiCfg).Handler()
	n.srv = &http.Server{
		// The API refuses a header over its limit in its own error
		// format; the server's larger limit stops the rest.
		Handler:           api.LimitHeaders(handler, api.HeaderLimit),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    api.ServerHeaderLimit,
	}
	if cfg.Metrics != "" {
		if n.metricsLn, err = net.Listen("tcp", cfg.Metrics); err != nil {
			return nil, errors.Join(fmt.Errorf("metrics listen: %w", err), n.ln.Close(), n.Close())
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", n.metrics.Handler())
		n.metricsSv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
		go func() {
			if err := n.metricsSv.Serve(n.metricsLn); !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server stopped", "err", err)
			}
		}()
	}
	go func() { n.served <- n.srv.Serve(n.ln) }()
	return n, nil
}

// evmStartTimeout bounds an EVM engine's start: dialling the endpoint,
// deploying the anchor contract, and the deployment block's finality.
const evmStartTimeout = 10 * time.Minute

// startComet starts the embedded CometBFT.
func (n *Node) startComet(caches Caches, log *slog.Logger) (*cometledger.Ledger, error) {
	cfg := n.cfg
	lc := cometledger.Config{
		Home: cfg.Home, P2PListen: cfg.P2P, PersistentPeers: cfg.PersistentPeers, ExternalAddress: cfg.ExternalAddress,
		Moniker: cfg.Moniker, TimeoutCommit: time.Duration(cfg.TimeoutCommit), CreateEmptyBlocks: cfg.CreateEmptyBlocks,
		AllowDuplicateIP: cfg.AllowDuplicateIP, Mempool: caches.Mempool,
	}
	if err := n.enableSnapshots(&lc); err != nil {
		return nil, err
	}
	if n.metrics != nil {
		lc.Metrics, lc.Observer = n.metrics.Registry(), observer{n.metrics, n.entities}
	}
	return startLedger(lc, n.app, log)
}

// EVMContract is the anchor contract of an EVM node ("" on CometBFT).
func (n *Node) EVMContract() string {
	if e, ok := n.led.(*evmEngine); ok {
		return e.Contract().Hex()
	}
	return ""
}

// MetricsAddr is the address of the metrics' own listener ("" without
// one: /metrics is on the API's).
func (n *Node) MetricsAddr() string {
	if n.metricsLn == nil {
		return ""
	}
	return n.metricsLn.Addr().String()
}

// Metrics are the node's metrics (nil when off).
func (n *Node) Metrics() *metrics.Metrics { return n.metrics }

// startLedger starts the ledger, and makes an error of a panic of the
// consensus engine while it starts: CometBFT's handshake panics when its
// stores disagree (a block store that lost its last blocks, say). What
// the engine opened before it panicked stays open: the process is to
// exit.
func startLedger(c cometledger.Config, app *registry.App, log *slog.Logger) (l *cometledger.Ledger, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the consensus engine failed to start: %v (its stores in %s are damaged, or disagree): "+
				"restore data/ from a backup of this node, or resync it from its peers (docs/operations.md, Recovering a node)",
				r, filepath.Join(c.Home, "data"))
		}
	}()
	return cometledger.Start(c, app, log)
}

// HTTPAddr is the API's listen address (host:port).
func (n *Node) HTTPAddr() string { return n.ln.Addr().String() }

// URL is the API's base URL.
func (n *Node) URL() string { return "http://" + n.HTTPAddr() }

// Ledger is the node's ledger.
func (n *Node) Ledger() ledger.Ledger { return n.led }

// Network is the node's network.
func (n *Node) Network() string { return n.cfg.Network }

// AppHash is the app hash of the last committed state.
func (n *Node) AppHash() []byte { return n.st.Hash() }

// Height is the last committed height.
func (n *Node) Height() int64 { return n.st.Version() }

// Served reports the API server's exit.
func (n *Node) Served() <-chan error { return n.served }

// Close stops the API, the ledger and the state, in that order.
func (n *Node) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if n.stopOAuth != nil {
		n.stopOAuth()
	}
	errs := []error{n.srv.Shutdown(ctx)}
	if n.metricsSv != nil {
		errs = append(errs, n.metricsSv.Shutdown(ctx))
	}
	if n.ca != nil {
		n.x509Stop()
		errs = append(errs, n.ca.Close())
	}
	n.app.StopSnapshots()
	errs = append(errs, n.led.Close(), n.closeState())
	return errors.Join(errs...)
}

// closeState stops the entity count that reads the state, then closes it.
func (n *Node) closeState() error {
	if n.entities != nil {
		n.entities.halt()
	}
	return n.st.Close()
}

// WaitHeight blocks until block h is committed (the genesis providers are
// readable from block 1 on) or ctx ends.
func (n *Node) WaitHeight(ctx context.Context, h int64) error { return n.led.WaitHeight(ctx, h) }

// StateHash is the root hash of the committed state at height.
func (n *Node) StateHash(height int64) ([]byte, error) {
	s, err := n.st.At(height)
	if err != nil {
		return nil, err
	}
	return s.Hash(), nil
}

// Precheck checks an operation against the committed state, as the API
// does before submitting it (safe for concurrent use).
func (n *Node) Precheck(tx []byte) error { return n.app.Precheck(tx) }

// Resolver reads the node's committed state: records, DID resolution,
// and the authn.View of authentication (what the API answers, without
// HTTP).
func (n *Node) Resolver() *resolver.Resolver { return n.res }

// Access makes the node's access decisions: authentications and the
// access contracts of services (what POST /v1/authn/verify and
// /v1/authn/access answer, without HTTP).
func (n *Node) Access() *access.Decider { return n.acc }

package node

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/bias-iot/bias/evmproof"
	"github.com/bias-iot/bias/internal/api"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/cometledger"
	"github.com/bias-iot/bias/internal/ledger/core"
	"github.com/bias-iot/bias/internal/ledger/evmledger"
	"github.com/bias-iot/bias/internal/registry"
	"github.com/bias-iot/bias/internal/state"
)

// The ledger engines (Config.Ledger).
const (
	LedgerCometBFT = "cometbft"
	LedgerEVM      = "evm"
)

// EVMConfig configures the EVM engine (docs/evm.md).
type EVMConfig struct {
	// RPC is the URL of an EVM JSON-RPC endpoint (http, https, ws or
	// wss). "" (the default) runs an in-process simulated chain that
	// lives as long as the process: its state cannot be restarted on
	// (Start refuses a home whose state came from one), so it is for one
	// machine and for tests.
	RPC string `json:"rpc,omitempty"`
	// Contract is the anchor contract's address (0x and 40 hex digits).
	// "" with an RPC endpoint: the first start deploys one, paying with
	// HOME/evm.key, and saves its address here; every other node of the
	// network sets it to that address.
	Contract string `json:"contract,omitempty"`
	// Confirmations is how deep a block must be before it is applied;
	// 0 (the default) waits for the chain's finalized tag. The simulated
	// chain cannot reorganise: it applies each block at once.
	Confirmations uint64 `json:"confirmations,omitempty"`
	// Poll is how often the node asks for new final blocks (default 1s
	// for an RPC endpoint, 20ms for the simulated chain).
	Poll Duration `json:"poll,omitempty"`
	// ChainID is the EVM chain id that the endpoint must have (0: any).
	ChainID uint64 `json:"chainID,omitempty"`
}

// Bounds of EVMConfig: Confirmations (a day of 12 s blocks), and Poll.
const (
	MaxConfirmations = 7200
	MinEVMPoll       = time.Millisecond
	MaxEVMPoll       = time.Minute
)

func (c Config) ledger() string {
	if c.Ledger == "" {
		return LedgerCometBFT
	}
	return c.Ledger
}

// validateLedger checks the engine, and refuses on the EVM engine what
// only CometBFT has.
func (c Config) validateLedger() error {
	switch c.ledger() {
	case LedgerCometBFT:
		if c.EVM != (EVMConfig{}) {
			return errors.New("evm: set, but the ledger is cometbft (--ledger evm)")
		}
		return nil
	case LedgerEVM:
	default:
		return fmt.Errorf("ledger: %q is neither %s nor %s", c.Ledger, LedgerCometBFT, LedgerEVM)
	}
	var errs []error
	// What only a CometBFT network has: peers, state sync and its RPC.
	cometOnly := []struct {
		name string
		set  bool
	}{
		{"persistentPeers", c.PersistentPeers != ""},
		{"externalAddress", c.ExternalAddress != ""},
		{"rpc", c.RPC != ""},
		{"snapshots.interval", c.Snapshots.Interval != 0},
		{"stateSync.enable", c.StateSync.Enable},
	}
	for _, o := range cometOnly {
		if o.set {
			errs = append(errs, fmt.Errorf("%s: CometBFT only; the evm ledger has no use for it", o.name))
		}
	}
	e := c.EVM
	if e.RPC != "" {
		if i := strings.Index(e.RPC, "://"); i < 0 || !oneOf(e.RPC[:i], "http", "https", "ws", "wss") || len(e.RPC) > 2048 {
			errs = append(errs, errors.New("evm.rpc: want an http, https, ws or wss URL"))
		}
	}
	if e.Contract != "" && (len(e.Contract) != 42 || !strings.HasPrefix(e.Contract, "0x") || !common.IsHexAddress(e.Contract)) {
		errs = append(errs, fmt.Errorf("evm.contract: %q is no 0x-prefixed address of 40 hex digits", e.Contract))
	}
	if e.Contract != "" && e.RPC == "" {
		errs = append(errs, errors.New("evm.contract: set, but there is no evm.rpc (the simulated chain deploys its own)"))
	}
	if e.Confirmations > MaxConfirmations {
		errs = append(errs, fmt.Errorf("evm.confirmations: at most %d", MaxConfirmations))
	}
	if e.Poll != 0 && (e.Poll < Duration(MinEVMPoll) || e.Poll > Duration(MaxEVMPoll)) {
		errs = append(errs, fmt.Errorf("evm.poll: 0 (the default) or %s to %s", MinEVMPoll, MaxEVMPoll))
	}
	return errors.Join(errs...)
}

func oneOf(s string, set ...string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}

// EVMKeyPath is the account key that pays for an EVM node's anchor
// transactions.
func EVMKeyPath(home string) string { return filepath.Join(home, evmledger.KeyFile) }

// engineFile records the engine a home was initialised for and, on the
// EVM engine, the chain its state came from.
func engineFile(home string) string { return filepath.Join(home, "config", "engine.json") }

// engineRecord is engineFile's content.
type engineRecord struct {
	Ledger string `json:"ledger"`
	// The EVM engine's chain, once a state was built on it: "simulated"
	// or "rpc", its anchor contract, and its EVM chain id.
	Chain      string `json:"chain,omitempty"`
	Contract   string `json:"contract,omitempty"`
	EVMChainID uint64 `json:"evmChainID,omitempty"`
}

// Errors of a home that its configuration does not fit.
var (
	// ErrWrongEngine: the home was initialised for the other engine.
	ErrWrongEngine = errors.New("the home belongs to another ledger engine")
	// ErrChainGone: the home's state came from an in-process simulated
	// chain, which ended with the process that ran it.
	ErrChainGone = errors.New("the home's state came from an in-process simulated chain, which ended with its process")
	// ErrOtherChain: the home's state came from another chain or anchor
	// contract than the configuration names.
	ErrOtherChain = errors.New("the home's state came from another EVM chain or anchor contract")
)

func readEngine(home string) (engineRecord, error) {
	b, err := os.ReadFile(engineFile(home))
	if errors.Is(err, fs.ErrNotExist) {
		// Homes from before the EVM engine are CometBFT's.
		return engineRecord{Ledger: LedgerCometBFT}, nil
	}
	if err != nil {
		return engineRecord{}, err
	}
	var r engineRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return engineRecord{}, fmt.Errorf("%s: %w", engineFile(home), err)
	}
	return r, nil
}

func writeEngine(home string, r engineRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tmp := engineFile(home) + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, engineFile(home))
}

// adoptGenesis makes a home that holds only a genesis file (copied from
// the network's first node) a home of cfg's engine: it records the
// engine and, on the EVM engine, saves the configuration and creates the
// account key. A home with a state, or an engine, keeps its own.
func adoptGenesis(cfg Config) error {
	if _, err := os.Stat(engineFile(cfg.Home)); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if _, err := os.Stat(filepath.Join(cfg.Home, "data", "bias-state.db")); !errors.Is(err, fs.ErrNotExist) {
		return err // a home from before config/engine.json: CometBFT's
	}
	if _, err := os.Stat(configPath(cfg.Home)); errors.Is(err, fs.ErrNotExist) {
		if err := cfg.Save(); err != nil {
			return err
		}
	}
	if cfg.ledger() == LedgerEVM {
		if _, err := evmledger.LoadOrCreateKey(EVMKeyPath(cfg.Home)); err != nil {
			return err
		}
	}
	return writeEngine(cfg.Home, engineRecord{Ledger: cfg.ledger()})
}

// checkEngine refuses to start cfg on a home of the other engine.
func checkEngine(cfg Config) (engineRecord, error) {
	r, err := readEngine(cfg.Home)
	if err != nil {
		return r, err
	}
	if r.Ledger != cfg.ledger() {
		return r, fmt.Errorf("%w: %s was initialised for the %s ledger, not %s (start it with --ledger %s, or use a new home)",
			ErrWrongEngine, cfg.Home, r.Ledger, cfg.ledger(), r.Ledger)
	}
	return r, nil
}

// evmEngine is the EVM engine as the node uses it: the ledger, the chain
// it follows, and what stops that chain when it runs in process.
type evmEngine struct {
	*evmledger.Ledger
	st       *state.Store
	contract common.Address
	closeFn  func() // closes the chain
	once     sync.Once
	endpoint string // kept out of the errors it returns (redact)
}

// Submit implements ledger.Submitter; its errors do not show the
// endpoint's URL (its JSON-RPC client's errors name the URL they called).
func (e *evmEngine) Submit(ctx context.Context, tx []byte) (*ledger.Result, error) {
	r, err := e.Ledger.Submit(ctx, tx)
	if errors.Is(err, evmledger.ErrDropped) {
		err = fmt.Errorf("%w: %w", ledger.ErrDropped, err)
	}
	return r, redact(err, e.endpoint)
}

// Query implements ledger.Reader, as Submit.
func (e *evmEngine) Query(ctx context.Context, q ledger.Query) (*ledger.QueryResult, error) {
	r, err := e.Ledger.Query(ctx, q)
	return r, redact(err, e.endpoint)
}

// Inclusion implements api.InclusionProver (GET
// /v1/operations/{hash}/inclusion), as Submit.
func (e *evmEngine) Inclusion(ctx context.Context, height int64, index int) (*evmproof.Inclusion, error) {
	in, err := e.Ledger.Inclusion(ctx, height, index)
	return in, redact(err, e.endpoint)
}

var _ api.InclusionProver = (*evmEngine)(nil)

// Header implements ledger.Reader, as Submit.
func (e *evmEngine) Header(ctx context.Context, height int64) (*ledger.Header, error) {
	h, err := e.Ledger.Header(ctx, height)
	return h, redact(err, e.endpoint)
}

// Status implements ledger.Reader, as Submit.
func (e *evmEngine) Status(ctx context.Context) (*ledger.Status, error) {
	s, err := e.Ledger.Status(ctx)
	return s, redact(err, e.endpoint)
}

// Watch implements ledger.Watcher, as Submit.
func (e *evmEngine) Watch(ctx context.Context, from int64) (<-chan ledger.Block, error) {
	ch, err := e.Ledger.Watch(ctx, from)
	return ch, redact(err, e.endpoint)
}

// Height is the last applied height (the state's version: the registry
// commits every block, the headers before a restart are not kept).
func (e *evmEngine) Height() int64 { return e.st.Version() }

// WaitHeight blocks until block h is applied or ctx ends.
func (e *evmEngine) WaitHeight(ctx context.Context, h int64) error {
	if e.Height() >= h {
		return nil
	}
	blocks, err := e.Watch(ctx, h)
	if err != nil {
		return err
	}
	_, ok := <-blocks
	switch {
	case ok || e.Height() >= h:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return ledger.ErrClosed
}

// Close stops the engine and then the chain.
func (e *evmEngine) Close() error {
	err := e.Ledger.Close()
	e.once.Do(e.closeFn)
	return err
}

// Contract is the anchor contract's address.
func (e *evmEngine) Contract() common.Address { return e.contract }

// startEVM starts the EVM engine on app: over cfg.EVM.RPC, or on an
// in-process simulated chain.
func startEVM(ctx context.Context, cfg Config, rec engineRecord, st *state.Store, app *registry.App, log *slog.Logger) (*evmEngine, error) {
	log = redactLogger(log, cfg.EVM.RPC)
	key, err := evmledger.LoadOrCreateKey(EVMKeyPath(cfg.Home))
	if err != nil {
		return nil, err
	}
	appState, vals, err := readGenesis(cfg.Home)
	if err != nil {
		return nil, err
	}
	chainKind := "rpc"
	if cfg.EVM.RPC == "" {
		chainKind = "simulated"
	}
	fresh := st.Version() == 0
	switch {
	case !fresh && rec.Chain == "simulated":
		return nil, fmt.Errorf("%w: remove %s to start afresh on a new chain, or keep a chain with --evm-rpc", ErrChainGone, filepath.Join(cfg.Home, "data"))
	case !fresh && (rec.Chain != chainKind || !strings.EqualFold(rec.Contract, cfg.EVM.Contract)):
		return nil, fmt.Errorf("%w: it came from contract %s on EVM chain %d; the configuration names %q", ErrOtherChain, rec.Contract, rec.EVMChainID, cfg.EVM.Contract)
	}
	dataDir := filepath.Join(cfg.Home, "data", "evm")
	if fresh {
		// What a former engine kept belongs to a state that is gone.
		if err := os.RemoveAll(dataDir); err != nil {
			return nil, err
		}
	}
	ec := evmledger.Config{
		Network: cfg.Network, AppState: appState, Validators: vals, Key: key,
		Poll: time.Duration(cfg.EVM.Poll), Logger: log, DataDir: dataDir, RetainBlocks: cfg.Storage.RetainBlocks,
	}
	if cfg.EVM.ChainID != 0 {
		ec.EVMChainID = new(big.Int).SetUint64(cfg.EVM.ChainID)
	}
	e := &evmEngine{st: st, endpoint: cfg.EVM.RPC}
	var chain evmledger.Chain
	if chainKind == "simulated" {
		if ec.Poll <= 0 {
			ec.Poll = 20 * time.Millisecond
		}
		sim := startSimChain(crypto.PubkeyToAddress(key.PublicKey), ec.Poll, cfg.CreateEmptyBlocks)
		chain, e.closeFn = sim.client.(evmledger.Chain), sim.close
	} else {
		ec.Finalized, ec.Confirmations = cfg.EVM.Confirmations == 0, cfg.EVM.Confirmations
		c, err := ethclient.DialContext(ctx, cfg.EVM.RPC)
		if err != nil {
			return nil, redact(fmt.Errorf("evm.rpc: %w", err), cfg.EVM.RPC)
		}
		chain, e.closeFn = c, c.Close
	}
	fail := func(err error) (*evmEngine, error) {
		e.once.Do(e.closeFn)
		return nil, redact(err, cfg.EVM.RPC)
	}
	id, err := chain.ChainID(ctx)
	if err != nil {
		return fail(fmt.Errorf("evm: chain id: %w", err))
	}
	if ec.EVMChainID != nil && id.Cmp(ec.EVMChainID) != 0 {
		return fail(fmt.Errorf("evm: the endpoint is EVM chain %s, want %s", id, ec.EVMChainID))
	}
	if cfg.EVM.Contract != "" {
		ec.Contract = common.HexToAddress(cfg.EVM.Contract)
	} else {
		if ec.Contract, err = deployAnchor(ctx, cfg, chain, key, chainKind == "rpc", log); err != nil {
			return fail(err)
		}
	}
	e.contract = ec.Contract
	// Recorded before the first block is applied: a state is never
	// without the chain it came from.
	rec.Chain, rec.Contract, rec.EVMChainID = chainKind, ec.Contract.Hex(), id.Uint64()
	if chainKind == "simulated" {
		rec.Contract = ""
	}
	if err := writeEngine(cfg.Home, rec); err != nil {
		return fail(err)
	}
	if e.Ledger, err = evmledger.New(ctx, chain, app, ec); err != nil {
		return fail(err)
	}
	log.Info("following the EVM chain", "chain", chainKind, "evmChainID", id.String(), "contract", ec.Contract.Hex(),
		"account", e.Address().Hex(), "height", st.Version())
	return e, nil
}

// redact keeps an endpoint's URL, which may carry an API key in its path
// or query, or a password, out of err's text: it shows only its scheme
// and host. The error still wraps err.
func redact(err error, endpoint string) error {
	if err == nil || endpoint == "" {
		return err
	}
	msg := newRedactor(endpoint).text(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redacted{err: err, msg: msg}
}

type redacted struct {
	err error
	msg string
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }

// redactor replaces the forms in which an endpoint's URL appears in text
// (as written, as url.URL shows it, as net/http shows it) by its scheme
// and host.
type redactor struct {
	forms []string
	shown string
}

func newRedactor(endpoint string) redactor {
	r := redactor{forms: []string{endpoint}, shown: "the endpoint"}
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		r.forms, r.shown = append(r.forms, u.Redacted()), u.Scheme+"://"+u.Host
		if _, ok := u.User.Password(); ok { // as net/http shows it
			stripped := *u
			stripped.User = url.UserPassword(u.User.Username(), "***")
			r.forms = append(r.forms, strings.Replace(stripped.String(), ":%2A%2A%2A@", ":***@", 1))
		}
	}
	return r
}

func (r redactor) text(s string) string {
	for _, f := range r.forms {
		s = strings.ReplaceAll(s, f, r.shown)
	}
	return s
}

// redactingHandler keeps the endpoint's URL out of what the EVM engine
// logs while it runs: the errors of its JSON-RPC client (net/http's among
// them) name the URL they called.
type redactingHandler struct {
	slog.Handler
	r redactor
}

// redactLogger is log, with endpoint's URL kept out of every message and
// attribute.
func redactLogger(log *slog.Logger, endpoint string) *slog.Logger {
	if endpoint == "" {
		return log
	}
	return slog.New(redactingHandler{Handler: log.Handler(), r: newRedactor(endpoint)})
}

func (h redactingHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.text(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = h.attr(a)
	}
	return redactingHandler{Handler: h.Handler.WithAttrs(clean), r: h.r}
}

func (h redactingHandler) WithGroup(name string) slog.Handler {
	return redactingHandler{Handler: h.Handler.WithGroup(name), r: h.r}
}

// attr is a with every string, error or other value shown as text
// redacted.
func (h redactingHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.text(v.String()))
	case slog.KindGroup:
		g := v.Group()
		clean := make([]any, len(g))
		for i, x := range g {
			clean[i] = h.attr(x)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		if s := fmt.Sprint(v.Any()); s != h.r.text(s) {
			return slog.String(a.Key, h.r.text(s))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// deployAnchor deploys the network's anchor contract; save keeps its
// address in the home's configuration for the next start.
func deployAnchor(ctx context.Context, cfg Config, chain evmledger.Chain, key *ecdsa.PrivateKey, save bool, log *slog.Logger) (common.Address, error) {
	dctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	addr, err := evmledger.Deploy(dctx, chain, key, cfg.Network, cmpDuration(time.Duration(cfg.EVM.Poll), time.Second))
	if err != nil {
		return common.Address{}, fmt.Errorf("%w (the account %s pays for it: fund it)", err, crypto.PubkeyToAddress(key.PublicKey).Hex())
	}
	if !save {
		return addr, nil
	}
	stored, err := LoadConfig(cfg.Home)
	if err != nil {
		return common.Address{}, fmt.Errorf("save the anchor contract %s: %w", addr.Hex(), err)
	}
	stored.EVM.Contract = addr.Hex()
	if err := stored.Save(); err != nil {
		return common.Address{}, fmt.Errorf("save the anchor contract %s: %w", addr.Hex(), err)
	}
	log.Info("deployed the anchor contract: give its address to the other nodes (--evm-contract)", "contract", addr.Hex(),
		"config", configPath(cfg.Home))
	return addr, nil
}

func cmpDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// readGenesis reads the registry's genesis document and the genesis
// validators from the home's genesis file, as CometBFT's InitChain hands
// them to the application, so that one genesis gives one root on either
// engine.
func readGenesis(home string) (json.RawMessage, []core.ValidatorUpdate, error) {
	doc, err := cmttypes.GenesisDocFromFile(cometledger.GenesisFile(home))
	if err != nil {
		return nil, nil, fmt.Errorf("genesis: %w", err)
	}
	vals := make([]core.ValidatorUpdate, 0, len(doc.Validators))
	for _, v := range doc.Validators {
		vals = append(vals, core.ValidatorUpdate{PubKey: v.PubKey.Bytes(), Power: v.Power})
	}
	return doc.AppState, vals, nil
}

// Package nodetest starts a real single-validator bias node (embedded
// CometBFT, on-disk state in a temp dir, HTTP on 127.0.0.1:0) for tests,
// with two genesis providers whose admin keys the test holds. StartEngine
// starts it on either ledger engine (Engines): "evm" follows an
// in-process simulated EVM chain that seals a block as soon as an anchor
// transaction waits.
package nodetest

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/keyfile"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// Provider is a genesis provider with its admin key.
type Provider struct {
	DID    did.DID
	Signer cose.Signer
	Kid    did.DID
}

// Harness is a running node and what a test needs to drive it.
type Harness struct {
	T        testing.TB
	Home     string
	Config   node.Config
	Node     *node.Node
	Client   *sdk.Client
	Network  string
	Provider Provider // "default"
	Other    Provider // "other": a second provider
}

// Engines are the ledger engines a test runs over (Config.Ledger).
var Engines = []string{node.LedgerCometBFT, node.LedgerEVM}

// Start initialises a home in a temp dir and starts a node on it, on the
// default engine (CometBFT).
func Start(t testing.TB) *Harness {
	t.Helper()
	return StartEngine(t, node.LedgerCometBFT)
}

// StartEngine is Start on the ledger engine ledger: node.LedgerCometBFT,
// or node.LedgerEVM over an in-process simulated chain.
func StartEngine(t testing.TB, ledger string) *Harness {
	t.Helper()
	return StartConfig(t, EngineConfig(t.TempDir(), ledger))
}

// EngineConfig is node.Test(home) on the engine ledger; the EVM engine
// polls its chain every 5 ms.
func EngineConfig(home, ledger string) node.Config {
	cfg := node.Test(home)
	if ledger == node.LedgerEVM {
		cfg.Ledger, cfg.EVM.Poll = ledger, node.Duration(5*time.Millisecond)
	}
	return cfg
}

// StartConfig initialises cfg.Home with cfg and starts a node on it.
func StartConfig(t testing.TB, cfg node.Config) *Harness {
	t.Helper()
	home := cfg.Home
	if _, err := node.Init(cfg, "other"); err != nil {
		t.Fatalf("init: %v", err)
	}
	h := &Harness{T: t, Home: home, Config: cfg, Network: cfg.Network}
	h.Provider = h.loadProvider(node.AdminKeyPath(home), node.DefaultProviderName)
	h.Other = h.loadProvider(filepath.Join(home, "provider", "other.key"), "other")
	h.Restart()
	return h
}

// Restart starts the node on the harness's home (after Stop, or a crash).
func (h *Harness) Restart() {
	h.T.Helper()
	n, err := node.Start(h.Config, Logger(h.T))
	if err != nil {
		h.T.Fatalf("start node: %v", err)
	}
	h.Node = n
	h.Client = sdk.NewClient(n.URL())
	h.Config.HTTP = "127.0.0.1:0"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.WaitHeight(ctx, 1); err != nil {
		h.T.Fatalf("first block: %v", err)
	}
	h.T.Cleanup(func() { h.Stop() })
}

// Stop stops the node (idempotent).
func (h *Harness) Stop() {
	if h.Node != nil {
		if err := h.Node.Close(); err != nil {
			h.T.Logf("close node: %v", err)
		}
		h.Node = nil
	}
}

func (h *Harness) loadProvider(path, name string) Provider {
	h.T.Helper()
	s, err := keyfile.Load(path)
	if err != nil {
		h.T.Fatal(err)
	}
	// The provider's DID derives from its genesis entry.
	id, err := providerDID(h.Network, name, s.Public())
	if err != nil {
		h.T.Fatal(err)
	}
	return Provider{DID: id, Signer: s, Kid: id.WithFragment(node.AdminKeyID)}
}

// Logger logs to t.Log at Info level.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tbWriter struct{ t testing.TB }

func (w tbWriter) Write(b []byte) (int, error) {
	w.t.Log(string(b))
	return len(b), nil
}

var _ io.Writer = tbWriter{}

// Entity is a key pair for an entity under test.
type Entity struct {
	Signer cose.Signer
	KeyID  string
	DID    did.DID
}

// NewKey makes a fresh key of alg.
func NewKey(t testing.TB, alg cose.Alg) cose.Signer {
	t.Helper()
	s, _, err := cose.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// RegisterPayload builds a registration of a new entity under provider.
func (h *Harness) RegisterPayload(kind string, provider did.DID, s cose.Signer) op.Payload {
	return op.Payload{Network: h.Network, Register: &op.Register{
		Kind: kind, Provider: provider.String(),
		Doc:   op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}},
		Nonce: []byte(time.Now().Format(time.RFC3339Nano)),
	}}
}

// SignRegister signs a registration with the entity's key k1.
func (h *Harness) SignRegister(s cose.Signer, p op.Payload) ([]byte, did.DID) {
	h.T.Helper()
	tx, id, err := op.SignRegister(s, "k1", p)
	if err != nil {
		h.T.Fatal(err)
	}
	return tx, id
}

// Sign signs a payload.
func (h *Harness) Sign(s cose.Signer, kid did.DID, p op.Payload) []byte {
	h.T.Helper()
	if p.Network == "" {
		p.Network = h.Network
	}
	tx, err := op.Sign(s, kid, p)
	if err != nil {
		h.T.Fatal(err)
	}
	return tx
}

// Submit sends an operation with a test timeout.
func (h *Harness) Submit(tx []byte) (*sdk.SubmitResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return h.Client.Submit(ctx, tx)
}

// MustSubmit sends an operation and fails the test unless it commits.
func (h *Harness) MustSubmit(tx []byte) *sdk.SubmitResult {
	h.T.Helper()
	res, err := h.Submit(tx)
	if err != nil {
		h.T.Fatalf("submit: %v", err)
	}
	return res
}

// Register registers a new entity under provider and returns it.
func (h *Harness) Register(kind string, provider did.DID, alg cose.Alg) Entity {
	h.T.Helper()
	s := NewKey(h.T, alg)
	tx, id := h.SignRegister(s, h.RegisterPayload(kind, provider, s))
	h.MustSubmit(tx)
	return Entity{Signer: s, KeyID: "k1", DID: id}
}

// Entity reads an entity.
func (h *Harness) Entity(id did.DID) *sdk.EntityView {
	h.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := h.Client.Entity(ctx, id.String())
	if err != nil {
		h.T.Fatalf("read %s: %v", id, err)
	}
	return e
}

// RegisterValidated registers a new entity under the default provider
// and has the provider validate it.
func (h *Harness) RegisterValidated(kind string, alg cose.Alg) Entity {
	h.T.Helper()
	e := h.Register(kind, h.Provider.DID, alg)
	h.MustSubmit(h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: e.DID.String(), Version: 1}}))
	return e
}

// Spread calls each(i) for every i in [0, n) from workers goroutines at
// once (each takes the next i), and returns when all are done or one
// returns an error, with that error.
func Spread(n, workers int, each func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var first atomic.Pointer[error]
	for range workers {
		wg.Go(func() {
			for first.Load() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := each(i); err != nil {
					first.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	if p := first.Load(); p != nil {
		return *p
	}
	return nil
}

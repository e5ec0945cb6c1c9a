package node_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/cometledger"
	"github.com/bias-iot/bias/internal/ledger/evmledger"
	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/proof"
	"github.com/bias-iot/bias/record"
)

// testChain is a simulated EVM chain that the test keeps across node
// restarts, sealing a block every 20 ms, served over real HTTP JSON-RPC on
// 127.0.0.1 (rpcServer).
type testChain struct {
	URL  string
	Stop func() // stops serving (idempotent)
}

// startTestChain funds keys on a new simulated chain and serves it.
func startTestChain(t *testing.T, keys ...*ecdsa.PrivateKey) *testChain {
	t.Helper()
	alloc := types.GenesisAlloc{}
	for _, k := range keys {
		alloc[crypto.PubkeyToAddress(k.PublicKey)] = types.Account{Balance: new(big.Int).Mul(big.NewInt(1000), big.NewInt(params.Ether))}
	}
	sim := simulated.NewBackend(alloc)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				sim.Commit()
			}
		}
	}()
	// The simulated backend's client embeds the *ethclient.Client of its
	// in-process RPC connection, under a type of its own.
	rc := reflect.ValueOf(sim.Client()).Field(0).Interface().(*ethclient.Client).Client()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rpcServer{rc}, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		close(stop)
		<-done
		_ = sim.Close()
	})
	return &testChain{URL: "http://" + ln.Addr().String(), Stop: func() { _ = srv.Close() }}
}

// rpcServer answers JSON-RPC 2.0 requests over HTTP (single or batched)
// by passing each call on to an in-process client of the chain.
type rpcServer struct{ c *rpc.Client }

type rpcRequest struct {
	ID     json.RawMessage   `json:"id"`
	Method string            `json:"method"`
	Params []json.RawMessage `json:"params"`
}

type rpcResponse struct {
	Version string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

func (s rpcServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var out any
	if b := bytes.TrimSpace(body); len(b) > 0 && b[0] == '[' {
		var reqs []rpcRequest
		if err := json.Unmarshal(b, &reqs); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resps := make([]rpcResponse, len(reqs))
		for i, q := range reqs {
			resps[i] = s.call(r.Context(), q)
		}
		out = resps
	} else {
		var q rpcRequest
		if err := json.Unmarshal(b, &q); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out = s.call(r.Context(), q)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (s rpcServer) call(ctx context.Context, q rpcRequest) rpcResponse {
	args := make([]any, len(q.Params))
	for i, p := range q.Params {
		args[i] = p
	}
	var res json.RawMessage
	resp := rpcResponse{Version: "2.0", ID: q.ID}
	if err := s.c.CallContext(ctx, &res, q.Method, args...); err != nil {
		e := &rpcError{Code: -32000, Message: err.Error()}
		var re rpc.Error
		if errors.As(err, &re) {
			e.Code = re.ErrorCode()
		}
		var de rpc.DataError
		if errors.As(err, &de) {
			e.Data = de.ErrorData()
		}
		resp.Error = e
		return resp
	}
	if res == nil {
		res = json.RawMessage("null")
	}
	resp.Result = res
	return resp
}

// evmKey is the account key of home, created before Init (which keeps
// it), so that the chain can fund it at genesis.
func evmKey(t *testing.T, home string) *ecdsa.PrivateKey {
	t.Helper()
	k, err := evmledger.LoadOrCreateKey(node.EVMKeyPath(home))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// rpcConfig is a test configuration of the EVM engine over url.
func rpcConfig(home, url, contract string) node.Config {
	cfg := nodetest.EngineConfig(home, node.LedgerEVM)
	cfg.EVM.RPC, cfg.EVM.Contract, cfg.EVM.Confirmations = url, contract, 1
	return cfg
}

// TestEVMRestart stops a node of the EVM engine that follows a chain over
// JSON-RPC and starts it again: it resumes from its state, reaches the
// same roots as a node that never stopped, its proof at a height before
// the restart verifies against its own header (HOME/data/evm keeps them)
// and the other node's, and its event stream replays from block 1.
func TestEVMRestart(t *testing.T) {
	t.Parallel()
	homeA, homeB := t.TempDir(), t.TempDir()
	chain := startTestChain(t, evmKey(t, homeA), evmKey(t, homeB))
	a := nodetest.StartConfig(t, rpcConfig(homeA, chain.URL, ""))
	contract := a.Node.EVMContract()
	stored, err := node.LoadConfig(homeA)
	if err != nil || stored.EVM.Contract != contract {
		t.Fatalf("the deployed contract %s is not saved in the config: %q, %v", contract, stored.EVM.Contract, err)
	}
	// B follows the contract that A deployed, from A's genesis, and never
	// stops.
	b := startFollower(t, homeB, rpcConfig(homeB, chain.URL, contract), homeA)

	dev := a.RegisterValidated(op.KindDevice, cose.AlgEdDSA)
	before := a.Node.Height()
	key := record.EntityKey(dev.DID.String())
	a.Stop()

	// As the CLI starts it again: the contract comes from bias.json.
	cfg, err := node.LoadConfig(homeA)
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTP, cfg.P2P = "127.0.0.1:0", "tcp://127.0.0.1:0"
	a.Config = cfg
	a.Restart()
	if a.Node.Height() < before {
		t.Fatalf("restarted at height %d, before the %d it had", a.Node.Height(), before)
	}
	// It goes on: a registration after the restart commits, and both
	// nodes have the same root at every height from 1 to there.
	after := a.RegisterValidated(op.KindDevice, cose.AlgES256)
	if e := a.Entity(after.DID); e.Status != op.StatusValidated {
		t.Fatalf("after the restart: %+v", e)
	}
	top := a.Node.Height()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := b.WaitHeight(ctx, top); err != nil {
		t.Fatal(err)
	}
	for h := int64(1); h <= top; h++ {
		ra, errA := a.Node.StateHash(h)
		rb, errB := b.StateHash(h)
		if errA != nil || errB != nil || !bytes.Equal(ra, rb) {
			t.Fatalf("height %d: root %x (%v) after the restart, %x (%v) on the node that never stopped", h, ra, errA, rb, errB)
		}
	}
	// A proof that the restarted node gives at a height before its
	// restart verifies against the header after that height.
	q, err := a.Node.Ledger().Query(ctx, ledger.Query{Path: record.QueryKey, Data: key, Height: before, Prove: true})
	if err != nil || q.Code != 0 || len(q.Value) == 0 {
		t.Fatalf("proven read at %d: %+v, %v", before, q, err)
	}
	for name, l := range map[string]ledger.Ledger{"restarted": a.Node.Ledger(), "never stopped": b.Ledger()} {
		hdr, err := l.Header(ctx, before+1)
		if err != nil {
			t.Fatalf("header %d of the node that %s: %v", before+1, name, err)
		}
		if err := proof.Verify(hdr.AppHash, key, q.Value, q.Proof); err != nil {
			t.Fatalf("the proof at %d against the header of the node that %s: %v", before, name, err)
		}
	}
	// The restarted node's stream replays from block 1, as the other's.
	blocks, err := a.Node.Ledger().Watch(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if first, ok := <-blocks; !ok || first.Height != 1 {
		t.Fatalf("the restarted node's first block: %+v, %v", first, ok)
	}

	// Its state is refused with another contract, or an endpoint of
	// another EVM chain.
	a.Stop()
	for _, c := range []struct {
		name string
		edit func(*node.Config)
		ok   func(error) bool
	}{
		{"fail/other-contract", func(c *node.Config) { c.EVM.Contract = "0x" + strings.Repeat("01", 20) },
			func(err error) bool { return errors.Is(err, node.ErrOtherChain) }},
		{"fail/other-chain-id", func(c *node.Config) { c.EVM.ChainID = 1 },
			func(err error) bool { return strings.Contains(err.Error(), "the endpoint is EVM chain 1337, want 1") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := cfg
			c.edit(&bad)
			n, err := node.Start(bad, nodetest.Logger(t))
			if err == nil {
				_ = n.Close()
				t.Fatal("started")
			}
			if !c.ok(err) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

// TestEVMEndpointNotShown: an endpoint that does not answer fails the
// start without its URL's path, query or password in the error (an API
// key often is one of them).
func TestEVMEndpointNotShown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil { // nothing listens there now
		t.Fatal(err)
	}
	for _, u := range []string{"http://" + addr + "/v3/SECRET-KEY?apikey=SECRET-KEY", "http://user:SECRET-KEY@" + addr + "/"} {
		home := t.TempDir()
		cfg := rpcConfig(home, u, "")
		if _, err := node.Init(cfg); err != nil {
			t.Fatal(err)
		}
		n, err := node.Start(cfg, nodetest.Logger(t))
		if err == nil {
			_ = n.Close()
			t.Fatalf("%s: started", u)
		}
		if strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), "http://"+addr) {
			t.Fatalf("%s: %v", u, err)
		}
	}
}

// TestEVMEndpointNotLogged: while the node runs, what the engine logs of
// a failing endpoint (its JSON-RPC client's errors name the URL they
// called) shows the endpoint's scheme and host, never its path, query or
// password.
func TestEVMEndpointNotLogged(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	chain := startTestChain(t, evmKey(t, home))
	cfg := rpcConfig(home, chain.URL+"/v3/SECRET-KEY?apikey=SECRET-KEY", "")
	cfg.EVM.Poll = node.Duration(20 * time.Millisecond)
	if _, err := node.Init(cfg); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	n, err := node.Start(cfg, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	chain.Stop()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), `"level":"WARN"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning logged with the endpoint gone:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := logs.String()
	if strings.Contains(out, "SECRET") {
		t.Fatalf("the endpoint's secret was logged:\n%s", out)
	}
	if !strings.Contains(out, chain.URL) {
		t.Errorf("the warning does not name the endpoint's host:\n%s", out)
	}
}

// TestEVMDeployUnfunded: a first start whose account cannot pay for the
// anchor contract's deployment fails, naming the account to fund.
func TestEVMDeployUnfunded(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	key := evmKey(t, home)
	chain := startTestChain(t) // funds nobody
	cfg := rpcConfig(home, chain.URL, "")
	if _, err := node.Init(cfg); err != nil {
		t.Fatal(err)
	}
	n, err := node.Start(cfg, nodetest.Logger(t))
	if err == nil {
		_ = n.Close()
		t.Fatal("started without the means to deploy")
	}
	if addr := crypto.PubkeyToAddress(key.PublicKey).Hex(); !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "fund it") {
		t.Fatalf("got %v, want the account %s named", err, addr)
	}
	if c, err := node.LoadConfig(home); err != nil || c.EVM.Contract != "" {
		t.Fatalf("a contract saved after a failed deployment: %q, %v", c.EVM.Contract, err)
	}
}

// startFollower starts a node on home with cfg and a copy of the genesis
// of genesisHome, put there before Init: it follows the same network.
func startFollower(t *testing.T, home string, cfg node.Config, genesisHome string) *node.Node {
	t.Helper()
	g, err := os.ReadFile(cometledger.GenesisFile(genesisHome))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(cometledger.GenesisFile(home)), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cometledger.GenesisFile(home), g, 0o600); err != nil { //nolint:gosec // a temp dir of the test
		t.Fatal(err)
	}
	// A home with only the network's genesis becomes an EVM home.
	if _, err := node.Init(cfg); err != nil {
		t.Fatal(err)
	}
	n, err := node.Start(cfg, nodetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// TestEngineKeptByHome: a home of one engine refuses to start as the other.
func TestEngineKeptByHome(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ init, start string }{
		{node.LedgerCometBFT, node.LedgerEVM},
		{node.LedgerEVM, node.LedgerCometBFT},
	} {
		t.Run("fail/"+c.init+"-as-"+c.start, func(t *testing.T) {
			home := t.TempDir()
			if _, err := node.Init(nodetest.EngineConfig(home, c.init)); err != nil {
				t.Fatal(err)
			}
			n, err := node.Start(nodetest.EngineConfig(home, c.start), nodetest.Logger(t))
			if err == nil {
				_ = n.Close()
			}
			if !errors.Is(err, node.ErrWrongEngine) {
				t.Fatalf("got %v, want %v", err, node.ErrWrongEngine)
			}
		})
	}
}

// TestSimulatedChainNotRestarted: a state built on an in-process
// simulated chain is not started again on a new one.
func TestSimulatedChainNotRestarted(t *testing.T) {
	t.Parallel()
	h := nodetest.StartEngine(t, node.LedgerEVM)
	h.Register(op.KindDevice, h.Provider.DID, cose.AlgEdDSA)
	h.Stop()
	n, err := node.Start(h.Config, nodetest.Logger(t))
	if err == nil {
		_ = n.Close()
	}
	if !errors.Is(err, node.ErrChainGone) {
		t.Fatalf("got %v, want %v", err, node.ErrChainGone)
	}
}

// TestEVMConfigRefused: what the EVM engine cannot do is a configuration
// error, named.
func TestEVMConfigRefused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		edit func(*node.Config)
		want string
	}{
		{"fail/unknown-ledger", func(c *node.Config) { c.Ledger = "fabric" }, "ledger:"},
		{"fail/evm-on-cometbft", func(c *node.Config) { c.Ledger, c.EVM.RPC = "", "http://127.0.0.1:8545" }, "evm: set, but the ledger is cometbft"},
		{"fail/rpc-scheme", func(c *node.Config) { c.EVM.RPC = "ftp://x" }, "evm.rpc:"},
		{"fail/contract", func(c *node.Config) { c.EVM.RPC, c.EVM.Contract = "http://127.0.0.1:8545", "0x12" }, "evm.contract:"},
		{"fail/contract-without-rpc", func(c *node.Config) { c.EVM.Contract = "0x" + strings.Repeat("ab", 20) }, "no evm.rpc"},
		{"fail/confirmations", func(c *node.Config) { c.EVM.Confirmations = node.MaxConfirmations + 1 }, "evm.confirmations:"},
		{"fail/poll-negative", func(c *node.Config) { c.EVM.Poll = -1 }, "evm.poll:"},
		{"fail/poll-too-often", func(c *node.Config) { c.EVM.Poll = node.Duration(time.Microsecond) }, "evm.poll:"},
		{"fail/poll-too-rare", func(c *node.Config) { c.EVM.Poll = node.Duration(time.Hour) }, "evm.poll:"},
		{"fail/state-sync", func(c *node.Config) { c.StateSync.Enable = true }, "stateSync.enable: CometBFT only"},
		{"fail/snapshots", func(c *node.Config) { c.Snapshots.Interval = 10 }, "snapshots.interval: CometBFT only"},
		{"fail/peers", func(c *node.Config) { c.PersistentPeers = "id@127.0.0.1:26656" }, "persistentPeers: CometBFT only"},
		{"fail/comet-rpc", func(c *node.Config) { c.RPC = "tcp://127.0.0.1:26657" }, "rpc: CometBFT only"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := nodetest.EngineConfig(t.TempDir(), node.LedgerEVM)
			c.edit(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
		})
	}
	ok := nodetest.EngineConfig(t.TempDir(), node.LedgerEVM)
	ok.EVM.RPC, ok.EVM.Contract, ok.EVM.Confirmations = "ws://127.0.0.1:8546", "0x"+strings.Repeat("ab", 20), 12
	ok.Storage.RetainBlocks, ok.Storage.KeepVersions = 100, 100
	if err := ok.Validate(); err != nil {
		t.Fatalf("a valid EVM configuration: %v", err)
	}
}

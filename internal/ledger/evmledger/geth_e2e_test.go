//go:build e2e

package evmledger_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"math/big"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"

	"github.com/bias-iot/bias/internal/ledger/evmledger"
)

var httpEndpoint = regexp.MustCompile(`HTTP server started\s+endpoint=(\S+)`)

// startGeth runs `geth --dev` (the binary in $BIAS_GETH: scripts/e2e-evm.sh
// builds it) on free ports, a block a second, and returns its client.
func startGeth(t *testing.T) *ethclient.Client {
	t.Helper()
	bin := os.Getenv("BIAS_GETH")
	if bin == "" {
		t.Fatal("BIAS_GETH names no geth binary (run scripts/e2e-evm.sh)")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--dev", "--dev.period", "1", "--datadir", t.TempDir(),
		"--http", "--http.addr", "127.0.0.1", "--http.port", "0", "--http.api", "eth,net,web3",
		"--authrpc.port", "0", "--port", "0", "--nodiscover", "--maxpeers", "0", "--ipcdisable")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := httpEndpoint.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	var ep string
	select {
	case ep = <-found:
	case <-time.After(60 * time.Second):
		t.Fatal("geth did not start its HTTP server")
	}
	c, err := ethclient.Dial("http://" + ep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// fundFromDev sends ether from geth's developer account to each key.
func fundFromDev(t *testing.T, c *ethclient.Client, keys ...*ecdsa.PrivateKey) {
	t.Helper()
	var accts []common.Address
	if err := c.Client().CallContext(t.Context(), &accts, "eth_accounts"); err != nil || len(accts) == 0 {
		t.Fatalf("the developer account: %v %v", accts, err)
	}
	for _, k := range keys {
		var h common.Hash
		err := c.Client().CallContext(t.Context(), &h, "eth_sendTransaction", map[string]any{
			"from": accts[0], "to": crypto.PubkeyToAddress(k.PublicKey),
			"value": (*hexutil.Big)(new(big.Int).Mul(big.NewInt(100), big.NewInt(params.Ether))),
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		_, err = bind.WaitMinedHash(ctx, c, h)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestGethDev: two nodes that follow one `geth --dev` chain (2
// confirmations) and submit to it reach identical roots at every block; a
// third started later replays from the chain alone to the same roots.
func TestGethDev(t *testing.T) {
	c := startGeth(t)
	ka, kb := fund(t, 1), fund(t, 2)
	fundFromDev(t, c, ka, kb)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	addr, err := evmledger.Deploy(ctx, c, ka, network, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	appState, prov := genesis(t)
	cfg := evmledger.Config{Network: network, Contract: addr, AppState: appState, Confirmations: 2, Poll: 200 * time.Millisecond}
	ca, cb := cfg, cfg
	ca.Key, cb.Key = ka, kb
	a, b := followOn(t, c, ca), followOn(t, c, cb)
	var last int64
	for i := 1; i <= 4; i++ {
		l := a
		if i%2 == 0 {
			l = b
		}
		tx, _ := register(t, prov, i)
		r, err := l.Submit(t.Context(), tx)
		if err != nil || r.Code != 0 {
			t.Fatalf("submit %d: %+v %v", i, r, err)
		}
		last = max(last, r.Height)
	}
	waitHeight(t, a, last+1)
	waitHeight(t, b, last+1)
	sameHeaders(t, a, b, last+1)
	late := followOn(t, c, cfg)
	waitHeight(t, late, last+1)
	sameHeaders(t, a, late, last+1)
	t.Logf("gas of node a: %+v; of node b: %+v", a.Gas(), b.Gas())
}

// followOn starts an engine over a fresh registry on a JSON-RPC chain.
func followOn(t *testing.T, c *ethclient.Client, cfg evmledger.Config) *evmledger.Ledger {
	t.Helper()
	cfg.Logger = testLogger(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	l, err := evmledger.New(ctx, c, newRegistry(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

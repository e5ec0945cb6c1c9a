//go:build e2e

package node_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/ledger/cometledger"
	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/keyfile"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

var (
	gethHTTP    = regexp.MustCompile(`HTTP server started\s+endpoint=(\S+)`)
	nodeServing = regexp.MustCompile(`serving (http://127\.0\.0\.1:\d+) `)
	nodeAnchor  = regexp.MustCompile(`anchor contract (0x[0-9a-fA-F]{40}) `)
)

// lines collects a process's output and finds the first match of a
// pattern in it.
type lines struct {
	mu  sync.Mutex
	all strings.Builder
	new chan struct{} // closed and replaced at each line
}

func collect(r io.Reader) *lines {
	l := &lines{new: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			l.mu.Lock()
			l.all.WriteString(sc.Text() + "\n")
			close(l.new)
			l.new = make(chan struct{})
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *lines) find(t *testing.T, re *regexp.Regexp, within time.Duration) string {
	t.Helper()
	deadline := time.After(within)
	for {
		l.mu.Lock()
		m, ch, all := re.FindStringSubmatch(l.all.String()), l.new, l.all.String()
		l.mu.Unlock()
		if m != nil {
			return m[1]
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no %s in:\n%s", re, all)
		}
	}
}

// run starts a process that ends with the test and collects its stderr
// and stdout.
func run(t *testing.T, name string, args ...string) (stdout, stderr *lines) {
	t.Helper()
	cmd := exec.Command(name, args...)
	so, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	se, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdout, stderr = collect(so), collect(se)
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s", filepath.Base(name), stderr.all.String())
		}
	})
	return stdout, stderr
}

// TestNodesOnGethDev: two `bias node --ledger evm` processes follow one
// `geth --dev` (scripts/e2e-evm.sh builds both binaries): the first
// deploys the anchor contract, the second takes its genesis and contract;
// a device registered and validated through the first node's API
// resolves, validated, at the second.
func TestNodesOnGethDev(t *testing.T) {
	geth, bias := os.Getenv("BIAS_GETH"), os.Getenv("BIAS_BIN")
	if geth == "" || bias == "" {
		t.Fatal("BIAS_GETH and BIAS_BIN name no binaries (run scripts/e2e-evm.sh)")
	}
	_, gethErr := run(t, geth, "--dev", "--dev.period", "1", "--datadir", t.TempDir(),
		"--http", "--http.addr", "127.0.0.1", "--http.port", "0", "--http.api", "eth,net,web3",
		"--authrpc.port", "0", "--port", "0", "--nodiscover", "--maxpeers", "0", "--ipcdisable")
	rpcURL := "http://" + gethErr.find(t, gethHTTP, time.Minute)
	c, err := ethclient.Dial(rpcURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)

	homeA, homeB := t.TempDir(), t.TempDir()
	fundAccounts(t, c, evmKey(t, homeA).PublicKey, evmKey(t, homeB).PublicKey)
	flags := []string{"node", "--ledger", "evm", "--evm-rpc", rpcURL, "--evm-confirmations", "2", "--http", "127.0.0.1:0", "--p2p", "tcp://127.0.0.1:0"}
	outA, _ := run(t, bias, append(flags, "--home", homeA)...)
	contract := outA.find(t, nodeAnchor, 2*time.Minute)
	urlA := outA.find(t, nodeServing, time.Minute)

	// B: the network's genesis, then its first start with the contract.
	g, err := os.ReadFile(cometledger.GenesisFile(homeA))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(homeB, "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cometledger.GenesisFile(homeB), g, 0o600); err != nil { //nolint:gosec // a temp dir of the test
		t.Fatal(err)
	}
	outB, _ := run(t, bias, append(flags, "--home", homeB, "--evm-contract", contract)...)
	urlB := outB.find(t, nodeServing, 2*time.Minute)

	// Register and validate a device through A's API.
	admin, err := keyfile.Load(node.AdminKeyPath(homeA))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(homeA, "provider", "did"))
	if err != nil {
		t.Fatal(err)
	}
	prov, err := did.Parse(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	ca, cb := sdk.NewClient(urlA), sdk.NewClient(urlB)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s := nodetest.NewKey(t, cose.AlgEdDSA)
	tx, id, err := op.SignRegister(s, "k1", op.Payload{Network: "local", Register: &op.Register{
		Kind: op.KindDevice, Provider: prov.String(), Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}}, Nonce: []byte("e2e-evm"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Submit(ctx, tx); err != nil {
		t.Fatal(err)
	}
	v, err := op.Sign(admin, prov.WithFragment(node.AdminKeyID), op.Payload{Type: op.TypeValidate, Network: "local", Status: &op.Status{DID: id.String(), Version: 1}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := ca.Submit(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	// B resolves it, validated, once it applied the block.
	for {
		e, err := cb.Entity(ctx, id.String())
		if err == nil && e.Status == op.StatusValidated {
			t.Logf("%s validated at height %d through %s, resolved at %s", id, r.Height, urlA, urlB)
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("B never resolved %s validated: %+v, %v", id, e, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// fundAccounts sends ether from geth's developer account to each key's
// account.
func fundAccounts(t *testing.T, c *ethclient.Client, keys ...ecdsa.PublicKey) {
	t.Helper()
	var accts []common.Address
	if err := c.Client().CallContext(t.Context(), &accts, "eth_accounts"); err != nil || len(accts) == 0 {
		t.Fatalf("the developer account: %v %v", accts, err)
	}
	for _, k := range keys {
		var h common.Hash
		if err := c.Client().CallContext(t.Context(), &h, "eth_sendTransaction", map[string]any{
			"from": accts[0], "to": crypto.PubkeyToAddress(k),
			"value": (*hexutil.Big)(new(big.Int).Mul(big.NewInt(100), big.NewInt(params.Ether))),
		}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		_, err := bind.WaitMinedHash(ctx, c, h)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
}

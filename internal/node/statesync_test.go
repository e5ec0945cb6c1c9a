package node_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/cli"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/cometledger"
	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/internal/registry"
	"github.com/bias-iot/bias/internal/state"
	"github.com/bias-iot/bias/lightclient"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// TestStateSync runs four validators in process that take a snapshot
// every 5 heights in 1 KiB chunks, with enough devices registered that a
// snapshot has dozens of chunks; then a fifth node joins by state sync,
// trusting the header a light client verified from the genesis and kept
// in a trust file. The joiner restores the snapshot of the validators'
// state (the same root as theirs at that height), never fetches the
// blocks below it (block 1 is absent, its block store begins after the
// snapshot's height), serves a record with a proof that verifies against
// a header signed by the validators, and goes on committing with them.
//
// Two peers lie to it. A sixth node offers a snapshot of a height above
// the validators' whose chunks match its own list of their hashes but not
// the trusted app hash: the joiner rejects that snapshot, and its sender
// with it, and restores the validators'. Validator 2 serves chunks of the
// true snapshot that were altered on its disk: each is refused by its
// hash before it is decoded, its sender dropped, the chunk fetched from
// another validator.
func TestStateSync(t *testing.T) {
	t.Parallel()
	const network = "syncnet"
	p2pBase := freePorts(t, 6)
	nodes, err := node.InitTestnet(node.TestnetConfig{
		Dir: t.TempDir(), Network: network, Validators: 4, FullNodes: 2, Host: "127.0.0.1",
		HTTPBase: freePorts(t, 6), P2PBase: p2pBase, TimeoutCommit: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	rpcBase := freePorts(t, 4)
	var rpcs []string
	start := func(cfg node.Config, log *slog.Logger) (*node.Node, *sdk.Client) {
		t.Helper()
		run, err := node.Start(cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := run.Close(); err != nil {
				t.Error(err)
			}
		})
		return run, sdk.NewClient(run.URL())
	}
	var vals []*node.Node
	var clients []*sdk.Client
	for i, n := range nodes[:4] {
		n.Config.RPC = "tcp://127.0.0.1:" + strconv.Itoa(rpcBase+i)
		rpcs = append(rpcs, n.Config.RPC)
		n.Config.Snapshots = node.SnapshotConfig{Interval: 5, Keep: 2, ChunkBytes: 1024}
		v, c := start(n.Config, nodetest.Logger(t))
		vals, clients = append(vals, v), append(clients, c)
	}
	c := clients[0]
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Second)
	defer cancel()
	for _, c := range clients {
		waitFor(ctx, t, "the network to start", func() bool {
			provs, err := c.Providers(ctx)
			return err == nil && len(provs) == 4
		})
	}
	provider := did.MustParse(nodes[0].ProviderDID)
	register := func(c *sdk.Client) (did.DID, *sdk.SubmitResult, error) {
		s := nodetest.NewKey(t, cose.AlgEdDSA)
		tx, dev, err := op.SignRegister(s, "k1", op.Payload{Network: network, Register: &op.Register{
			Kind: op.KindDevice, Provider: provider.String(), Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}}}})
		if err != nil {
			return dev, nil, err
		}
		res, err := c.Submit(ctx, tx)
		if err == nil && res.Status != "committed" {
			err = fmt.Errorf("register: %s", res.Reason)
		}
		return dev, res, err
	}

	// Enough state for dozens of chunks: 8 submitters, 80 devices.
	var wg sync.WaitGroup
	var devs sync.Map
	errs := make(chan error, 80)
	for w := range 8 {
		wg.Go(func() {
			for range 10 {
				dev, res, err := register(clients[w%4])
				if err != nil {
					errs <- err
					return
				}
				devs.Store(dev.String(), res.Height)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var dev did.DID
	var regHeight int64
	devs.Range(func(k, v any) bool {
		if h := v.(int64); h > regHeight {
			dev, regHeight = did.MustParse(k.(string)), h
		}
		return true
	})

	// Blocks go on, a device at a time, until the validators hold a
	// snapshot taken after the registrations and two blocks after it (the
	// joiner's light client verifies the header after the snapshot and
	// the next). Then they pause: a network as busy as this one (a block
	// every few hundred ms) would prune the snapshot (every 5 heights,
	// the latest 2) before the joiner fetched its chunks.
	var chunks int
	var snap int64
	for {
		snap = newestSnapshot(t, nodes[0].Config.Home)
		chunks = chunksOf(t, nodes[0].Config.Home, snap)
		if snap > regHeight && chunks > 0 && vals[0].Height() >= snap+3 {
			break
		}
		if _, _, err := register(c); err != nil {
			t.Fatal(err)
		}
	}
	if chunks < 20 {
		t.Fatalf("a snapshot of %d chunks: too little state to test with", chunks)
	}

	// The joiner trusts a header its operator verified from the genesis
	// (bias show --verify GENESIS --trust-file F keeps one the same way).
	gb, err := os.ReadFile(cometledger.GenesisFile(nodes[0].Config.Home))
	if err != nil {
		t.Fatal(err)
	}
	genesis, err := lightclient.ParseGenesis(gb)
	if err != nil {
		t.Fatal(err)
	}
	trust := &sdk.TrustFile{Path: filepath.Join(t.TempDir(), "trusted.json")}
	if _, err := lightclient.NewClient(genesis, c, trust).VerifyHeight(ctx, 2, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The liars: a snapshot of height snap+1 made of the true chunks of
	// snap, its last altered, with a list of hashes that matches them; and
	// the true snapshot's chunks altered on validator 2's disk.
	lie := snap + 1
	lieDir := filepath.Join(nodes[5].Config.Home, "data", "snapshots", strconv.FormatInt(lie, 10))
	if err := os.MkdirAll(lieDir, 0o700); err != nil {
		t.Fatal(err)
	}
	var lieHashes []byte
	for i := range chunks {
		b := readChunk(t, nodes[0].Config.Home, snap, i)
		if i == chunks-1 {
			b[len(b)-1] ^= 1
		}
		h := sha256.Sum256(b)
		lieHashes = append(lieHashes, h[:]...)
		if err := os.WriteFile(filepath.Join(lieDir, strconv.Itoa(i)), b, 0o600); err != nil {
			t.Fatal(err)
		}
		b = readChunk(t, nodes[2].Config.Home, snap, i)
		b[0] ^= 1
		if err := os.WriteFile(filepath.Join(nodes[2].Config.Home, "data", "snapshots", strconv.FormatInt(snap, 10), strconv.Itoa(i)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	lieSum := sha256.Sum256(lieHashes)
	meta := fmt.Sprintf(`{"height":%d,"format":%d,"chunks":%d,"hash":"%x","root":"%x","hashes":"%x"}`, lie, state.ChunkFormat, chunks, lieSum, lieSum, lieHashes)
	if err := os.WriteFile(filepath.Join(lieDir, "snapshot.json"), []byte(meta), 0o600); err != nil {
		t.Fatal(err)
	}
	liarCfg := nodes[5].Config
	liarCfg.Snapshots = node.SnapshotConfig{Interval: 1000, Keep: 2, ChunkBytes: 1024}
	liar, _ := start(liarCfg, nodetest.Logger(t))

	joinCfg := nodes[4].Config
	joinCfg.PersistentPeers += fmt.Sprintf(",%s@127.0.0.1:%d", liar.Ledger().(*cometledger.Ledger).NodeID(), p2pBase+5)
	joinCfg.StateSync = node.StateSyncConfig{Enable: true, RPCServers: rpcs[:2], TrustFile: trust.Path, DiscoveryTime: node.Duration(5 * time.Second)}
	began := time.Now()
	refusals := &reasonCounts{}
	joiner, jc := start(joinCfg, slog.New(reasonCounter{nodetest.Logger(t).Handler(), refusals}))
	led := joiner.Ledger().(*cometledger.Ledger)
	// A watch from block 1, asked while the joiner restores: it waits for
	// the restore to end, then fails at once, naming the first block the
	// joiner holds.
	watched := make(chan error, 1)
	go func() {
		_, err := led.Watch(ctx, 1)
		watched <- err
	}()
	waitFor(ctx, t, "the joiner to restore a snapshot and block-sync past it", func() bool {
		return led.Base() > 1 && joiner.Height() >= snap+2
	})
	joined := time.Since(began)
	snapHeight := led.Base() - 1
	if snapHeight != snap {
		t.Fatalf("the joiner's blocks begin at %d, not after the snapshot of height %d", led.Base(), snap)
	}
	if n := refusals.get(registry.RefusedSnapshot); n != 1 {
		t.Fatalf("the lying snapshot was refused %d times", n)
	}
	if n := refusals.get(registry.RefusedChunkHash); n < 1 {
		t.Fatal("no altered chunk of validator 2 was refused")
	}
	var pe *ledger.PrunedError
	if err := <-watched; !errors.As(err, &pe) || !errors.Is(err, ledger.ErrPruned) || pe.First != snap+1 || pe.From != 1 {
		t.Fatalf("a watch from block 1 on the joiner: %v", err)
	}
	if _, err := jc.Events(ctx, 1, "", ""); !isPruned(err, snap+1) {
		t.Fatalf("an event stream from block 1 on the joiner: %v", err)
	}
	if _, err := jc.EventHistory(ctx, "", 1, 10, "", ""); !isPruned(err, snap+1) {
		t.Fatalf("event history from block 1 on the joiner: %v", err)
	}
	sctx, stop := context.WithCancel(ctx)
	if _, err := jc.Events(sctx, snap+1, "", ""); err != nil {
		t.Fatalf("an event stream from the joiner's first block: %v", err)
	}
	stop()
	if _, err := led.Header(ctx, 1); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("block 1 on the joiner: %v", err)
	}
	for _, h := range []int64{snapHeight, snapHeight + 1} {
		want, err := vals[0].StateHash(h)
		if err != nil {
			t.Fatal(err)
		}
		got, err := joiner.StateHash(h)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("state root at %d: %x here, %x at a validator (%v)", h, got, want, err)
		}
	}
	// Below the snapshot the joiner holds nothing of its own: a height
	// whose state the snapshot's height left unchanged (an empty block
	// between them) shares its root, and answers with it; block 1's
	// state does not.
	if _, err := joiner.StateHash(1); err == nil {
		t.Fatal("the joiner holds the state of height 1")
	}
	if got, err := joiner.StateHash(snapHeight - 1); err == nil {
		if want, _ := vals[0].StateHash(snapHeight - 1); !bytes.Equal(got, want) {
			t.Fatalf("state root at %d: %x here, %x at a validator", snapHeight-1, got, want)
		}
	}

	// Its metrics count the restored devices (81 or more were registered
	// by the snapshot's height), once the count made in the background
	// ends.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		n := devicesCounted(ctx, t, joiner.URL())
		if n >= 81 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the joiner's metrics count %v devices", n)
		}
	}

	// A record registered before the snapshot, proven by the joiner.
	proven := sdk.ProvenView{C: jc, Validators: genesis.Validators}
	e, err := proven.Entity(ctx, dev)
	if err != nil || e == nil || e.DID != dev.String() {
		t.Fatalf("a proven read from the joiner: %+v %v", e, err)
	}
	// It goes on with the others: a device registered now is there too.
	later, res, err := register(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := joiner.WaitHeight(ctx, res.Height); err != nil {
		t.Fatal(err)
	}
	if e, err := proven.Entity(ctx, later); err != nil || e == nil || e.DID != later.String() {
		t.Fatalf("a device registered after the join, read from the joiner: %+v %v", e, err)
	}
	want, err := vals[0].StateHash(res.Height)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := joiner.StateHash(res.Height); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("state root at %d after the join: %x, %x at a validator (%v)", res.Height, got, want, err)
	}
	// bias events --from 1 follows from the joiner's first block.
	var out, errOut bytes.Buffer
	env := cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	if code := cli.Run(ctx, env, []string{"--node", joiner.URL(), "--output", "json", "events", "--from", "1", "--count", "1"}); code != 0 {
		t.Fatalf("bias events --from 1 on the joiner: exit %d: %s", code, errOut.String())
	}
	var ev sdk.Event
	if err := json.Unmarshal(out.Bytes(), &ev); err != nil || ev.Height <= snapHeight ||
		!strings.Contains(errOut.String(), fmt.Sprintf("holds the blocks from height %d", snapHeight+1)) {
		t.Fatalf("bias events --from 1 on the joiner: %q (%v), stderr %q", out.String(), err, errOut.String())
	}
	t.Logf("joined at snapshot height %d (%d chunks of 1 KiB) in %v, with a discovery time of 5s", snapHeight, chunks, joined.Round(time.Millisecond))
}

// newestSnapshot is the height of the newest snapshot in home (0: none).
func newestSnapshot(t *testing.T, home string) int64 {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(home, "data", "snapshots"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var newest int64
	for _, e := range entries {
		if h, err := strconv.ParseInt(e.Name(), 10, 64); err == nil {
			newest = max(newest, h)
		}
	}
	return newest
}

// chunksOf counts the chunks of the snapshot of height in home (0 once
// it is pruned).
func chunksOf(t *testing.T, home string, height int64) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(home, "data", "snapshots", strconv.FormatInt(height, 10)))
	if err != nil {
		return 0
	}
	return len(entries) - 1
}

// devicesCounted sums the bias_entities gauges of devices that the node
// at url reports.
func devicesCounted(ctx context.Context, t *testing.T, url string) float64 {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // read only
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, `bias_entities{kind="device"`) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				t.Fatal(err)
			}
			sum += v
		}
	}
	return sum
}

// readChunk reads chunk i of the snapshot of height in home.
func readChunk(t *testing.T, home string, height int64, i int) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(home, "data", "snapshots", strconv.FormatInt(height, 10), strconv.Itoa(i)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reasonCounts counts the log records by their "reason" attribute.
type reasonCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *reasonCounts) add(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[reason]++
}

func (c *reasonCounts) get(reason string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[reason]
}

// reasonCounter is a slog.Handler that counts what it passes on.
type reasonCounter struct {
	slog.Handler
	c *reasonCounts
}

func (h reasonCounter) Handle(ctx context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "reason" {
			h.c.add(a.Value.String())
		}
		return true
	})
	return h.Handler.Handle(ctx, r)
}

func (h reasonCounter) WithAttrs(as []slog.Attr) slog.Handler {
	return reasonCounter{h.Handler.WithAttrs(as), h.c}
}

func (h reasonCounter) WithGroup(name string) slog.Handler {
	return reasonCounter{h.Handler.WithGroup(name), h.c}
}

// isPruned reports whether err is the API's 410 pruned naming first.
func isPruned(err error, first int64) bool {
	var ae *sdk.APIError
	return errors.As(err, &ae) && ae.Status == http.StatusGone && ae.Reason == "pruned" && ae.First == first
}

package node_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/proof"
	"github.com/bias-iot/bias/sdk"
)

// The test binary doubles as a node process for the crash test.
func TestMain(m *testing.M) {
	if home := os.Getenv("BIAS_TEST_NODE_HOME"); home != "" {
		runChildNode(home, os.Getenv("BIAS_TEST_NODE_HTTP"))
		return
	}
	os.Exit(m.Run())
}

func runChildNode(home, httpAddr string) {
	cfg, err := node.LoadConfig(home)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	cfg.HTTP = httpAddr
	n, err := node.Start(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	if err := n.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// TestProof checks that a record's proof verifies against the app hash of
// the next block's header, and that a tampered value or hash does not.
func TestProof(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	dev := h.Register(op.KindDevice, h.Provider.DID, cose.AlgEdDSA)
	v, err := h.Client.EntityProof(t.Context(), dev.DID.String(), 0)
	if err != nil {
		t.Fatal(err)
	}
	p := v.Proof
	if p == nil || p.AppHash == "" || (p.AppHashHeight != v.Height+1 && p.AppHashHeight != v.Height) {
		t.Fatalf("proof view: %+v", p)
	}
	hdr := waitHeader(t, h.Client, p.AppHashHeight)
	if hdr.AppHash != p.AppHash {
		t.Fatalf("proof names app hash %s, header %d has %s", p.AppHash, hdr.Height, hdr.AppHash)
	}
	appHash := mustHex(t, hdr.AppHash)
	if err := proof.Verify(appHash, p.Key, p.Value, p.Proof); err != nil {
		t.Fatalf("valid proof rejected: %v", err)
	}
	tampered := append([]byte(nil), p.Value...)
	tampered[len(tampered)/2] ^= 1
	if err := proof.Verify(appHash, p.Key, tampered, p.Proof); !errors.Is(err, proof.ErrInvalid) {
		t.Fatalf("tampered value: %v", err)
	}
	badHash := append([]byte(nil), appHash...)
	badHash[0] ^= 1
	if err := proof.Verify(badHash, p.Key, p.Value, p.Proof); !errors.Is(err, proof.ErrInvalid) {
		t.Fatalf("tampered app hash: %v", err)
	}
	// A proof at an older height verifies against that height's successor.
	old, err := h.Client.EntityProof(t.Context(), dev.DID.String(), v.Height)
	if err != nil || old.Proof.Height != v.Height {
		t.Fatalf("proof at height %d: %+v %v", v.Height, old, err)
	}
	if err := proof.Verify(appHash, old.Proof.Key, old.Proof.Value, old.Proof.Proof); err != nil {
		t.Fatalf("proof at explicit height: %v", err)
	}
}

// TestRestart stops and restarts a node: the same state, the same app
// hash, and the node goes on committing.
func TestRestart(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	var ids []did.DID
	for i := 0; i < 10; i++ {
		ids = append(ids, h.Register(op.KindDevice, h.Provider.DID, cose.AlgEdDSA).DID)
	}
	height, hash := h.Node.Height(), h.Node.AppHash()
	h.Stop()
	h.Restart()
	if h.Node.Height() < height {
		t.Fatalf("height went back from %d to %d", height, h.Node.Height())
	}
	if got, err := h.Node.StateHash(height); err != nil || !bytes.Equal(got, hash) {
		t.Fatalf("state hash at %d after restart: %x (%v), before %x", height, got, err, hash)
	}
	for _, id := range ids {
		if e := h.Entity(id); e.Status != op.StatusPending {
			t.Fatalf("%s after restart: %+v", id, e)
		}
	}
	h.Register(op.KindDevice, h.Provider.DID, cose.AlgEdDSA)
}

// TestHandshakeReplay puts the application's state back by several blocks
// behind the block store: on start, CometBFT's handshake replays the
// blocks it missed and the state comes out with the same app hash.
func TestHandshakeReplay(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	for i := 0; i < 3; i++ {
		h.Register(op.KindDevice, h.Provider.DID, cose.AlgEdDSA)
	}
	h.Stop()
	stateDir := filepath.Join(h.Home, "data", "bias-state.db")
	backup := filepath.Join(t.TempDir(), "state-backup")
	copyDir(t, stateDir, backup)
	h.Restart()
	behind := h.Node.Height()
	var later []did.DID
	for i := 0; i < 5; i++ {
		later = append(later, h.Register(op.KindDevice, h.Provider.DID, cose.AlgES256).DID)
	}
	height, hash := h.Node.Height(), h.Node.AppHash()
	h.Stop()
	if err := os.RemoveAll(stateDir); err != nil {
		t.Fatal(err)
	}
	copyDir(t, backup, stateDir)
	h.Restart()
	if h.Node.Height() < height || height-behind < 5 {
		t.Fatalf("replayed to height %d, want %d (state was at %d)", h.Node.Height(), height, behind)
	}
	if got, err := h.Node.StateHash(height); err != nil || !bytes.Equal(got, hash) {
		t.Fatalf("replayed state hash at %d: %x (%v), want %x", height, got, err, hash)
	}
	for _, id := range later {
		h.Entity(id)
	}
}

// TestKillMidLoad kills a node process with SIGKILL while clients submit
// registrations, restarts it, and finds every acknowledged registration.
func TestKillMidLoad(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts node processes")
	}
	home, provider, addr, c := childHome(t)
	child := startChild(t, home, addr)
	waitReady(t, c)

	var (
		mu    sync.Mutex
		acked []did.DID
	)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				s := nodetest.NewKey(t, cose.AlgEdDSA)
				tx, id, err := op.SignRegister(s, "k1", op.Payload{Network: provider.Network, Register: &op.Register{
					Kind: op.KindDevice, Provider: provider.String(), Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}},
				}})
				if err != nil {
					t.Error(err)
					return
				}
				rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
				res, err := c.Submit(rctx, tx)
				rcancel()
				if err == nil && res.Status == "committed" {
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			}
		}()
	}
	// Let the load run, then kill the node without warning.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 200 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait() // killed on purpose: "signal: killed"
	cancel()
	wg.Wait()
	t.Logf("%d registrations acknowledged before SIGKILL", len(acked))
	if len(acked) == 0 {
		t.Fatal("no registration was acknowledged")
	}

	child = startChild(t, home, addr)
	waitReady(t, c)
	for _, id := range acked {
		if _, err := c.Entity(t.Context(), id.String()); err != nil {
			t.Fatalf("acknowledged %s lost: %v", id, err)
		}
	}
	// The replayed state agrees with the chain: a fresh proof verifies
	// against the next header, and the node commits new blocks.
	s := nodetest.NewKey(t, cose.AlgEdDSA)
	tx, id, _ := op.SignRegister(s, "k1", op.Payload{Network: provider.Network, Register: &op.Register{
		Kind: op.KindDevice, Provider: provider.String(), Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}},
	}})
	if _, err := c.Submit(t.Context(), tx); err != nil {
		t.Fatalf("submit after restart: %v", err)
	}
	v, err := c.EntityProof(t.Context(), id.String(), 0)
	if err != nil {
		t.Fatal(err)
	}
	hdr := waitHeader(t, c, v.Proof.AppHashHeight)
	if hdr.AppHash != v.Proof.AppHash {
		t.Fatalf("proof names app hash %s, header has %s", v.Proof.AppHash, hdr.AppHash)
	}
	if err := proof.Verify(mustHex(t, hdr.AppHash), v.Proof.Key, v.Proof.Value, v.Proof.Proof); err != nil {
		t.Fatalf("proof after crash recovery: %v", err)
	}
	if err := child.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := child.Wait(); err != nil {
		t.Fatalf("node process after SIGTERM: %v", err)
	}
}

// childHome initialises a home for a node process, and picks the address
// of its API: the home, its default provider, the address and a client.
func childHome(t *testing.T) (string, did.DID, string, *sdk.Client) {
	t.Helper()
	home := t.TempDir()
	info, err := node.Init(node.Test(home))
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	return home, did.MustParse(info.ProviderDID), addr, sdk.NewClient("http://" + addr)
}

func startChild(t *testing.T, home, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "BIAS_TEST_NODE_HOME="+home, "BIAS_TEST_NODE_HTTP="+addr)
	logf, err := os.OpenFile(filepath.Join(home, "child.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Most often the test has stopped it already: then Kill fails
		// with "process already finished" and Wait with "Wait was already
		// called"; otherwise Wait reports "signal: killed".
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if err := logf.Close(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(home, "child.log"))
			t.Logf("child log:\n%s", b)
		}
	})
	return cmd
}

func waitReady(t *testing.T, c *sdk.Client) {
	t.Helper()
	for i := 0; i < 300; i++ {
		if st, err := c.Status(t.Context()); err == nil && st.Height >= 1 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("node did not become ready")
}

func waitHeader(t *testing.T, c *sdk.Client, height int64) *sdk.HeaderView {
	t.Helper()
	for i := 0; i < 200; i++ {
		if h, err := c.Header(t.Context(), height); err == nil {
			return h
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("no header %d", height)
	return nil
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
}

func mustHex(t *testing.T, s string) []byte {
	var b []byte
	if _, err := fmt.Sscanf(s, "%x", &b); err != nil {
		t.Fatal(err)
	}
	return b
}

package node_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
)

// tempFiles lists the temporary files of CometBFT's atomic writes (the
// validator's last-signed state at each vote) in home.
func tempFiles(t *testing.T, home string) []string {
	t.Helper()
	var all []string
	for _, dir := range []string{"config", "data"} {
		m, err := filepath.Glob(filepath.Join(home, dir, "write-file-atomic-*"))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, m...)
	}
	return all
}

// TestCrashLeavesNoTemporaryFiles (finding 17c): a node killed (SIGKILL)
// under load may leave the temporary file of an atomic write of
// data/priv_validator_state.json, which CometBFT rewrites at each vote;
// the next start removes it, so crashes do not pile them up in data/.
func TestCrashLeavesNoTemporaryFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("starts node processes")
	}
	home, provider, addr, c := childHome(t)
	child := startChild(t, home, addr)
	waitReady(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for ctx.Err() == nil {
				s := nodetest.NewKey(t, cose.AlgEdDSA)
				tx, _, err := op.SignRegister(s, "k1", op.Payload{Network: provider.Network, Register: &op.Register{
					Kind: op.KindDevice, Provider: provider.String(), Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}},
				}})
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = c.Submit(ctx, tx) // the node dies under some
			}
		}()
	}
	time.Sleep(2 * time.Second)
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait() // "signal: killed"
	cancel()
	for range 4 {
		<-done
	}
	left := tempFiles(t, home)
	t.Logf("the crash left %v", left)
	if len(left) == 0 {
		// The kill fell between two writes: leave what it would have.
		f := filepath.Join(home, "data", "write-file-atomic-1648318859824850079")
		if err := os.WriteFile(f, []byte(`{"height":"3"`), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// Started again and stopped cleanly, the node leaves none behind.
	child = startChild(t, home, addr)
	waitReady(t, c)
	if err := child.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := child.Wait(); err != nil {
		t.Fatalf("the node's exit: %v", err)
	}
	if left := tempFiles(t, home); len(left) != 0 {
		t.Fatalf("temporary files in the home: %v", left)
	}
}

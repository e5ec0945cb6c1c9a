package node_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
)

// TestTruncatedStateFileIsAClearError (finding 17a): a node whose home has
// a truncated file that CometBFT loads at start (where CometBFT would exit
// the process, or panic) refuses to start with an error that names the
// file and points to what to do. Each case starts a node process (the
// test binary, see TestMain) on a copy of a home that has run.
func TestTruncatedStateFileIsAClearError(t *testing.T) {
	if testing.Short() {
		t.Skip("starts node processes")
	}
	h := nodetest.Start(t)
	h.Register(op.KindDevice, h.Provider.DID, cose.AlgEdDSA)
	h.Stop()
	for _, c := range []struct {
		name string
		file string   // relative to the home; a glob
		says []string // in the error
	}{
		{"validator-key", "config/priv_validator_key.json", []string{"config/priv_validator_key.json", "restore it from a backup"}},
		{"validator-state", "data/priv_validator_state.json", []string{"data/priv_validator_state.json", "signing twice"}},
		{"node-key", "config/node_key.json", []string{"config/node_key.json", "node id"}},
		{"genesis", "config/genesis.json", []string{"config/genesis.json", "from another node"}},
		// A block store that lost its last writes (its leveldb journal
		// cut short): CometBFT's handshake panics on the disagreement.
		{"block-store-journal", "data/blockstore.db/*.log", []string{"height mismatch", "resync it from its peers"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			home := t.TempDir()
			copyDir(t, h.Home, home)
			files, err := filepath.Glob(filepath.Join(home, c.file))
			if err != nil || len(files) != 1 {
				t.Fatalf("%s: %v (%v)", c.file, files, err)
			}
			if err := os.Truncate(files[0], 7); err != nil {
				t.Fatal(err)
			}
			child := startChild(t, home, freeAddr(t))
			done := make(chan error, 1)
			go func() { done <- child.Wait() }()
			var werr error
			select {
			case werr = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("the node started on a damaged home")
			}
			out, err := os.ReadFile(filepath.Join(home, "child.log"))
			if err != nil {
				t.Fatal(err)
			}
			log := string(out)
			t.Log(log)
			var exit *exec.ExitError
			if !errors.As(werr, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("the node exits with %v, not the error of node.Start (2):\n%s", werr, log)
			}
			for _, want := range append(c.says, "docs/operations.md, Recovering a node") {
				if !strings.Contains(log, want) {
					t.Errorf("the error does not say %q:\n%s", want, log)
				}
			}
			if strings.Contains(log, "goroutine ") {
				t.Errorf("a panic:\n%s", log)
			}
		})
	}
}

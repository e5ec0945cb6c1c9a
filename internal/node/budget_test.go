package node_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
)

// budgetBytes is what a split commits of the budget, in bytes: the IAVL
// nodes at the split's estimate, both write buffers twice (leveldb keeps
// one more while it flushes), the op cache, the mempool and the programs.
func budgetBytes(c node.Caches) int64 {
	s, r := c.State, c.Registry
	return int64(s.TreeNodes)*512 + int64(s.TreeBlockCache+2*s.TreeWriteBuffer+s.IndexBlockCache+2*s.IndexWriteBuffer) +
		int64(r.OpBytes) + c.Mempool.Bytes + int64(r.Programs)*(64<<10)
}

func TestSplitCache(t *testing.T) {
	prev := node.Caches{}
	for _, mb := range []int{node.MinCacheMB, 256, node.DefaultCacheMB, 4096, 65536} {
		c := node.SplitCache(mb)
		if got, limit := budgetBytes(c), int64(mb)<<20; got > limit {
			t.Errorf("%d MiB: the split commits %d bytes, over the budget %d", mb, got, limit)
		}
		if got, floor := budgetBytes(c), int64(mb)<<20*9/10; got < floor {
			t.Errorf("%d MiB: the split commits %d bytes, under 90%% of the budget", mb, got)
		}
		if c.State.TreeNodes <= prev.State.TreeNodes || c.State.TreeBlockCache <= prev.State.TreeBlockCache ||
			c.State.IndexBlockCache <= prev.State.IndexBlockCache || c.Registry.OpBytes <= prev.Registry.OpBytes ||
			c.Mempool.Bytes <= prev.Mempool.Bytes {
			t.Errorf("%d MiB: a cache did not grow with the budget: %+v after %+v", mb, c, prev)
		}
		prev = c
	}
	if got, want := node.MemoryLimitBytes(0), node.MemoryLimitBytes(node.DefaultCacheMB); got != want {
		t.Errorf("memory limit of the default budget: %d, want %d", got, want)
	}
}

func TestCacheMBConfig(t *testing.T) {
	for _, c := range []struct {
		name string
		mb   int
		want string // "" for a valid one
	}{
		{"ok/default", 0, ""},
		{"ok/min", node.MinCacheMB, ""},
		{"ok/large", 100_000, ""},
		{"fail/too-small", node.MinCacheMB - 1, "cacheMB"},
		{"fail/negative", -512, "cacheMB"},
		{"fail/too-large", node.MaxCacheMB + 1, "cacheMB"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := node.Test(t.TempDir())
			cfg.CacheMB = c.mb
			err := cfg.Validate()
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("cacheMB %d: %v, want %q", c.mb, err, c.want)
			}
		})
	}
	// The field is read from the home's bias.json; a file without it
	// gets the default.
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		json string
		want int
	}{{`{"cacheMB": 128}`, 128}, {`{}`, node.DefaultCacheMB}} {
		if err := os.WriteFile(filepath.Join(home, "config", "bias.json"), []byte(c.json), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := node.LoadConfig(home)
		if err != nil || cfg.CacheMB != c.want {
			t.Errorf("%s: cacheMB %d (%v), want %d", c.json, cfg.CacheMB, err, c.want)
		}
	}
}

// TestCacheBudget: the budget reaches each cache of a running node (read
// back from the store, the application and CometBFT's mempool), and a
// restart with another budget resizes them.
func TestCacheBudget(t *testing.T) {
	h := nodetest.Start(t)
	if got, want := h.Node.Caches(), node.SplitCache(node.DefaultCacheMB); !cmp.Equal(got, want) {
		t.Fatalf("default budget: caches differ (-got +want):\n%s", cmp.Diff(got, want))
	}
	for _, mb := range []int{node.MinCacheMB, 3000} {
		quiet(h)
		h.Stop()
		h.Config.CacheMB = mb
		h.Restart()
		got, want := h.Node.Caches(), node.SplitCache(mb)
		if !cmp.Equal(got, want) {
			t.Fatalf("%d MiB: caches differ (-got +want):\n%s", mb, cmp.Diff(got, want))
		}
		// Still serving after the restart.
		h.RegisterValidated(op.KindDevice, cose.AlgEdDSA)
	}
}

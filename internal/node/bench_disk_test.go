package node_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/util"

	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/internal/state"
)

// diskParts names the stores of a node's data/ as the disk benchmark
// counts them.
var diskParts = []struct{ name, dir string }{
	{"state", "bias-state.db/state.db"},  // the IAVL tree, every version kept
	{"index", "bias-state.db/latest.db"}, // the latest-value index
	{"blocks", "blockstore.db"},          // CometBFT's blocks, metas and commits
	{"comet-state", "state.db"},          // CometBFT's state: block results, validators, params
}

// compact compacts every leveldb under dir (a directory with a CURRENT
// file), so that what deletions free is counted as free: a running node
// reaches the same as leveldb compacts in the background.
func compact(b *testing.B, dir string) {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "CURRENT" {
			return err
		}
		db, err := leveldb.OpenFile(filepath.Dir(p), nil)
		if err != nil {
			return err
		}
		if err := db.CompactRange(util.Range{}); err != nil {
			return err
		}
		return db.Close()
	})
	if err != nil {
		b.Fatal(err)
	}
}

// du is the bytes of the files under dir.
func du(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// diskPerDevice enrolls n devices (bulk enrollments of 2000) and has
// singles more register one at a time at 100 a second (as devices come,
// each making its own blocks) on a node with cfg's timeoutCommit and
// storage, stops it, compacts its stores and returns the bytes per
// device of each part of data/ and of all of it.
func diskPerDevice(b *testing.B, n, singles int, tc time.Duration, st node.StorageConfig) (map[string]float64, int64) {
	h := withConfig(b, func(c *node.Config) { c.TimeoutCommit, c.Storage = node.Duration(tc), st })
	populate(b, h, n)
	commitLatencies(b, h, 100, singles)
	height := h.Node.Height()
	h.Stop()
	data := filepath.Join(h.Home, "data")
	// What the node kept: the pruned versions are gone.
	sdb, err := state.Open(filepath.Join(data, "bias-state.db"))
	if err != nil {
		b.Fatal(err)
	}
	_, err = sdb.At(height - max(st.KeepVersions, 1))
	if cerr := sdb.Close(); cerr != nil {
		b.Fatal(cerr)
	}
	if st.KeepVersions > 0 != errors.Is(err, state.ErrPruned) {
		b.Fatalf("keeping %d versions, version %d of %d: %v", st.KeepVersions, height-max(st.KeepVersions, 1), height, err)
	}
	compact(b, data)
	devices := float64(n + singles)
	out := map[string]float64{"total": float64(du(data)) / devices}
	for _, p := range diskParts {
		out[p.name] = float64(du(filepath.Join(data, p.dir))) / devices
	}
	return out, height
}

// BenchmarkDiskPerDevice measures the disk a node takes per device:
// BIAS_BENCH_DEVICES devices (default 100000) enrolled in bulk and 2000
// more registered one at a time, on a node as before issue 19
// (timeoutCommit 0, every block and state version kept) and on one with
// the default timeoutCommit that keeps 10 blocks and 10 versions (a
// short span stands for a steady state, in which the kept span is small
// beside the history), in the same run. Each part of data/ is reported
// in bytes per device, after compaction (run with -benchtime 1x).
func BenchmarkDiskPerDevice(b *testing.B) {
	n := 100_000
	if v := os.Getenv("BIAS_BENCH_DEVICES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("BIAS_BENCH_DEVICES=%q", v)
		}
	}
	const singles = 2000
	before, hb := diskPerDevice(b, n, singles, 0, node.StorageConfig{})
	after, ha := diskPerDevice(b, n, singles, time.Duration(node.Default().TimeoutCommit),
		node.StorageConfig{RetainBlocks: 10, KeepVersions: 10})
	for _, k := range []string{"total", "state", "index", "blocks", "comet-state"} {
		name := strings.ReplaceAll(k, "-", "")
		b.ReportMetric(before[k], "B/dev-"+name+"-before")
		b.ReportMetric(after[k], "B/dev-"+name)
	}
	b.ReportMetric(after["total"]/before["total"], "total-ratio")
	b.ReportMetric(float64(hb), "blocks-before")
	b.ReportMetric(float64(ha), "blocks")
}

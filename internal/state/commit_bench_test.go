package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/cosmos/iavl"
	idb "github.com/cosmos/iavl/db"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// blockWriter is one way of holding the state: a block's reads and
// writes, then its commit.
type blockWriter interface {
	get(k []byte) ([]byte, error)
	set(k, v []byte) error
	commit() error
	close() error
}

// storeWriter is the state as the node uses it: Store (the tree without
// fast nodes, synced, and the latest-value index written in one batch
// per commit). A block's reads go to the working tree, as FinalizeBlock's.
type storeWriter struct{ s *Store }

func (w storeWriter) get(k []byte) ([]byte, error) { return w.s.Get(k) }
func (w storeWriter) set(k, v []byte) error        { return w.s.Set(k, v) }
func (w storeWriter) commit() error                { _, _, err := w.s.Commit(); return err }
func (w storeWriter) close() error                 { return w.s.Close() }

// storeTreeReads is the Store with a block's reads walking the working
// tree, as Store.Get did before it read this block's writes and the
// index: the same-run baseline of that change.
type storeTreeReads struct{ storeWriter }

func (w storeTreeReads) get(k []byte) ([]byte, error) { return w.s.tree.Get(k) }

// treeWriter is a bare IAVL tree with other options.
type treeWriter struct {
	db *idb.GoLevelDB
	t  *iavl.MutableTree
}

func openTree(b *testing.B, dir string, fastNodes, sync bool) *treeWriter {
	db, err := idb.NewGoLevelDBWithOpts("state", dir, DefaultCaches.treeOptions())
	if err != nil {
		b.Fatal(err)
	}
	t := iavl.NewMutableTree(db, DefaultCaches.TreeNodes, !fastNodes, iavl.NewNopLogger(), iavl.SyncOption(sync))
	if _, err := t.Load(); err != nil {
		b.Fatal(err)
	}
	return &treeWriter{db: db, t: t}
}

func (w *treeWriter) get(k []byte) ([]byte, error) { return w.t.Get(k) }
func (w *treeWriter) set(k, v []byte) error        { _, err := w.t.Set(k, v); return err }
func (w *treeWriter) commit() error                { _, _, err := w.t.SaveVersion(); return err }
func (w *treeWriter) close() error                 { return w.db.Close() }

// flatWriter is the alternative: the latest values in one leveldb (as
// the latest-value index holds them) and, per block, a Merkle root over
// the block's sorted writes chained to the previous root. It commits to
// every change but proves only "key k was set to v in block h", not the
// current value of a key nor its absence: the product's proofs would
// need another structure beside it.
type flatWriter struct {
	db      *leveldb.DB
	pending map[string][]byte
	root    [32]byte
	version uint64
}

func openFlat(b *testing.B, dir string) *flatWriter {
	db, err := leveldb.OpenFile(dir, DefaultCaches.indexOptions())
	if err != nil {
		b.Fatal(err)
	}
	return &flatWriter{db: db, pending: map[string][]byte{}}
}

func (w *flatWriter) get(k []byte) ([]byte, error) {
	if v, ok := w.pending[string(k)]; ok {
		return v, nil
	}
	v, err := w.db.Get(k, nil)
	if errors.Is(err, leveldb.ErrNotFound) {
		return nil, nil
	}
	return v, err
}

func (w *flatWriter) set(k, v []byte) error {
	w.pending[string(k)] = slices.Clone(v)
	return nil
}

func (w *flatWriter) commit() error {
	keys := make([]string, 0, len(w.pending))
	for k := range w.pending {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	level := make([][32]byte, len(keys))
	batch := new(leveldb.Batch)
	for i, k := range keys {
		v := w.pending[k]
		vh := sha256.Sum256(v)
		level[i] = sha256.Sum256(slices.Concat([]byte{0}, binary.BigEndian.AppendUint32(nil, uint32(len(k))), []byte(k), vh[:]))
		batch.Put([]byte(k), v)
	}
	for len(level) > 1 {
		next := level[:0:0]
		for i := 0; i < len(level); i += 2 {
			if i+1 == len(level) {
				next = append(next, level[i])
				continue
			}
			next = append(next, sha256.Sum256(slices.Concat([]byte{1}, level[i][:], level[i+1][:])))
		}
		level = next
	}
	var block [32]byte
	if len(level) == 1 {
		block = level[0]
	}
	w.version++
	w.root = sha256.Sum256(slices.Concat(binary.BigEndian.AppendUint64(nil, w.version), w.root[:], block[:]))
	batch.Put([]byte{0}, slices.Concat(binary.BigEndian.AppendUint64(nil, w.version), w.root[:]))
	w.pending = map[string][]byte{}
	return w.db.Write(batch, &opt.WriteOptions{Sync: true})
}

func (w *flatWriter) close() error { return w.db.Close() }

// processCPU is the CPU time (user and system) the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// writeBlocks fills w with base keys, then times blocks of per new keys
// (each read first, as FinalizeBlock reads a device's key to refuse a
// duplicate, then written), blocks times, and returns the wall and CPU
// time per key of the timed part. Keys are 40 pseudo-random bytes and
// values 190 (a device's record), the same sequence for every writer.
func writeBlocks(b *testing.B, w blockWriter, base, per, blocks int) (wall, cpu float64) {
	rng := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // a benchmark's keys
	key := func() []byte {
		k := make([]byte, 40)
		for i := range k {
			k[i] = byte(rng.Uint32())
		}
		return k
	}
	val := bytes.Repeat([]byte{0xa5}, 190)
	block := func() {
		for range per {
			k := key()
			if v, err := w.get(k); err != nil || v != nil {
				b.Fatalf("get: %v %x", err, v)
			}
			binary.BigEndian.PutUint64(val, rng.Uint64())
			if err := w.set(k, val); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.commit(); err != nil {
			b.Fatal(err)
		}
	}
	for range base / per {
		block()
	}
	start, cpu0 := time.Now(), processCPU(b)
	for range blocks {
		block()
	}
	n := float64(per * blocks)
	return time.Since(start).Seconds() / n * 1e6, (processCPU(b) - cpu0).Seconds() / n * 1e6
}

// BenchmarkCommitPath compares ways of holding the state for the
// write and commit path of FinalizeBlock and Commit: blocks of new keys
// (BIAS_BENCH_BLOCK, default 2000: a bulk enrollment; 500 is a block of
// registrations) on a state of BIAS_BENCH_KEYS keys (default 100000),
// 20 timed blocks, in the same run: the Store as the node uses it; the
// Store with reads that walk the tree (storeTreeReads); the bare tree
// without the index; the tree with IAVL's fast-node index
// (which would replace the latest-value index); the bare tree with
// unsynced writes; and the flat alternative (flatWriter).
// BIAS_BENCH_TREE_NODES sizes the two Stores' node cache (the node's at
// the default budget is about 314,000: node.SplitCache). It reports
// µs of wall and of CPU per key for each and each one's CPU as a ratio
// to the Store's. Run with -benchtime 1x.
func BenchmarkCommitPath(b *testing.B) {
	base, per := benchEnv("BIAS_BENCH_KEYS", 100_000, 0), benchEnv("BIAS_BENCH_BLOCK", 2000, 1)
	var opts []Option
	if v := benchEnv("BIAS_BENCH_TREE_NODES", 0, 1); v > 0 {
		opts = append(opts, WithCaches(Caches{TreeNodes: v}))
	}
	const blocks = 20
	type variant struct {
		name string
		open func(dir string) blockWriter
	}
	variants := []variant{
		{"store", func(dir string) blockWriter {
			s, err := Open(dir, opts...)
			if err != nil {
				b.Fatal(err)
			}
			return storeWriter{s}
		}},
		{"store-treereads", func(dir string) blockWriter {
			s, err := Open(dir, opts...)
			if err != nil {
				b.Fatal(err)
			}
			return storeTreeReads{storeWriter{s}}
		}},
		{"tree", func(dir string) blockWriter { return openTree(b, dir, false, true) }},
		{"tree-fastnodes", func(dir string) blockWriter { return openTree(b, dir, true, true) }},
		{"tree-nosync", func(dir string) blockWriter { return openTree(b, dir, false, false) }},
		{"flat", func(dir string) blockWriter { return openFlat(b, filepath.Join(dir, "flat.db")) }},
	}
	for range b.N {
		var storeCPU float64
		for _, v := range variants {
			w := v.open(b.TempDir())
			wall, cpu := writeBlocks(b, w, base, per, blocks)
			if err := w.close(); err != nil {
				b.Fatal(err)
			}
			if v.name == "store" {
				storeCPU = cpu
			}
			b.ReportMetric(wall, v.name+"-µs/key")
			b.ReportMetric(cpu, v.name+"-cpu-µs/key")
			if v.name != "store" {
				b.ReportMetric(cpu/storeCPU, v.name+"/store-cpu")
			}
		}
	}
}

// BenchmarkPruneSpan measures what the span of kept versions costs a
// commit once the tree has outgrown its node cache, as a node's does at
// scale (docs/benchmarks.md, "Pruning while it is warm"): IAVL deletes a
// version by walking it against the next one, so the further back the
// deleted version, the more of its nodes have left the cache and are
// read back from leveldb. The blocks of BenchmarkCommitPath (N keys
// first, then 40 timed blocks; BIAS_BENCH_KEYS, BIAS_BENCH_BLOCK), on a
// node cache (BIAS_BENCH_TREE_NODES) that holds about a dozen blocks'
// new nodes and less than the tree, keeping every version (the
// baseline), the latest 2, 8 and 32.
func BenchmarkPruneSpan(b *testing.B) {
	base, per := benchEnv("BIAS_BENCH_KEYS", 50_000, 0), benchEnv("BIAS_BENCH_BLOCK", 250, 1)
	nodes := benchEnv("BIAS_BENCH_TREE_NODES", 50_000, 1)
	const blocks = 40
	for range b.N {
		var allCPU float64
		for _, keep := range []int64{0, 2, 8, 32} {
			s, err := Open(b.TempDir(), WithCaches(Caches{TreeNodes: nodes}), WithKeepVersions(keep))
			if err != nil {
				b.Fatal(err)
			}
			wall, cpu := writeBlocks(b, storeWriter{s}, base, per, blocks)
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			name := "keep" + strconv.FormatInt(keep, 10)
			if keep == 0 {
				name, allCPU = "keepall", cpu
			}
			b.ReportMetric(wall, name+"-µs/key")
			b.ReportMetric(cpu, name+"-cpu-µs/key")
			if keep != 0 {
				b.ReportMetric(cpu/allCPU, name+"/keepall-cpu")
			}
		}
	}
}

// benchEnv is the benchmark setting in the environment variable name, or
// def when it is unset, not a number or less than least.
func benchEnv(name string, def, least int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v >= least {
		return v
	}
	return def
}

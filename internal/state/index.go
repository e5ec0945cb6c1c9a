package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/cosmos/iavl"
	"github.com/syndtr/goleveldb/leveldb"
	lerrors "github.com/syndtr/goleveldb/leveldb/errors"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// index is the latest-value index beside the tree (latest.db, leveldb): a
// read of the latest version is one lookup instead of a walk down the
// tree. It is derived data: the tree is the truth, and the index is
// rebuilt from it whenever it cannot be trusted.
//
// It holds, besides the keys, a marker naming the version and root hash
// it is at. Open checks the marker against the tree and compares the
// index with the tree (all of it for a small state, random windows of a
// large one), and rebuilds it from scratch (a new leveldb) when it does
// not open, names another version, or differs. At run time, a failed read
// or write takes it out of use: reads go to the tree, commits skip it,
// and a mark file next to it makes the next Open rebuild it.
type index struct {
	path string // the leveldb directory
	opts *opt.Options
	log  *slog.Logger
	db   *leveldb.DB

	mu      sync.Mutex   // serialises changes of version (commits, failures)
	version atomic.Int64 // the newest version it answers for; -1 while none
	damaged atomic.Bool  // a read or a write failed: out of use until rebuilt

	// views are leveldb snapshots of the last keepViews versions, oldest
	// first: a read of a version that a commit has just passed (a
	// Precheck's snapshot, a resolution begun before the block) still
	// reads the index, not the tree, and so does one while the next
	// block's batch lands.
	vmu   sync.RWMutex
	views []indexView
}

// indexView is the index as it was at a version.
type indexView struct {
	version int64
	snap    *leveldb.Snapshot
}

// keepViews is how many versions the index answers for.
const keepViews = 3

// markerKey holds the index's marker (keys of the state are printable;
// this one is not): markerFormat, the version (8 bytes, big-endian) and
// the root hash of that version of the tree.
var markerKey = []byte{0}

// markerFormat is the index's format. An index of another format (before
// 1: a marker of the version alone) is rebuilt.
const markerFormat = 1

func marker(version int64, hash []byte) []byte {
	b := binary.BigEndian.AppendUint64([]byte{markerFormat}, uint64(version))
	return append(b, hash...)
}

// damageMark is the file, next to the index, that says a read or write of
// it failed: the next open rebuilds it.
func damageMark(path string) string { return path + ".damaged" }

const (
	// fullCheck is the size of state up to which Open compares the whole
	// index with the tree; above it, checkWindows windows of checkWindow
	// consecutive keys at random places.
	fullCheck    = 4096
	checkWindows = 64
	checkWindow  = 4
)

// openIndex opens the index in path for latest, the tree's last version
// (nil before the first), checks it, and rebuilds it if it cannot be
// trusted.
func openIndex(path string, latest *iavl.ImmutableTree, opts *opt.Options, log *slog.Logger) (*index, error) {
	ix := &index{path: path, opts: opts, log: log}
	version, hash := int64(0), []byte(nil)
	if latest != nil {
		version, hash = latest.Version(), latest.Hash()
	}
	var reason string
	if _, err := os.Stat(damageMark(path)); err == nil {
		reason = "a read or write of it failed"
	}
	db, err := leveldb.OpenFile(path, ix.opts)
	switch {
	case err != nil && !lerrors.IsCorrupted(err):
		return nil, fmt.Errorf("open latest-value index: %w", err)
	case err != nil:
		reason = "it does not open: " + err.Error()
	case reason == "":
		ix.db = db
		reason = ix.check(latest, marker(version, hash))
	}
	if reason != "" {
		if latest != nil { // (a new store has nothing to rebuild)
			log.Warn("rebuilding the latest-value index from the tree", "reason", reason, "version", version)
		}
		if db != nil {
			_ = db.Close() // it goes: a failed close changes nothing
			ix.db = nil
		}
		if err := ix.rebuild(latest, marker(version, hash)); err != nil {
			if ix.db != nil {
				err = errors.Join(err, ix.db.Close())
			}
			return nil, err
		}
	}
	if err := ix.answer(version); err != nil {
		return nil, errors.Join(err, ix.db.Close())
	}
	return ix, nil
}

// answer makes the index answer for version, its newest, and forgets the
// views of versions more than keepViews back. The caller holds ix.mu or
// owns the index.
func (ix *index) answer(version int64) error {
	snap, err := ix.db.GetSnapshot()
	if err != nil {
		return fmt.Errorf("latest-value index: snapshot of version %d: %w", version, err)
	}
	ix.vmu.Lock()
	ix.views = append(ix.views, indexView{version, snap})
	for len(ix.views) > keepViews {
		ix.views[0].snap.Release()
		ix.views = ix.views[1:]
	}
	ix.vmu.Unlock()
	ix.version.Store(version)
	return nil
}

// dropViews forgets every view: the index answers for no version.
func (ix *index) dropViews() {
	ix.version.Store(-1)
	ix.vmu.Lock()
	defer ix.vmu.Unlock()
	for _, v := range ix.views {
		v.snap.Release()
	}
	ix.views = nil
}

// check compares the index with the tree and says why it cannot be
// trusted ("" if it can). Its reads do not fill the block cache.
func (ix *index) check(latest *iavl.ImmutableTree, want []byte) string {
	ro := &opt.ReadOptions{DontFillCache: true}
	got, err := ix.db.Get(markerKey, ro)
	switch {
	case errors.Is(err, leveldb.ErrNotFound):
		return "it has no marker"
	case err != nil:
		return "its marker does not read: " + err.Error()
	case !bytes.Equal(got, want):
		return "its marker names another version or format"
	}
	var size int64
	if latest != nil {
		size = latest.Size()
	}
	it := ix.db.NewIterator(&util.Range{Start: []byte{1}}, ro) // past the marker
	defer it.Release()
	// window compares n entries of the index with the tree's from
	// position i (all of them from the first when n < 0).
	window := func(i int64, n int) string {
		var ok bool
		if n < 0 {
			ok = it.First()
		} else {
			k, _, err := latest.GetByIndex(i)
			if err != nil {
				return "the tree does not read: " + err.Error()
			}
			ok = it.Seek(k)
		}
		for j := int64(0); (n < 0 || j < int64(n)) && i+j < size; j++ {
			k, v, err := latest.GetByIndex(i + j)
			if err != nil {
				return "the tree does not read: " + err.Error()
			}
			if !ok || !bytes.Equal(it.Key(), k) || !bytes.Equal(it.Value(), v) {
				return fmt.Sprintf("it differs from the tree at key %d of %d", i+j, size)
			}
			ok = it.Next()
		}
		if err := it.Error(); err != nil {
			return "it does not read: " + err.Error()
		}
		if n < 0 && ok {
			return fmt.Sprintf("it holds more than the tree's %d keys", size)
		}
		return ""
	}
	if size <= fullCheck {
		return window(0, -1)
	}
	for range checkWindows {
		if why := window(rand.Int64N(size), checkWindow); why != "" { //nolint:gosec // a sample, not a secret
			return why
		}
	}
	return ""
}

// rebuild replaces the index with a new one that holds latest's keys, and
// the marker want last (synced): a rebuild cut short leaves an index
// without a marker, rebuilt again at the next open.
func (ix *index) rebuild(latest *iavl.ImmutableTree, want []byte) error {
	if err := os.RemoveAll(ix.path); err != nil {
		return fmt.Errorf("remove latest-value index: %w", err)
	}
	db, err := leveldb.OpenFile(ix.path, ix.opts)
	if err != nil {
		return fmt.Errorf("create latest-value index: %w", err)
	}
	ix.db = db
	batch := new(leveldb.Batch)
	if latest != nil {
		var werr error
		_, err := latest.Iterate(func(k, v []byte) bool {
			batch.Put(k, v)
			if batch.Len() >= 10_000 {
				werr = db.Write(batch, nil)
				batch.Reset()
			}
			return werr != nil
		})
		if err != nil || werr != nil {
			return fmt.Errorf("rebuild latest-value index: %w", errors.Join(err, werr))
		}
	}
	batch.Put(markerKey, want)
	if err := db.Write(batch, &opt.WriteOptions{Sync: true}); err != nil {
		return fmt.Errorf("rebuild latest-value index: %w", err)
	}
	if err := os.Remove(damageMark(ix.path)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("rebuild latest-value index: %w", err)
	}
	return nil
}

// get reads key at version; ok is false when the index does not answer
// for version (one of the last keepViews committed; or the read failed:
// the caller reads the tree).
func (ix *index) get(key []byte, version int64) (value []byte, ok bool) {
	if ix.damaged.Load() {
		return nil, false
	}
	var err error
	found := false
	ix.vmu.RLock()
	for i := len(ix.views) - 1; i >= 0; i-- {
		if ix.views[i].version == version {
			value, err = ix.views[i].snap.Get(key, nil)
			found = true
			break
		}
	}
	ix.vmu.RUnlock()
	switch {
	case !found:
		return nil, false
	case errors.Is(err, leveldb.ErrNotFound):
		return nil, true
	case errors.Is(err, leveldb.ErrClosed), errors.Is(err, leveldb.ErrSnapshotReleased):
		return nil, false // the store is closing
	case err != nil:
		ix.fail("read", err)
		return nil, false
	}
	return value, true
}

// commit writes a block's writes (nil values delete) and the marker of
// the version they make, in one batch. A failure takes the index out of
// use; the tree has the block, so the commit goes on.
func (ix *index) commit(writes map[string][]byte, version int64, hash []byte) {
	if ix.damaged.Load() {
		return
	}
	// (Map order does not matter here: a batch applies as a whole.)
	batch := new(leveldb.Batch)
	for k, v := range writes {
		if v == nil {
			batch.Delete([]byte(k))
		} else {
			batch.Put([]byte(k), v)
		}
	}
	batch.Put(markerKey, marker(version, hash))
	// (While the batch lands, the views of the versions before serve.)
	ix.mu.Lock() // (a View taken meanwhile is of the version before)
	defer ix.mu.Unlock()
	// Synced: a block's reads trust the index (Store.Get), so a crash of
	// the machine must not lose one version's batch and keep the next's
	// (with its marker). The tree's version is synced before it.
	err := ix.db.Write(batch, &opt.WriteOptions{Sync: true})
	if err != nil {
		ix.failLocked("write", err)
		return
	}
	if ix.damaged.Load() {
		return
	}
	if err := ix.answer(version); err != nil {
		ix.failLocked("snapshot", err)
	}
}

// fail takes the index out of use after a failed read or write, and
// marks it for the next open to rebuild.
func (ix *index) fail(what string, err error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.failLocked(what, err)
}

func (ix *index) failLocked(what string, err error) {
	if ix.damaged.Swap(true) {
		return
	}
	ix.dropViews()
	ix.log.Error("latest-value index damaged: reads use the tree; the next start rebuilds it", "op", what, "err", err)
	if err := writeMark(damageMark(ix.path)); err != nil {
		// Without the mark, a start at another version than the index's
		// still rebuilds it; at the same one, its check may miss this.
		ix.log.Error("cannot mark the latest-value index for rebuild", "err", err)
	}
}

// writeMark creates the file f, synced.
func writeMark(f string) error {
	fh, err := os.Create(filepath.Clean(f))
	if err != nil {
		return err
	}
	_, err = fh.WriteString("the latest-value index failed; the next start rebuilds it from the tree\n")
	return errors.Join(err, fh.Sync(), fh.Close())
}

func (ix *index) close() error {
	ix.dropViews()
	return ix.db.Close()
}

// ErrNoView is the error of LatestView while the latest-value index is out
// of use (a read or write of it failed): the tree has every version.
var ErrNoView = errors.New("the latest-value index is out of use")

// View is the latest-value index as it was at one committed version, held
// until Release: a scan of it sees that version whatever commits and
// prunes meanwhile, reading leveldb in key order, not the tree.
type View struct {
	version int64
	snap    *leveldb.Snapshot
}

// LatestView returns the index at the last committed version; ErrNoView
// while it is out of use. The caller releases it.
func (s *Store) LatestView() (*View, error) {
	ix := s.index
	ix.mu.Lock()
	defer ix.mu.Unlock()
	v := ix.version.Load()
	if ix.damaged.Load() || v < 0 || v != s.Version() {
		return nil, ErrNoView
	}
	snap, err := ix.db.GetSnapshot()
	if err != nil {
		return nil, fmt.Errorf("latest-value index: %w", err)
	}
	return &View{version: v, snap: snap}, nil
}

// Version is the committed version the view is of.
func (v *View) Version() int64 { return v.version }

// Iterate calls fn for each key from start up to end (exclusive), in key
// order, until fn returns false.
func (v *View) Iterate(start, end []byte, fn func(k, v []byte) bool) error {
	it := v.snap.NewIterator(&util.Range{Start: start, Limit: end}, &opt.ReadOptions{DontFillCache: true})
	defer it.Release()
	for it.Next() {
		if !fn(it.Key(), it.Value()) {
			break
		}
	}
	return it.Error()
}

// Release lets the view go.
func (v *View) Release() { v.snap.Release() }

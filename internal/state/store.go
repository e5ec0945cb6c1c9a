// Package state is the registry's Merkle state: an IAVL tree on disk whose
// root hash is the ledger's app hash. One version is saved per block; a
// block that changes nothing saves a version with the same root hash, so
// empty blocks leave the app hash unchanged.
//
// The working tree is written only by the consensus connection (one
// goroutine); committed versions are read concurrently through Snapshot.
// IAVL shares in-memory nodes between the working tree and committed
// versions and detaches children of shared nodes when it copies them on
// write, so writes to the working tree and snapshot reads exclude each
// other (a read-write lock; each write is one short tree update).
package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/cosmos/iavl"
	idb "github.com/cosmos/iavl/db"
	ics23 "github.com/cosmos/ics23/go"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// Reader reads keys. Both the working tree and snapshots are Readers.
type Reader interface {
	Get(key []byte) ([]byte, error)
}

// ErrNoVersion is returned for a height the store does not hold.
var ErrNoVersion = errors.New("no such version")

// Store is the Merkle state.
type Store struct {
	db   *idb.GoLevelDB
	tree *iavl.MutableTree

	// flat is an index of the latest value of every key, beside the tree:
	// a read of the latest version is one leveldb lookup instead of a walk
	// down the tree. It is written once per commit (the block's writes in
	// one batch) and names the version it holds; a snapshot uses it only
	// when that is its own version, and Open rebuilds it from the tree when
	// a crash left it behind. Proofs and past versions read the tree.
	flat        *leveldb.DB
	flatVersion atomic.Int64
	pending     map[string]flatWrite // this block's writes

	mu     sync.RWMutex        // guards latest
	tmu    sync.RWMutex        // working-tree writes (W) vs snapshot reads (R)
	latest *iavl.ImmutableTree // last committed version
}

// Open opens (or creates) the store in dir.
func Open(dir string) (*Store, error) {
	// A larger block cache and write buffer than goleveldb's defaults (8
	// and 4 MiB): reads of a large state hit memory, and bulk writes
	// compact less often.
	db, err := idb.NewGoLevelDBWithOpts("state", filepath.Clean(dir), &opt.Options{
		BlockCacheCapacity: 256 << 20,
		WriteBuffer:        64 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("open state db: %w", err)
	}
	// No fast-node index (skipFastStorageUpgrade = true): it doubles the
	// writes of every set, and at a million entities made bulk enrollment
	// three times slower; reads walk the tree instead, through a cache of
	// up to 2M nodes (a million entities' tree), measured in
	// docs/benchmarks.md. Every version is saved with a synced write.
	tree := iavl.NewMutableTree(db, 2_000_000, true, iavl.NewNopLogger(), iavl.SyncOption(true))
	if _, err := tree.Load(); err != nil {
		return nil, errors.Join(fmt.Errorf("load state: %w", err), db.Close())
	}
	flat, err := leveldb.OpenFile(filepath.Join(filepath.Clean(dir), "latest.db"), &opt.Options{BlockCacheCapacity: 128 << 20})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open latest-value index: %w", err), db.Close())
	}
	s := &Store{db: db, tree: tree, flat: flat, pending: map[string]flatWrite{}}
	if err := s.refresh(); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	if err := s.loadFlat(); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// flatWrite is a pending write of the index.
type flatWrite struct {
	value   []byte
	deleted bool
}

// flatVersionKey holds the version the index is at (keys of the state are
// printable; this one is not).
var flatVersionKey = []byte{0}

// loadFlat checks the index's version against the tree's and rebuilds the
// index from the tree when they differ.
func (s *Store) loadFlat() error {
	v := s.tree.Version()
	b, err := s.flat.Get(flatVersionKey, nil)
	if err == nil && len(b) == 8 && int64(binary.BigEndian.Uint64(b)) == v {
		s.flatVersion.Store(v)
		return nil
	}
	// Rebuild: drop what is there, copy the latest version of the tree.
	it := s.flat.NewIterator(nil, nil)
	batch := new(leveldb.Batch)
	for it.Next() {
		batch.Delete(append([]byte(nil), it.Key()...))
	}
	it.Release()
	if err := s.flat.Write(batch, nil); err != nil {
		return err
	}
	batch.Reset()
	if latest := s.Latest(); latest.t != nil {
		var werr error
		_, err := latest.t.Iterate(func(k, val []byte) bool {
			batch.Put(k, val)
			if batch.Len() >= 10_000 {
				werr = s.flat.Write(batch, nil)
				batch.Reset()
			}
			return werr != nil
		})
		if err != nil || werr != nil {
			return fmt.Errorf("rebuild latest-value index: %w", errors.Join(err, werr))
		}
	}
	batch.Put(flatVersionKey, binary.BigEndian.AppendUint64(nil, uint64(v)))
	if err := s.flat.Write(batch, &opt.WriteOptions{Sync: true}); err != nil {
		return err
	}
	s.flatVersion.Store(v)
	return nil
}

func (s *Store) refresh() error {
	v := s.tree.Version()
	if v == 0 {
		return nil // nothing committed: Latest is the empty snapshot
	}
	im, err := s.tree.GetImmutable(v)
	if err != nil {
		return fmt.Errorf("load version %d: %w", v, err)
	}
	s.mu.Lock()
	s.latest = im
	s.mu.Unlock()
	return nil
}

// Close closes the databases.
func (s *Store) Close() error {
	err := s.flat.Close()
	if e := s.db.Close(); e != nil {
		err = e
	}
	return err
}

// Get reads the working tree (uncommitted writes included).
func (s *Store) Get(key []byte) ([]byte, error) { return s.tree.Get(key) }

// Set writes to the working tree.
func (s *Store) Set(key, value []byte) error {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	_, err := s.tree.Set(key, value)
	if err == nil {
		s.pending[string(key)] = flatWrite{value: append([]byte{}, value...)}
	}
	return err
}

// Delete removes a key from the working tree.
func (s *Store) Delete(key []byte) error {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	_, _, err := s.tree.Remove(key)
	if err == nil {
		s.pending[string(key)] = flatWrite{deleted: true}
	}
	return err
}

// WorkingHash is the root hash of the working tree: the app hash that a
// commit will save.
func (s *Store) WorkingHash() []byte {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	return s.tree.WorkingHash()
}

// Commit saves the working tree as the next version.
func (s *Store) Commit() (hash []byte, version int64, err error) {
	s.tmu.Lock()
	hash, version, err = s.tree.SaveVersion()
	pending := s.pending
	s.pending = map[string]flatWrite{}
	s.tmu.Unlock()
	if err != nil {
		return nil, 0, fmt.Errorf("save version: %w", err)
	}
	if err := s.refresh(); err != nil {
		return nil, 0, err
	}
	// The block's writes into the index, in one batch, with its version.
	// (Map order does not matter here: a batch applies as a whole.)
	batch := new(leveldb.Batch)
	for k, w := range pending {
		if w.deleted {
			batch.Delete([]byte(k))
		} else {
			batch.Put([]byte(k), w.value)
		}
	}
	batch.Put(flatVersionKey, binary.BigEndian.AppendUint64(nil, uint64(version)))
	s.flatVersion.Store(-1) // while the batch lands, readers use the tree
	if err := s.flat.Write(batch, nil); err != nil {
		return nil, 0, fmt.Errorf("latest-value index: %w", err)
	}
	s.flatVersion.Store(version)
	return hash, version, nil
}

// Rollback drops uncommitted writes.
func (s *Store) Rollback() {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	s.tree.Rollback()
	s.pending = map[string]flatWrite{}
}

// Version is the last committed version (0 before the first); safe for
// concurrent use.
func (s *Store) Version() int64 { return s.Latest().Version() }

// Hash is the root hash of the last committed version; safe for
// concurrent use.
func (s *Store) Hash() []byte { return s.Latest().Hash() }

// Latest returns the last committed version as a read-only snapshot, safe
// for concurrent use.
func (s *Store) Latest() *Snapshot {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return &Snapshot{t: s.latest, mu: &s.tmu, store: s}
}

// At returns committed version v as a read-only snapshot.
func (s *Store) At(v int64) (*Snapshot, error) {
	if v <= 0 || !s.tree.VersionExists(v) {
		return nil, fmt.Errorf("%w: %d", ErrNoVersion, v)
	}
	s.tmu.RLock()
	im, err := s.tree.GetImmutable(v)
	s.tmu.RUnlock()
	if err != nil {
		return nil, err
	}
	return &Snapshot{t: im, mu: &s.tmu}, nil
}

// Snapshot is a committed version of the state. The snapshot of version 0
// (before the first block) is empty.
type Snapshot struct {
	t     *iavl.ImmutableTree
	mu    *sync.RWMutex
	store *Store // set for the latest version: its reads may use the index
}

// Version is the snapshot's version (block height).
func (s *Snapshot) Version() int64 {
	if s.t == nil {
		return 0
	}
	return s.t.Version()
}

// Hash is the snapshot's root hash.
func (s *Snapshot) Hash() []byte {
	if s.t == nil {
		return nil
	}
	return s.t.Hash()
}

// Get reads a key; nil if absent.
func (s *Snapshot) Get(key []byte) ([]byte, error) {
	if s.t == nil {
		return nil, nil
	}
	if s.store != nil && s.store.flatVersion.Load() == s.t.Version() {
		v, err := s.store.flat.Get(key, nil)
		if errors.Is(err, leveldb.ErrNotFound) {
			v, err = nil, nil
		}
		// The index may have moved past this version meanwhile: only an
		// answer read while it was still at it counts.
		if s.store.flatVersion.Load() == s.t.Version() {
			return v, err
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.t.Get(key)
}

// Prove returns the value at key (nil if absent) and an ICS23 proof of its
// membership (or absence) under the snapshot's root hash.
func (s *Snapshot) Prove(key []byte) ([]byte, *ics23.CommitmentProof, error) {
	if s.t == nil {
		return nil, nil, fmt.Errorf("%w: 0", ErrNoVersion)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, err := s.t.Get(key)
	if err != nil {
		return nil, nil, err
	}
	p, err := s.t.GetProof(key)
	if err != nil {
		return nil, nil, fmt.Errorf("prove: %w", err)
	}
	return v, p, nil
}

// Iterate calls fn for each key in [start, end) in ascending order until fn
// returns false.
func (s *Snapshot) Iterate(start, end []byte, fn func(k, v []byte) bool) (err error) {
	if s.t == nil {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	it, err := s.t.Iterator(start, end, true)
	if err != nil {
		return err
	}
	defer func() {
		// Close returns the iterator's error again (iavl): keep the first.
		if cerr := it.Close(); err == nil {
			err = cerr
		}
	}()
	for ; it.Valid(); it.Next() {
		if !fn(it.Key(), it.Value()) {
			break
		}
	}
	return it.Error()
}

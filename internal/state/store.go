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
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/cosmos/iavl"
	idb "github.com/cosmos/iavl/db"
	ics23 "github.com/cosmos/ics23/go"
)

// Reader reads keys. Both the working tree and snapshots are Readers.
type Reader interface {
	Get(key []byte) ([]byte, error)
}

// ErrNoVersion is returned for a height the store does not hold.
var ErrNoVersion = errors.New("no such version")

// ErrPruned is returned for a height below the versions the store keeps
// (WithKeepVersions); errors.Is(err, ErrNoVersion) holds for it too.
var ErrPruned = fmt.Errorf("%w (pruned)", ErrNoVersion)

// Store is the Merkle state.
type Store struct {
	db   *idb.GoLevelDB
	tree *iavl.MutableTree

	// index holds the latest value of every key, beside the tree
	// (index.go): written once per commit (the block's writes in one
	// batch), it names the version it holds; a snapshot uses it only when
	// that is its own version. Proofs and past versions read the tree.
	index   *index
	pending map[string][]byte // this block's writes (nil: deleted)

	mu     sync.RWMutex        // guards latest
	tmu    sync.RWMutex        // working-tree writes (W) vs snapshot reads (R)
	latest *iavl.ImmutableTree // last committed version

	// keep is how many versions to keep (0: all; prune.go), first the
	// lowest version held.
	keep  int64
	first atomic.Int64
	log   *slog.Logger
	// exportHold is the version an export reads (export.go), kept from
	// pruning meanwhile; 0: none.
	exportHold atomic.Int64
	caches     Caches // the sizes it was opened with (cache.go)
}

// Option configures Open.
type Option func(*options)

type options struct {
	log    *slog.Logger
	keep   int64
	caches Caches
}

// WithLogger logs what the store repairs (a rebuilt index) and the
// failures it survives; the default discards them.
func WithLogger(log *slog.Logger) Option { return func(o *options) { o.log = log } }

// Open opens (or creates) the store in dir. It checks the latest-value
// index against the tree and rebuilds it when it cannot be trusted (a
// crash left it behind, its files are damaged, it differs).
func Open(dir string, opts ...Option) (*Store, error) {
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		f(&o)
	}
	// The caches (cache.go) come from the node's memory budget: a large
	// block cache makes reads of a large state hit memory, and a large
	// write buffer makes bulk writes compact less often.
	caches := o.caches.withDefaults()
	db, err := idb.NewGoLevelDBWithOpts("state", filepath.Clean(dir), caches.treeOptions())
	if err != nil {
		return nil, fmt.Errorf("open state db: %w", err)
	}
	if err := dropUnfinishedImport(filepath.Clean(dir), db); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	// No fast-node index (skipFastStorageUpgrade = true): it doubles the
	// writes of every set, and at a million entities made bulk enrollment
	// three times slower; reads walk the tree instead, through the node
	// cache (caches.TreeNodes), measured in docs/benchmarks.md. Every
	// version is saved with a synced write.
	tree := iavl.NewMutableTree(db, caches.TreeNodes, true, iavl.NewNopLogger(), iavl.SyncOption(true))
	if _, err := tree.Load(); err != nil {
		return nil, errors.Join(fmt.Errorf("load state: %w", err), db.Close())
	}
	s := &Store{db: db, tree: tree, pending: map[string][]byte{}, keep: o.keep, log: o.log, caches: caches}
	if err := s.refresh(); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	s.first.Store(s.firstVersion())
	s.index, err = openIndex(filepath.Join(filepath.Clean(dir), "latest.db"), s.Latest().t, caches.indexOptions(), o.log)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return s, nil
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
	err := s.index.close()
	if e := s.db.Close(); e != nil {
		err = e
	}
	return err
}

// Get reads the working tree (uncommitted writes included): this block's
// writes, then the latest-value index at the last committed version (one
// lookup, where the tree would walk down to the key: for a key that does
// not exist yet, as each enrolled device's, all the way), then the tree.
// The working tree is the last committed version plus this block's
// writes, so the answer is the tree's.
func (s *Store) Get(key []byte) ([]byte, error) {
	s.tmu.RLock()
	v, ok := s.pending[string(key)]
	base := s.Version() // (Commit moves it with pending, under tmu)
	s.tmu.RUnlock()
	if ok {
		return bytes.Clone(v), nil
	}
	if v, ok := s.index.get(key, base); ok {
		return v, nil
	}
	return s.tree.Get(key)
}

// Set writes to the working tree.
func (s *Store) Set(key, value []byte) error {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	_, err := s.tree.Set(key, value)
	if err == nil {
		s.pending[string(key)] = append([]byte{}, value...)
	}
	return err
}

// Delete removes a key from the working tree.
func (s *Store) Delete(key []byte) error {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	_, _, err := s.tree.Remove(key)
	if err == nil {
		s.pending[string(key)] = nil
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
	s.pending = map[string][]byte{}
	if err == nil {
		// With pending emptied, Get's base must be the new version.
		err = s.refresh()
	} else {
		err = fmt.Errorf("save version: %w", err)
	}
	s.tmu.Unlock()
	if err != nil {
		return nil, 0, err
	}
	s.index.commit(pending, version, hash)
	s.prune(version)
	return hash, version, nil
}

// Rollback drops uncommitted writes.
func (s *Store) Rollback() {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	s.tree.Rollback()
	s.pending = map[string][]byte{}
}

// Version is the last committed version (0 before the first); safe for
// concurrent use.
func (s *Store) Version() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.latest == nil {
		return 0
	}
	return s.latest.Version()
}

// Hash is the root hash of the last committed version; safe for
// concurrent use.
func (s *Store) Hash() []byte { return s.Latest().Hash() }

// Latest returns the last committed version as a read-only snapshot, safe
// for concurrent use.
func (s *Store) Latest() *Snapshot {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return &Snapshot{t: s.latest, mu: &s.tmu, store: s, first: &s.first}
}

// At returns committed version v as a read-only snapshot.
func (s *Store) At(v int64) (*Snapshot, error) {
	s.tmu.RLock()
	if first := s.first.Load(); v > 0 && v < first {
		s.tmu.RUnlock()
		return nil, fmt.Errorf("%w: %d (this node keeps the state from height %d)", ErrPruned, v, first)
	}
	if v <= 0 || !s.tree.VersionExists(v) {
		s.tmu.RUnlock()
		return nil, fmt.Errorf("%w: %d", ErrNoVersion, v)
	}
	im, err := s.tree.GetImmutable(v)
	s.tmu.RUnlock()
	if err != nil {
		return nil, err
	}
	return &Snapshot{t: im, mu: &s.tmu, first: &s.first}, nil
}

// Snapshot is a committed version of the state. The snapshot of version 0
// (before the first block) is empty.
type Snapshot struct {
	t     *iavl.ImmutableTree
	mu    *sync.RWMutex
	store *Store // set for the latest version: its reads may use the index
	first *atomic.Int64
}

// failed names the error of a read whose version was pruned meanwhile
// (a read that began as its version was the oldest kept).
func (s *Snapshot) failed(err error) error {
	if err != nil && s.first != nil && s.t.Version() < s.first.Load() {
		return fmt.Errorf("%w: %d", ErrPruned, s.t.Version())
	}
	return err
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
	if s.store != nil {
		if v, ok := s.store.index.get(key, s.t.Version()); ok {
			return v, nil
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, err := s.t.Get(key)
	return v, s.failed(err)
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
		return nil, nil, s.failed(err)
	}
	p, err := s.t.GetProof(key)
	if err != nil {
		return nil, nil, s.failed(fmt.Errorf("prove: %w", err))
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
		return s.failed(err)
	}
	defer func() {
		// Close returns the iterator's error again (iavl): keep the first.
		if cerr := it.Close(); err == nil {
			err = cerr
		}
		err = s.failed(err)
	}()
	for ; it.Valid(); it.Next() {
		if !fn(it.Key(), it.Value()) {
			break
		}
	}
	return it.Error()
}

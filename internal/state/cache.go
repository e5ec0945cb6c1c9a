package state

import (
	"github.com/syndtr/goleveldb/leveldb/filter"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// Caches sizes the store's memory: the IAVL node cache and the block
// caches and write buffers of its two leveldb databases (the tree's and
// the latest-value index's). A node derives them from its memory budget
// (node.Config.CacheMB); zero fields take DefaultCaches' values.
type Caches struct {
	// TreeNodes is how many IAVL nodes the tree keeps in memory.
	TreeNodes int
	// TreeBlockCache and TreeWriteBuffer are the tree database's leveldb
	// block cache and write buffer, in bytes (leveldb holds up to two
	// write buffers while one is being flushed).
	TreeBlockCache, TreeWriteBuffer int
	// IndexBlockCache and IndexWriteBuffer are the latest-value index's.
	IndexBlockCache, IndexWriteBuffer int
}

// DefaultCaches are the sizes of a store opened without WithCaches (the
// sizes that were fixed before the memory budget).
var DefaultCaches = Caches{
	TreeNodes:      2_000_000,
	TreeBlockCache: 256 << 20, TreeWriteBuffer: 64 << 20,
	IndexBlockCache: 128 << 20, IndexWriteBuffer: 4 << 20,
}

// WithCaches sizes the store's caches (Caches).
func WithCaches(c Caches) Option { return func(o *options) { o.caches = c } }

// withDefaults fills the zero fields from DefaultCaches.
func (c Caches) withDefaults() Caches {
	d := DefaultCaches
	for _, f := range []struct{ v, def *int }{
		{&c.TreeNodes, &d.TreeNodes}, {&c.TreeBlockCache, &d.TreeBlockCache}, {&c.TreeWriteBuffer, &d.TreeWriteBuffer},
		{&c.IndexBlockCache, &d.IndexBlockCache}, {&c.IndexWriteBuffer, &d.IndexWriteBuffer},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return c
}

// Both databases keep a Bloom filter of 10 bits a key in each table: a
// read of an absent key (every device of a bulk enrollment is looked up
// before it is written, and is new) then reads no data block of the
// tables that lack it. Tables written before the filter have none and
// are read as before.
func (c Caches) treeOptions() *opt.Options {
	return &opt.Options{BlockCacheCapacity: c.TreeBlockCache, WriteBuffer: c.TreeWriteBuffer, Filter: filter.NewBloomFilter(10)}
}

// indexOptions: the latest-value index also opens strictly (StrictJournal):
// a damaged journal fails the open, and the index is rebuilt from the
// tree, where leveldb by default would drop the damaged part and go on.
// A block's reads trust the index (Store.Get), so it must never hold a
// version's marker without all of that version's writes.
func (c Caches) indexOptions() *opt.Options {
	return &opt.Options{BlockCacheCapacity: c.IndexBlockCache, WriteBuffer: c.IndexWriteBuffer, Filter: filter.NewBloomFilter(10),
		Strict: opt.DefaultStrict | opt.StrictJournal}
}

// Caches returns the sizes the store was opened with.
func (s *Store) Caches() Caches { return s.caches }

package node

import (
	"cmp"
	"fmt"

	"github.com/bias-iot/bias/internal/ledger/cometledger"
	"github.com/bias-iot/bias/internal/registry"
	"github.com/bias-iot/bias/internal/state"
)

// The memory budget (Config.CacheMB, docs/operations.md "Memory").
const (
	// DefaultCacheMB is the budget of a configuration that sets none.
	DefaultCacheMB = 512
	// MinCacheMB and MaxCacheMB bound Config.CacheMB.
	MinCacheMB = 64
	MaxCacheMB = 1 << 20
	// FixedOverheadMB is what a node takes beyond its budget, measured
	// (docs/benchmarks.md, "Memory"): the Go runtime and the code,
	// CometBFT's own stores (block store, state, evidence: goleveldb's
	// default 8 MiB cache and 4 MiB write buffers each), its mempool's
	// cache of seen hashes, HTTP connections and goroutines.
	FixedOverheadMB = 256
	// iavlNodeBytes is what one IAVL node held in the node cache takes
	// in memory, about: the node (key, hash, child keys, a leaf's
	// value of ~200 bytes) and its cache entry.
	iavlNodeBytes = 512
	// programBytes is what one compiled contract takes, at most about.
	programBytes = 64 << 10
)

// Caches is how a memory budget is split between the caches of a node
// (SplitCache).
type Caches struct {
	State    state.Caches
	Registry registry.Caches
	Mempool  cometledger.Mempool
}

// SplitCache splits a budget of mb MiB between the caches that grow with
// the state or the load: in per cent of the budget, the IAVL node cache
// 30, the tree database's block cache 15 and write buffer 4 (leveldb
// holds two while it flushes one: 8), the latest-value index's block
// cache 15 and write buffer 1 (2), the cache of checked operations 10,
// the mempool's bytes 15 and the compiled contracts 5.
func SplitCache(mb int) Caches {
	b := int64(mb) << 20
	pc := func(p int64) int { return int(b * p / 100) }
	mempool := b * 15 / 100
	return Caches{
		State: state.Caches{
			TreeNodes:      pc(30) / iavlNodeBytes,
			TreeBlockCache: pc(15), TreeWriteBuffer: max(pc(4), 512<<10),
			IndexBlockCache: pc(15), IndexWriteBuffer: max(pc(1), 512<<10),
		},
		Registry: registry.Caches{
			OpEntries: min(max(pc(10)>>10, 1024), 1<<16), OpBytes: pc(10),
			Programs: max(pc(5)/programBytes, 16),
		},
		Mempool: cometledger.Mempool{
			Txs:   int(min(max(mempool>>12, 1000), 20000)),
			Bytes: mempool,
			Cache: 100_000,
		},
	}
}

// MemoryLimitBytes is the Go runtime's soft memory limit that `bias node`
// sets for a budget of mb MiB (0: the default) unless GOMEMLIMIT is set:
// the budget, a
// quarter more for the garbage collector's headroom, and the fixed
// overhead. Past it the collector runs more often, so that the process
// stays near it instead of growing to twice its live memory.
func MemoryLimitBytes(mb int) int64 {
	return (int64(cmp.Or(mb, DefaultCacheMB))*5/4 + FixedOverheadMB) << 20
}

// cacheMB is the budget of c: CacheMB, or the default for 0.
func (c Config) cacheMB() int { return cmp.Or(c.CacheMB, DefaultCacheMB) }

func validCacheMB(mb int) error {
	if mb != 0 && (mb < MinCacheMB || mb > MaxCacheMB) {
		return fmt.Errorf("cacheMB: %d is outside %d to %d (MiB)", mb, MinCacheMB, MaxCacheMB)
	}
	return nil
}

// Caches returns the sizes each cache of the running node was given,
// read back from the store, the application and the consensus engine.
func (n *Node) Caches() Caches {
	c := Caches{State: n.st.Caches(), Registry: n.app.Caches()}
	if cl, ok := n.led.(*cometledger.Ledger); ok { // the EVM engine has no mempool
		c.Mempool = cl.Mempool()
	}
	return c
}

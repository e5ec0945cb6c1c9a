package registry

import (
	"cmp"
	"sync"
	"sync/atomic"

	"github.com/bias-iot/bias/internal/contract"
	"github.com/bias-iot/bias/internal/state"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// Caches sizes the application's caches; a node derives them from its
// memory budget (node.Config.CacheMB). Zero fields keep New's sizes
// (DefaultCaches).
type Caches struct {
	// OpEntries and OpBytes bound the cache of checked operations.
	OpEntries, OpBytes int
	// Programs bounds the cache of compiled contracts.
	Programs int
}

// DefaultCaches are New's sizes.
var DefaultCaches = Caches{OpEntries: 1 << 16, OpBytes: 256 << 20, Programs: 4096}

// WithCaches sizes the application's caches.
func WithCaches(c Caches) Option {
	return func(a *App) {
		d := a.Caches()
		if c.OpEntries > 0 || c.OpBytes > 0 {
			a.ops = newOpCache(cmp.Or(c.OpEntries, d.OpEntries), cmp.Or(c.OpBytes, d.OpBytes))
		}
		if c.Programs > 0 {
			a.programs = contract.NewCache(c.Programs)
		}
	}
}

// Caches returns the sizes of the application's caches.
func (a *App) Caches() Caches {
	return Caches{OpEntries: a.ops.max, OpBytes: a.ops.maxBytes, Programs: a.programs.Max()}
}

// opCache remembers operations that passed a check (Precheck, CheckTx):
// the decoded operation and the key its signature verified with, by
// transaction hash, so that recheck and FinalizeBlock neither decode nor
// verify them again. Only accepted operations enter (a flood of rejected
// ones costs no memory), and it is bounded in entries and in bytes. It is
// only an accelerator: a miss decodes and verifies again, so results never
// depend on its contents.
type opCache struct {
	mu       sync.Mutex
	max      int
	maxBytes int
	bytes    int
	m        map[[32]byte]*cached
	order    [][32]byte // FIFO of insertions; entries removed early leave holes

	// reused counts the checks answered from a stamp (acceptedAt).
	reused atomic.Int64

	// provs holds decoded provider records by their encoded bytes (see
	// provider), emptied when it holds maxProviders.
	provs map[string]*record.Provider
}

// maxProviders bounds the decoded provider records the cache holds.
const maxProviders = 1024

// provider reads provider id's record from st, for reading only: every
// registration reads its provider's, and decoding it took a quarter of a
// registration's execution (profile in docs/benchmarks.md). A record
// decoded once is shared by the reads of the same bytes; the key is the
// whole encoding, so a changed record is decoded anew, and decoding is
// deterministic: results never depend on the cache. Callers must not
// modify what it returns.
func (c *opCache) provider(st state.Reader, id string) (*record.Provider, error) {
	b, err := st.Get(record.ProviderKey(id))
	if err != nil || b == nil {
		return nil, err
	}
	c.mu.Lock()
	p, ok := c.provs[string(b)]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	if p, err = record.DecodeProvider(b); err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.provs) >= maxProviders {
		clear(c.provs)
	}
	c.provs[string(b)] = p
	c.mu.Unlock()
	return p, nil
}

type cached struct {
	s        *op.Signed
	verified string // canonical key bytes the signature verified with
	size     int
	at       checkStamp // the state and time it was last accepted against
}

// checkStamp names what a check ran against: the committed state (its
// version and root hash) and the last block's time, Check's estimate of
// the next block's. A check is a function of the operation and these, so
// an accepted operation with the current stamp is accepted again.
type checkStamp struct {
	version int64
	root    [32]byte
	time    int64
}

func newOpCache(max, maxBytes int) *opCache {
	return &opCache{max: max, maxBytes: maxBytes, m: make(map[[32]byte]*cached, max), provs: map[string]*record.Provider{}}
}

func (c *opCache) get(h [32]byte) *cached {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[h]
}

// acceptedAt reports whether the operation was accepted against at.
func (c *opCache) acceptedAt(h [32]byte, at checkStamp) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[h]
	if ok && e.at == at {
		c.reused.Add(1)
		return true
	}
	return false
}

// put stores an accepted operation, or stamps a stored one with the
// state and time it was accepted against again.
func (c *opCache) put(h [32]byte, s *op.Signed, verified []byte, size int, at checkStamp) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[h]; ok {
		e.at = at
		return
	}
	for len(c.order) > 0 && (len(c.m) >= c.max || c.bytes+size > c.maxBytes) {
		old := c.order[0]
		c.order = c.order[1:]
		if e, ok := c.m[old]; ok {
			c.bytes -= e.size
			delete(c.m, old)
		}
	}
	c.m[h] = &cached{s: s, verified: string(verified), size: size, at: at}
	c.order = append(c.order, h)
	c.bytes += size
	if len(c.order) > 4*c.max { // compact the holes left by remove
		live := c.order[:0]
		for _, k := range c.order {
			if _, ok := c.m[k]; ok {
				live = append(live, k)
			}
		}
		c.order = live
	}
}

// remove forgets an operation (once it is in a block).
func (c *opCache) remove(h [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[h]; ok {
		c.bytes -= e.size
		delete(c.m, h)
	}
}

func (c *opCache) verified(h [32]byte, key []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[h]
	return ok && e.verified == string(key)
}

package registry

import (
	"sync"

	"github.com/bias-iot/bias/op"
)

// opCache remembers decoded operations and the key each one's signature
// verified with, by transaction hash, so that an operation checked once
// (in Precheck or CheckTx) is neither decoded nor verified again in
// Recheck or FinalizeBlock. It is only an accelerator: a miss decodes and
// verifies again, so results never depend on its contents.
type opCache struct {
	mu    sync.Mutex
	max   int
	m     map[[32]byte]*cached
	order [][32]byte
	next  int
}

type cached struct {
	s        *op.Signed
	verified string // canonical key bytes the signature verified with
}

func newOpCache(max int) *opCache {
	return &opCache{max: max, m: make(map[[32]byte]*cached, max), order: make([][32]byte, 0, max)}
}

func (c *opCache) get(h [32]byte) *cached {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[h]
}

// put stores a decoded operation (keeping one already stored).
func (c *opCache) put(h [32]byte, s *op.Signed) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[h]; ok {
		return
	}
	if len(c.order) < c.max {
		c.order = append(c.order, h)
	} else {
		delete(c.m, c.order[c.next])
		c.order[c.next] = h
		c.next = (c.next + 1) % c.max
	}
	c.m[h] = &cached{s: s}
}

func (c *opCache) verified(h [32]byte, key []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[h]
	return ok && e.verified == string(key)
}

func (c *opCache) setVerified(h [32]byte, key []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[h]; ok {
		e.verified = string(key)
	}
}

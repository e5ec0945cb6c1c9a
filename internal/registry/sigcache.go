package registry

import "sync"

// sigCache remembers which (operation bytes, key) pairs have verified, so
// that an operation checked in CheckTx is not verified again in
// FinalizeBlock. It is only an accelerator: a miss verifies again, so the
// result never depends on its contents.
type sigCache struct {
	mu    sync.Mutex
	max   int
	m     map[[32]byte]string // tx hash -> verified key bytes
	order [][32]byte
	next  int
}

func newSigCache(max int) *sigCache {
	return &sigCache{max: max, m: make(map[[32]byte]string, max), order: make([][32]byte, 0, max)}
}

func (c *sigCache) has(h [32]byte, key []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.m[h]
	return ok && k == string(key)
}

func (c *sigCache) add(h [32]byte, key []byte) {
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
	c.m[h] = string(key)
}

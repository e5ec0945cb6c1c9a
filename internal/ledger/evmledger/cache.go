package evmledger

// dupCache holds the hashes of the latest operations submitted here that
// committed with code 0, at most size of them, the oldest forgotten
// first (as CometBFT's mempool cache): the same bytes submitted again
// meanwhile are ledger.ErrDuplicate. After that the application's own
// replay guards refuse them (the registry: a registration again is
// "replayed"; other operations name a sequence or the version they
// replace), so the cache only spares the check.
type dupCache struct {
	size  int
	set   map[[32]byte]struct{}
	order [][32]byte // oldest first
}

func newDupCache(size int) *dupCache {
	return &dupCache{size: size, set: map[[32]byte]struct{}{}}
}

func (c *dupCache) has(h [32]byte) bool {
	_, ok := c.set[h]
	return ok
}

func (c *dupCache) add(h [32]byte) {
	if c.has(h) {
		return
	}
	c.set[h] = struct{}{}
	c.order = append(c.order, h)
	if len(c.order) > c.size {
		delete(c.set, c.order[0])
		c.order[0] = [32]byte{}
		c.order = c.order[1:]
	}
}

func (c *dupCache) len() int { return len(c.set) }

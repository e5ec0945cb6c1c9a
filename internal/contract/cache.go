package contract

import "sync"

// Cache keeps compiled programs by contract version, so that a node
// compiles each deployed version once: the registry (registration
// contracts, in FinalizeBlock) and the access decisions share one.
// Compiling is deterministic; the cache only saves the time, and a hit
// whose source differs from the one asked for compiles again. It is
// bounded (emptied past max entries) and safe for concurrent use.
type Cache struct {
	mu      sync.Mutex
	max     int
	m       map[string]*Program
	observe func(Kind, Decision)
}

// Observe makes every evaluation of the programs the cache compiles from
// now on call fn with its decision (for metrics: fn must not block, and
// nothing it does may change the decision). Call it before the cache is
// used.
func (c *Cache) Observe(fn func(Kind, Decision)) { c.observe = fn }

// NewCache returns a cache of at most max programs.
func NewCache(max int) *Cache { return &Cache{max: max, m: map[string]*Program{}} }

// Max is the most programs the cache holds.
func (c *Cache) Max() int { return c.max }

// Program returns the compiled form of the contract version id (as
// "<provider>/<name>@<version>") of kind with source.
func (c *Cache) Program(id string, kind Kind, source string) (*Program, error) {
	c.mu.Lock()
	p, ok := c.m[id]
	c.mu.Unlock()
	if ok && p.Source == source && p.Kind == kind {
		return p, nil
	}
	p, err := Compile(kind, source)
	if err != nil {
		return nil, err
	}
	p.observe = c.observe
	c.mu.Lock()
	if len(c.m) >= c.max {
		c.m = map[string]*Program{}
	}
	c.m[id] = p
	c.mu.Unlock()
	return p, nil
}

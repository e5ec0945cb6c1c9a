package evmledger

// InMemory is how many blocks the engine holds in memory.
func (l *Ledger) InMemory() int { return l.blocks.InMemory() }

// Height is the last applied height.
func (l *Ledger) Height() int64 { return l.height() }

// Pending counts the duplicate cache's hashes, the submissions waiting
// for a final block and this node's anchor transactions on their way.
func (l *Ledger) Pending() (cached, waiting, inflight int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen.len(), len(l.waiting), len(l.inflight)
}

package evmledger

// InMemory is how many blocks the engine holds in memory.
func (l *Ledger) InMemory() int { return l.blocks.InMemory() }

// Height is the last applied height.
func (l *Ledger) Height() int64 { return l.height() }

package registry

// retention is how many of the latest blocks CometBFT keeps, returned to
// it as the RetainHeight of each Commit: 0 keeps every block. It is this
// node's choice, no part of the state: every node may keep a different
// span.
type retention struct{ blocks int64 }

// SetRetainBlocks makes the node keep the latest n blocks (0: all), from
// the next commit on. Call it before the ledger starts.
func (a *App) SetRetainBlocks(n int64) { a.retain = retention{blocks: max(n, 0)} }

// height is the lowest height to keep after committing block h: 0 (keep
// all) until more than the span is committed.
func (r retention) height(h int64) int64 {
	if r.blocks == 0 || h <= r.blocks {
		return 0
	}
	return h - r.blocks + 1
}

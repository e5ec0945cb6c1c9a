package state

import "fmt"

// maxPrunePerCommit bounds the versions one commit deletes: a store that
// turns pruning on with a long history sheds it over many blocks rather
// than in one long commit.
const maxPrunePerCommit = 16

// WithKeepVersions keeps the latest n versions (at least 2) and deletes
// older ones as blocks commit; 0 (the default) keeps every version. Reads
// and proofs at a deleted version fail with ErrPruned. What a version
// alone holds goes with it; the latest value of every key, and every
// record's own history (which the registry writes under its own keys),
// stay.
func WithKeepVersions(n int64) Option {
	return func(o *options) { o.keep = max(n, 0) }
}

// prune deletes the versions that committing version fell out of the
// kept span, up to maxPrunePerCommit of them.
func (s *Store) prune(version int64) error {
	if s.keep == 0 {
		return nil
	}
	first := s.first.Load()
	to := min(version-max(s.keep, 2), first+maxPrunePerCommit-1)
	if to < first {
		return nil
	}
	s.tmu.Lock()
	defer s.tmu.Unlock()
	// Raise first before the versions go: a reader that asks from now on
	// is refused, and one that holds a snapshot of them read it under
	// tmu, which this holds.
	s.first.Store(to + 1)
	if err := s.tree.DeleteVersionsTo(to); err != nil {
		return fmt.Errorf("prune versions to %d: %w", to, err)
	}
	return nil
}

// firstVersion finds the lowest version held (1 before the first
// commit): versions are held from it to the latest without a gap.
func (s *Store) firstVersion() int64 {
	lo, hi := int64(1), s.tree.Version()
	if hi == 0 || s.tree.VersionExists(lo) {
		return 1
	}
	for lo < hi { // VersionExists(hi) holds, VersionExists(lo) does not
		mid := lo + (hi-lo)/2
		if s.tree.VersionExists(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return hi
}

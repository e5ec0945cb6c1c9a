package state

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

// prune deletes the versions that committing version put out of the
// kept span, up to maxPrunePerCommit of them. A failure is logged, not
// returned: the version is saved, and the next commit tries again.
func (s *Store) prune(version int64) {
	if s.keep == 0 {
		return
	}
	first := s.first.Load()
	to := min(version-max(s.keep, 2), first+maxPrunePerCommit-1)
	if held := s.exportHold.Load(); held > 0 {
		to = min(to, held-1) // an export reads it (export.go)
	}
	if to < first {
		return
	}
	// Readers wait (tmu): one that holds a snapshot of a deleted version
	// finds it pruned (Snapshot.failed), one that asks later is refused.
	s.tmu.Lock()
	defer s.tmu.Unlock()
	if err := s.tree.DeleteVersionsTo(to); err != nil {
		s.log.Error("prune state versions", "to", to, "err", err)
		return
	}
	s.first.Store(to + 1)
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

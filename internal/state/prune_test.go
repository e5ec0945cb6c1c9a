package state

import (
	"errors"
	"fmt"
	"testing"

	ics23 "github.com/cosmos/ics23/go"
)

// commitN commits versions from..to, each setting "cur" to its version
// and writing "hist/<v>" once (the way the registry keeps a record's own
// history under its own keys).
func commitN(t *testing.T, s *Store, from, to int) {
	t.Helper()
	for v := from; v <= to; v++ {
		if err := s.Set([]byte("cur"), fmt.Appendf(nil, "v%d", v)); err != nil {
			t.Fatal(err)
		}
		if err := s.Set(fmt.Appendf(nil, "hist/%03d", v), fmt.Appendf(nil, "v%d", v)); err != nil {
			t.Fatal(err)
		}
		if _, got, err := s.Commit(); err != nil || got != int64(v) {
			t.Fatalf("commit %d: version %d, %v", v, got, err)
		}
	}
}

// checkKept asserts that versions below first are refused as pruned and
// that every version from first to the latest reads its own value with a
// proof that verifies against its root hash; and that the history of
// every past version still reads at the latest.
func checkKept(t *testing.T, s *Store, first int64) {
	t.Helper()
	latest := s.Version()
	for v := int64(1); v < first; v++ {
		_, err := s.At(v)
		if !errors.Is(err, ErrPruned) || !errors.Is(err, ErrNoVersion) {
			t.Fatalf("version %d of %d: %v, want ErrPruned", v, latest, err)
		}
	}
	for v := first; v <= latest; v++ {
		snap, err := s.At(v)
		if err != nil {
			t.Fatalf("version %d of %d: %v", v, latest, err)
		}
		val, p, err := snap.Prove([]byte("cur"))
		if err != nil {
			t.Fatal(err)
		}
		if string(val) != fmt.Sprintf("v%d", v) || !ics23.VerifyMembership(ics23.IavlSpec, snap.Hash(), p, []byte("cur"), val) {
			t.Fatalf("version %d reads %q, or its proof fails", v, val)
		}
	}
	for v := int64(1); v <= latest; v++ {
		got, err := s.Latest().Get(fmt.Appendf(nil, "hist/%03d", v))
		if err != nil || string(got) != fmt.Sprintf("v%d", v) {
			t.Fatalf("history of version %d reads %q, %v", v, got, err)
		}
	}
}

// TestKeepVersions: with WithKeepVersions(3), each commit deletes the
// version that fell out of the span; kept versions read and prove,
// deleted ones are refused with ErrPruned, also after a reopen; the
// records' own history stays whole.
func TestKeepVersions(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, WithKeepVersions(3))
	if err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= 12; v++ {
		commitN(t, s, v, v)
		checkKept(t, s, max(1, int64(v)-2))
	}
	s = reopen(t, s, dir, WithKeepVersions(3))
	checkKept(t, s, 10)
	// Without the option the store keeps what is left, and deletes no more.
	s = reopen(t, s, dir)
	commitN(t, s, 13, 15)
	checkKept(t, s, 10)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestKeepVersionsCatchesUp: a store that turns pruning on with a long
// history sheds it maxPrunePerCommit versions a commit; and a span under
// two is two (a read that began at the previous version still ends).
func TestKeepVersionsCatchesUp(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	commitN(t, s, 1, 40)
	s = reopen(t, s, dir, WithKeepVersions(1))
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	checkKept(t, s, 1)
	commitN(t, s, 41, 41)
	checkKept(t, s, 1+maxPrunePerCommit)
	commitN(t, s, 42, 42)
	checkKept(t, s, 1+2*maxPrunePerCommit)
	commitN(t, s, 43, 43)
	checkKept(t, s, 42)
}

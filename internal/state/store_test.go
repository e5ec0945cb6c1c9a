package state

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestLatestIndex: latest-version reads come from the index and agree with
// the tree; past versions read the tree; a crash that leaves the index
// behind is repaired on open.
func TestLatestIndex(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= 3; v++ {
		for i := 0; i < 50; i++ {
			if err := s.Set([]byte(fmt.Sprintf("k%03d", i)), []byte(fmt.Sprintf("v%d-%d", v, i))); err != nil {
				t.Fatal(err)
			}
		}
		if v == 3 {
			if err := s.Delete([]byte("k007")); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := s.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	check := func(s *Store) {
		t.Helper()
		latest := s.Latest()
		if s.index.version.Load() != latest.Version() {
			t.Fatalf("index at %d, state at %d", s.index.version.Load(), latest.Version())
		}
		for i := 0; i < 50; i++ {
			k := []byte(fmt.Sprintf("k%03d", i))
			got, err := latest.Get(k)
			want, _ := latest.t.Get(k)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s: index %q, tree %q (%v)", k, got, want, err)
			}
		}
		if v, _ := latest.Get([]byte("k007")); v != nil {
			t.Fatalf("a deleted key reads %q", v)
		}
		old, err := s.At(1)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := old.Get([]byte("k007")); string(v) != "v1-7" {
			t.Fatalf("version 1 reads %q", v)
		}
	}
	check(s)
	// A crash between the tree's commit and the index's: the index says
	// version 2 and holds wrong values.
	v2, err := s.At(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.index.db.Put(markerKey, marker(2, v2.Hash()), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.index.db.Put([]byte("k001"), []byte("stale"), nil); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, dir)
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	check(s)
}

// TestWorkingReadsAgreeWithTree: Store.Get (this block's writes, then the
// index at the last version, then the tree) answers as the working tree
// does, through random sets, deletes, commits and rollbacks, with the
// index in use and after it is taken out of use.
func TestWorkingReadsAgreeWithTree(t *testing.T) {
	s := openTemp(t)
	rng := rand.New(rand.NewPCG(7, 9)) //nolint:gosec // a test's operations
	key := func(i int) []byte { return []byte(fmt.Sprintf("k%02d", i)) }
	answered := 0
	for step := range 3000 {
		if step == 2000 {
			s.index.fail("test", errors.New("taken out of use by the test"))
		}
		k := key(rng.IntN(40))
		switch r := rng.IntN(100); {
		case r < 50:
			if err := s.Set(k, []byte(fmt.Sprintf("v%d", step))); err != nil {
				t.Fatal(err)
			}
		case r < 70:
			if err := s.Delete(k); err != nil {
				t.Fatal(err)
			}
		case r < 77:
			if _, _, err := s.Commit(); err != nil {
				t.Fatal(err)
			}
		case r < 80:
			s.Rollback()
		}
		for i := range 40 {
			got, err := s.Get(key(i))
			want, werr := s.tree.Get(key(i))
			if err != nil || werr != nil || !bytes.Equal(got, want) || (got == nil) != (want == nil) {
				t.Fatalf("step %d, %s: Get %q (%v), the working tree %q (%v)", step, key(i), got, err, want, werr)
			}
		}
		if _, ok := s.index.get(k, s.Version()); ok {
			answered++
		}
	}
	if answered == 0 {
		t.Error("the index never answered for the last version")
	}
}

// TestIndexViews: a snapshot of a version that later commits have passed
// reads its own version's values, from the index while it is one of the
// last keepViews versions, from the tree after.
func TestIndexViews(t *testing.T) {
	s := openTemp(t)
	var snaps []*Snapshot
	for v := 1; v <= keepViews+2; v++ {
		if err := s.Set([]byte("k"), []byte(fmt.Sprintf("v%d", v))); err != nil {
			t.Fatal(err)
		}
		if v == 2 {
			if err := s.Delete([]byte("k")); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := s.Commit(); err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, s.Latest())
	}
	last := int64(len(snaps))
	for i, snap := range snaps {
		v := int64(i + 1)
		want := []byte(fmt.Sprintf("v%d", v))
		if v == 2 {
			want = nil
		}
		got, err := snap.Get([]byte("k"))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("the snapshot of version %d reads %q (%v), want %q", v, got, err, want)
		}
		ixv, ok := s.index.get([]byte("k"), v)
		if inView := v > last-keepViews; ok != inView || (ok && !bytes.Equal(ixv, want)) {
			t.Errorf("the index at version %d: %q, answered %v (one of the last %d: %v)", v, ixv, ok, keepViews, inView)
		}
	}
}

// TestLatestView: a view scans the version it was taken at, in key order,
// whatever commits and prunes meanwhile; a damaged index gives none.
func TestLatestView(t *testing.T) {
	s := openTemp(t, WithKeepVersions(1))
	for i := range 10 {
		if err := s.Set([]byte(fmt.Sprintf("e/%d", i)), []byte("v1")); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	view, err := s.LatestView()
	if err != nil {
		t.Fatal(err)
	}
	defer view.Release()
	for v := 2; v <= 4; v++ { // version 1 is pruned from the tree
		if err := s.Set([]byte("e/3"), []byte(fmt.Sprintf("v%d", v))); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete([]byte("e/5")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.At(1); !errors.Is(err, ErrPruned) {
		t.Fatalf("version 1 is still in the tree: %v", err)
	}
	var keys []string
	if err := view.Iterate([]byte("e/"), []byte("e0"), func(k, v []byte) bool {
		if string(v) != "v1" {
			t.Errorf("%s reads %q in the view of version 1", k, v)
		}
		keys = append(keys, string(k))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if view.Version() != 1 || len(keys) != 10 || keys[0] != "e/0" || keys[9] != "e/9" {
		t.Errorf("the view of version %d scanned %v", view.Version(), keys)
	}
	s.index.fail("test", errors.New("taken out of use by the test"))
	if _, err := s.LatestView(); !errors.Is(err, ErrNoView) {
		t.Errorf("a damaged index gives a view: %v", err)
	}
}

// openTemp opens a store in a temporary directory, closed at the test's
// end.
func openTemp(t *testing.T, opts ...Option) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

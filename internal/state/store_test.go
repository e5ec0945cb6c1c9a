package state

import (
	"bytes"
	"fmt"
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

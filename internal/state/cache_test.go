package state

import (
	"fmt"
	"testing"
)

// TestCaches: a store opened with small caches keeps them (zero fields
// take the defaults) and still reads every key back, before and after a
// reopen, with its caches far smaller than its data.
func TestCaches(t *testing.T) {
	dir := t.TempDir()
	small := Caches{TreeNodes: 64, TreeBlockCache: 64 << 10, TreeWriteBuffer: 64 << 10, IndexBlockCache: 64 << 10}
	want := small
	want.IndexWriteBuffer = DefaultCaches.IndexWriteBuffer
	s, err := Open(dir, WithCaches(small))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Caches(); got != want {
		t.Fatalf("caches %+v, want %+v", got, want)
	}
	val := func(i int) string { return fmt.Sprintf("%0200d", i) }
	for v := range 4 {
		for i := v * 500; i < (v+1)*500; i++ {
			if err := s.Set(fmt.Appendf(nil, "k%05d", i), []byte(val(i))); err != nil {
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
		for i := range 2000 {
			got, err := latest.Get(fmt.Appendf(nil, "k%05d", i))
			if err != nil || string(got) != val(i) {
				t.Fatalf("key %d: %.20q %v", i, got, err)
			}
		}
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	if got := s.Caches(); got != DefaultCaches {
		t.Fatalf("caches %+v, want the defaults %+v", got, DefaultCaches)
	}
	check(s)
}

package evmledger

import (
	"testing"
)

// TestStoreBounds: the store reports the heights it keeps, and deletes
// a range wider than one batch.
func TestStoreBounds(t *testing.T) {
	s, err := openStore(Config{Network: "local"}, 7) // in memory: the same code but the database
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.close() }()
	if first, last, err := s.Bounds(); err != nil || first != 0 || last != 0 {
		t.Fatalf("empty store: %d..%d %v", first, last, err)
	}
	const n = deleteChunk + 5
	for h := int64(1); h <= n; h++ {
		if err := s.Put(h, []byte{1}); err != nil {
			t.Fatal(err)
		}
	}
	if first, last, err := s.Bounds(); err != nil || first != 1 || last != n {
		t.Fatalf("store of %d: %d..%d %v", n, first, last, err)
	}
	if err := s.DeleteRange(1, n-3); err != nil {
		t.Fatal(err)
	}
	if first, last, err := s.Bounds(); err != nil || first != n-2 || last != n {
		t.Fatalf("after deleting below %d: %d..%d %v", n-2, first, last, err)
	}
	if v, err := s.Get(1); err != nil || v != nil {
		t.Fatalf("a deleted height: %x %v", v, err)
	}
}

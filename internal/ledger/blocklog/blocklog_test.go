package blocklog_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/blocklog"
)

// mapStore is a Store in a map: the fake the engines' stores stand for.
type mapStore struct {
	mu sync.Mutex
	m  map[int64][]byte
}

func (s *mapStore) Put(h int64, e []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[h] = slices.Clone(e)
	return nil
}

func (s *mapStore) Get(h int64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[h], nil
}

func (s *mapStore) DeleteRange(from, to int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h := from; h <= to; h++ {
		delete(s.m, h)
	}
	return nil
}

func (s *mapStore) Bounds() (int64, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first, last int64
	for h := range s.m {
		if first == 0 || h < first {
			first = h
		}
		last = max(last, h)
	}
	return first, last, nil
}

func entry(h int64) blocklog.Entry[string] {
	t := time.Unix(1_700_000_000+h, 0).UTC()
	return blocklog.Entry[string]{
		Header: ledger.Header{Network: "n", Height: h, Time: t, AppHash: []byte{byte(h)}},
		Block:  ledger.Block{Height: h, Time: t, Results: []ledger.Result{{Hash: []byte{byte(h)}, Height: h}}},
		Extra:  "x",
	}
}

// add persists and appends blocks from to to.
func add(t *testing.T, l *blocklog.Log[string], from, to int64) {
	t.Helper()
	for h := from; h <= to; h++ {
		if err := l.Persist(entry(h)); err != nil {
			t.Fatal(err)
		}
		l.Append(entry(h))
	}
}

// TestWindow: the log holds at most its window in memory and reads the
// rest from the store, the same entries.
func TestWindow(t *testing.T) {
	s := &mapStore{m: map[int64][]byte{}}
	l := blocklog.New[string](s, 4)
	add(t, l, 1, 20)
	if n := l.InMemory(); n != 4 {
		t.Fatalf("%d in memory, want 4", n)
	}
	for h := int64(1); h <= 20; h++ {
		e, err := l.Get(h)
		if err != nil || e.Header.Height != h || e.Extra != "x" || e.Block.Results[0].Height != h || !e.Header.Time.Equal(entry(h).Header.Time) {
			t.Fatalf("block %d: %+v %v", h, e, err)
		}
	}
	if _, err := l.Get(21); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("fail/not-yet: %v", err)
	}
	if err := l.Persist(entry(22)); err == nil {
		t.Fatal("fail/out-of-order: a block after a gap was taken")
	}
}

// TestResume: on start the log drops the stored blocks above the
// application's height, or every block when the store does not reach
// it, and goes on from there.
func TestResume(t *testing.T) {
	s := &mapStore{m: map[int64][]byte{}}
	add(t, blocklog.New[string](s, 4), 1, 10)
	l := blocklog.New[string](s, 4)
	dropped, err := l.Resume(9) // the state committed 9; block 10 was written before a crash
	if err != nil || dropped != 1 || l.Height() != 9 || l.First() != 1 {
		t.Fatalf("resume at 9: dropped %d, height %d, first %d, %v", dropped, l.Height(), l.First(), err)
	}
	if last, ok := l.Last(); !ok || last.Header.Height != 9 {
		t.Fatalf("last %+v %v", last, ok)
	}
	add(t, l, 10, 12)
	got := 0
	ch, err := l.Watch(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	for b := range ch {
		got++
		if b.Height != int64(got) {
			t.Fatalf("watch: block %d at %d", b.Height, got)
		}
		if got == 12 {
			break
		}
	}
	gap := blocklog.New[string](s, 4)
	if dropped, err := gap.Resume(20); err != nil || dropped != 12 || gap.Height() != 20 || gap.InMemory() != 0 {
		t.Fatalf("fail/gap: dropped %d, height %d, %v", dropped, gap.Height(), err)
	}
	if _, err := gap.Watch(t.Context(), 1); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("fail/watch-below-kept: %v", err)
	}
}

// TestPrune: blocks below a retain height are gone from memory and the
// store; the last block always stays.
func TestPrune(t *testing.T) {
	s := &mapStore{m: map[int64][]byte{}}
	l := blocklog.New[string](s, 8)
	add(t, l, 1, 10)
	if err := l.Prune(7); err != nil {
		t.Fatal(err)
	}
	if first, last, _ := s.Bounds(); first != 7 || last != 10 || l.InMemory() != 4 {
		t.Fatalf("store %d..%d, %d in memory", first, last, l.InMemory())
	}
	if _, err := l.Header(6); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("fail/pruned: %v", err)
	}
	if err := l.Prune(100); err != nil || l.First() != 10 {
		t.Fatalf("prune past the end: first %d, %v", l.First(), err)
	}
	l.Close()
	if _, err := l.Header(10); !errors.Is(err, ledger.ErrClosed) {
		t.Fatalf("fail/closed: %v", err)
	}
	l.Append(entry(11)) // after Close: ignored, no panic
}

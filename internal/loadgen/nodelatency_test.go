package loadgen

import (
	"math"
	"slices"
	"testing"
	"time"
)

// TestHistogram: quantiles are the bounds of the buckets that hold them,
// over what was observed between two scrapes.
func TestHistogram(t *testing.T) {
	le := []float64{.001, .005, .025, math.Inf(1)}
	before := histogram{le: le, count: []uint64{10, 10, 10, 10}}
	after := histogram{le: le, count: []uint64{60, 108, 109, 110}} // 50, 48, 1, 1 since
	h := after.since(before)
	for _, c := range []struct {
		name string
		got  time.Duration
		want time.Duration
	}{
		{"p50", h.quantile(.5), time.Millisecond},
		{"p51", h.quantile(.51), 5 * time.Millisecond},
		{"p98", h.quantile(.98), 5 * time.Millisecond},
		{"p99", h.quantile(.99), 25 * time.Millisecond},
		{"p100-past-the-last-bound", h.quantile(1), time.Duration(math.MaxInt64)},
		{"empty", histogram{}.quantile(.99), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
	if h.total() != 100 || h.within(5*time.Millisecond) != .98 || h.within(3*time.Millisecond) != 0 {
		t.Errorf("total %d, within 5ms %v, within 3ms (no such bound) %v", h.total(), h.within(5*time.Millisecond), h.within(3*time.Millisecond))
	}
}

// TestPace: requests start on their schedule; after a stall of the
// generator, the ones already more than lateAfter overdue are skipped,
// not sent at once.
func TestPace(t *testing.T) {
	const gap = time.Millisecond
	clock := time.Unix(1_700_000_000, 0)
	now := func() time.Time { return clock }
	sleeps := 0
	sleep := func(d time.Duration) {
		sleeps++
		clock = clock.Add(d)
		if sleeps == 3 { // the sleep before request 3 wakes 10 gaps late
			clock = clock.Add(10 * gap)
		}
	}
	var started []int
	skipped := pace(16, gap, 2*gap, now, sleep, func(i int, due time.Time) {
		if late := clock.Sub(due); late > 2*gap {
			t.Errorf("request %d started %v late", i, late)
		}
		started = append(started, i)
	})
	// Request 3 is due at 3 gaps and starts at 13: it and the ones due
	// until 10 gaps are more than 2 gaps late; 11 is exactly 2.
	want := []int{0, 1, 2, 11, 12, 13, 14, 15}
	if skipped != 8 || !slices.Equal(started, want) {
		t.Fatalf("skipped %d, started %v; want 8, %v", skipped, started, want)
	}
}

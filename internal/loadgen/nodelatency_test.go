package loadgen

import (
	"math"
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

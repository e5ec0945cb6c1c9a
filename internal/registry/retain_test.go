package registry

import "testing"

// TestRetention: the RetainHeight returned to CometBFT keeps the latest
// n blocks, and 0 (keep all) until more than n are committed.
func TestRetention(t *testing.T) {
	for _, c := range []struct {
		name          string
		blocks, h, at int64
	}{
		{"all", 0, 1000, 0},
		{"young", 10, 10, 0},
		{"first-prune", 10, 11, 2},
		{"steady", 10, 1000, 991},
		{"two", 2, 5, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := (retention{blocks: c.blocks}).height(c.h); got != c.at {
				t.Fatalf("keep %d at %d: retain height %d, want %d", c.blocks, c.h, got, c.at)
			}
		})
	}
}

package cometledger

import (
	"errors"
	"testing"
	"time"
)

// TestWedgeFacts: a wedge is a vote refused in the round consensus is
// at, for WedgeAfter, by a validator the others cannot commit without;
// nothing else.
func TestWedgeFacts(t *testing.T) {
	now := time.Now()
	after := 5 * time.Second
	refused := func(h int64, r int32, ago time.Duration) *refusal {
		return &refusal{height: h, round: r, what: "prevote", err: errors.New("step regression"), at: now.Add(-ago)}
	}
	for _, c := range []struct {
		name   string
		f      wedgeFacts
		wedged bool
	}{
		{"wedged/single-validator", wedgeFacts{height: 9, refused: refused(9, 0, after), ours: 10, total: 10}, true},
		{"wedged/one-of-two", wedgeFacts{height: 9, round: 2, refused: refused(9, 2, time.Minute), ours: 10, total: 20}, true},
		{"wedged/a-third-of-the-power", wedgeFacts{height: 9, refused: refused(9, 0, after), ours: 10, total: 30}, true},
		{"fail/idle", wedgeFacts{height: 9, ours: 10, total: 10}, false},
		{"fail/not-for-long", wedgeFacts{height: 9, refused: refused(9, 0, after-time.Millisecond), ours: 10, total: 10}, false},
		{"fail/an-earlier-round", wedgeFacts{height: 9, round: 1, refused: refused(9, 0, time.Minute), ours: 10, total: 10}, false},
		{"fail/an-earlier-height", wedgeFacts{height: 10, refused: refused(9, 0, time.Minute), ours: 10, total: 10}, false},
		{"fail/the-others-commit", wedgeFacts{height: 9, refused: refused(9, 0, time.Minute), ours: 10, total: 31}, false},
		{"fail/one-of-four", wedgeFacts{height: 9, refused: refused(9, 0, time.Minute), ours: 10, total: 40}, false},
		{"fail/not-a-validator", wedgeFacts{height: 9, refused: refused(9, 0, time.Minute), ours: 0, total: 10}, false},
		{"fail/catching-up", wedgeFacts{height: 9, refused: refused(9, 0, time.Minute), ours: 10, total: 10, catchingUp: true}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.f.now = now
			if got := c.f.wedged(after); got != c.wedged {
				t.Fatalf("wedged = %v, want %v", got, c.wedged)
			}
		})
	}
}

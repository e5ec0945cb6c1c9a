package sdk

import (
	"strconv"
	"testing"
)

// TestIssuedSetBounded: unanswered challenges do not grow a service's
// memory without bound; a challenge is taken once.
func TestIssuedSetBounded(t *testing.T) {
	var s issuedSet
	for i := 0; i < maxIssued+100; i++ {
		s.put(strconv.Itoa(i), []byte{1})
	}
	if len(s.m) != maxIssued || len(s.order) != maxIssued {
		t.Fatalf("holds %d challenges (%d in order), bound %d", len(s.m), len(s.order), maxIssued)
	}
	if _, ok := s.take("0"); ok {
		t.Fatal("the oldest challenge was not evicted")
	}
	last := strconv.Itoa(maxIssued + 99)
	if _, ok := s.take(last); !ok {
		t.Fatal("the newest challenge is missing")
	}
	if _, ok := s.take(last); ok {
		t.Fatal("a challenge was taken twice")
	}
}

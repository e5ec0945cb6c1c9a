package console

import (
	"context"
	"testing"

	"github.com/bias-iot/bias/record"
	"github.com/bias-iot/bias/sdk"
)

// TestIndexCountsOnce: an event the history and the stream both deliver,
// or one older than the last applied, changes nothing; past its bound the
// index counts what it does not list.
func TestIndexCountsOnce(t *testing.T) {
	t.Parallel()
	x := newIndex(2)
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // the history is not read here: a list does not wait for it
	ev := func(id, did, status string, h int64) sdk.Event {
		return sdk.Event{ID: id, EntityEvent: record.EntityEvent{Height: h, DID: did, Status: status}}
	}
	x.apply(ev("3.0.0", "did:a", "pending", 3))
	x.apply(ev("10.1.0", "did:a", "validated", 10))
	x.apply(ev("3.0.0", "did:a", "pending", 3))   // again, from the stream
	x.apply(ev("10.0.5", "did:a", "revoked", 10)) // before the last applied
	x.apply(ev("bad", "did:a", "revoked", 11))
	if rows, n, _, _ := x.list(ctx, "", 10); n != 1 || rows[0].Status != "validated" {
		t.Fatalf("after replays: %+v", rows)
	}
	x.apply(ev("11.0.0", "did:b", "pending", 11))
	x.apply(ev("12.0.0", "did:c", "pending", 12))
	rows, n, _, dropped := x.list(ctx, "pending", 10)
	if n != 1 || rows[0].DID != "did:b" || dropped != 1 {
		t.Errorf("past the bound: %+v, %d matched, %d dropped", rows, n, dropped)
	}
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"1.0.0", "", true}, {"2.0.0", "1.9.9", true}, {"1.0.1", "1.0.0", true},
		{"1.0.0", "1.0.0", false}, {"1.0.0", "2.0.0", false}, {"x", "", false}, {"1.0", "", false}, {"1.0.-1", "", false},
	} {
		if got := after(tc.a, tc.b); got != tc.want {
			t.Errorf("after(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

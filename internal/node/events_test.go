package node_test

import (
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// stream opens the node's committed-event stream through the SDK.
func stream(t *testing.T, h *nodetest.Harness, from int64, didFilter, lastID string) <-chan sdk.Event {
	t.Helper()
	ch, err := h.Client.EventsAfter(t.Context(), lastID, from, didFilter, "")
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func next[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("event stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	var zero T
	return zero
}

// TestEventStream: committed entity events stream from a height, filtered
// by DID, and a reconnecting client resumes after its last event with no
// repeat and no gap. On each ledger engine.
func TestEventStream(t *testing.T) {
	t.Parallel()
	eachEngine(t, testEventStream)
}

func testEventStream(t *testing.T, h *nodetest.Harness) {
	other := h.Register(op.KindDevice, h.Provider.DID, cose.AlgEdDSA)
	dev := h.Register(op.KindDevice, h.Provider.DID, cose.AlgEdDSA)
	if err := decide(t, h, op.TypeValidate, dev.DID, 1); err != nil {
		t.Fatal(err)
	}
	ch := stream(t, h, 1, dev.DID.String(), "")
	reg := next(t, ch)
	val := next(t, ch)
	if reg.Op != op.TypeRegister || val.Op != op.TypeValidate || val.Status != op.StatusValidated || reg.DID != dev.DID.String() {
		t.Fatalf("events: %+v %+v", reg, val)
	}
	// Live: a revocation arrives on the open stream.
	if err := decide(t, h, op.TypeRevoke, dev.DID, 2); err != nil {
		t.Fatal(err)
	}
	rev := next(t, ch)
	if rev.Op != op.TypeRevoke || rev.Status != op.StatusRevoked {
		t.Fatalf("live event: %+v", rev)
	}
	// Resume after the validation: the revocation comes next, once.
	resumed := stream(t, h, 0, dev.DID.String(), val.ID)
	if ev := next(t, resumed); ev.ID != rev.ID || ev.Op != op.TypeRevoke {
		t.Fatalf("resumed at %+v, want %s", ev, rev.ID)
	}
	// The unfiltered stream carries the other device too.
	all := stream(t, h, 1, "", "")
	if ev := next(t, all); ev.DID != other.DID.String() {
		t.Fatalf("first event of the unfiltered stream: %+v", ev)
	}
}

package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bias-iot/bias/op"
)

// TestBoundedLabels: a value outside a label's set is counted as other,
// so that no caller can put a DID (or any unbounded value) in a label.
func TestBoundedLabels(t *testing.T) {
	m := New()
	const id = "did:bias:local:abcdefghijklmnopqrstuvwxyz012345"
	m.Submitted(id, false, id)
	m.Committed(op.TypeRegister, id)
	m.Decided(id, id, id, time.Millisecond)
	m.Resolved(id, id, time.Millisecond)
	m.EntityMoved(id, "", id)
	m.Evaluated(id, id, 7)
	m.Subscribed(id, 1)
	if got := testutil.ToFloat64(m.opsSubmitted.WithLabelValues(Other, "refused", Other)); got != 1 {
		t.Fatalf("submitted other: %v", got)
	}
	if got := testutil.ToFloat64(m.opsCommitted.WithLabelValues(op.TypeRegister, "rejected", Other)); got != 1 {
		t.Fatalf("committed: %v", got)
	}
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if strings.Contains(l.GetValue(), "did:") {
					t.Fatalf("%s has the label %s=%q", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// TestEntityMoves: the entity gauge follows moves from one status to
// another, from the start counts.
func TestEntityMoves(t *testing.T) {
	m := New()
	m.AddEntities(op.KindDevice, op.StatusPending, 1)
	m.AddEntities(op.KindDevice, op.StatusPending, 1)
	m.EntityMoved(op.KindDevice, op.StatusPending, op.StatusValidated)
	m.EntityMoved(op.KindDevice, "", op.StatusPending)
	m.EntityMoved(op.KindDevice, op.StatusValidated, op.StatusValidated) // an update: no move
	for status, want := range map[string]float64{op.StatusPending: 2, op.StatusValidated: 1} {
		if got := testutil.ToFloat64(m.entities.WithLabelValues(op.KindDevice, status)); got != want {
			t.Errorf("%s: %v, want %v", status, got, want)
		}
	}
	m.ResetEntities()
	if got := testutil.CollectAndCount(m.entities); got != 0 {
		t.Errorf("after a reset: %d entity gauges", got)
	}
}

// TestNil: nil metrics record nothing and serve 404.
func TestNil(t *testing.T) {
	var m *Metrics
	m.Submitted(op.TypeRegister, true, "ok")
	m.Committed(op.TypeRegister, "ok")
	m.SetReady(true)
	if m.Registry() != nil || m.Handler() == nil {
		t.Fatal("nil metrics")
	}
}

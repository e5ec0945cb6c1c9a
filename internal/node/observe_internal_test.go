package node

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/bias-iot/bias/internal/metrics"
	"github.com/bias-iot/bias/internal/registry"
	"github.com/bias-iot/bias/internal/state/statetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// TestEntityCount: the count of the state runs in the background; the
// moves made while it runs are held and added when it ends (never a
// partial count in the gauges), the moves after it go straight in, and a
// count stopped before its end leaves the gauges as they were.
func TestEntityCount(t *testing.T) {
	st := statetest.Open(t)
	const n = 20_000 // every fifth pending, the others validated
	for i := range n {
		status := op.StatusValidated
		if i%5 == 0 {
			status = op.StatusPending
		}
		id := fmt.Sprintf("did:bias:test:%06d", i)
		b, err := op.Marshal(record.Entity{DID: id, Kind: op.KindDevice, Status: status})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Set(record.EntityKey(id), b); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := st.Commit(); err != nil {
		t.Fatal(err)
	}
	// entities returns the device gauges by status.
	entities := func(m *metrics.Metrics) map[string]float64 {
		t.Helper()
		fams, err := m.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, f := range fams {
			if f.GetName() != "bias_entities" {
				continue
			}
			for _, mt := range f.GetMetric() {
				l := map[string]string{}
				for _, p := range mt.GetLabel() {
					l[p.GetName()] = p.GetValue()
				}
				if l["kind"] == op.KindDevice {
					out[l["status"]] = mt.GetGauge().GetValue()
				}
			}
		}
		return out
	}
	gauge := func(m *metrics.Metrics, status string) float64 { return entities(m)[status] }
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	// Stopped (almost always before its end): no gauge at all, or the
	// whole count, never a part of it.
	m := metrics.New()
	c := &entityCount{m: m, log: log}
	c.recount(st)
	c.halt()
	if got := entities(m); len(got) != 0 && (got[op.StatusValidated] != n*4/5 || got[op.StatusPending] != n/5) {
		t.Errorf("a stopped count left a part of the count: %v", got)
	}

	m = metrics.New()
	c = &entityCount{m: m, log: log}
	c.recount(st)
	c.mu.Lock()
	running, done := c.deltas != nil, c.done
	c.mu.Unlock()
	if !running {
		t.Fatal("the count does not hold the moves made while it runs")
	}
	// A new pending device, and one pending validated: while the count
	// runs (held) or after it (straight in), the sum is the same.
	c.moved([]registry.Move{{Kind: op.KindDevice, To: op.StatusPending}, {Kind: op.KindDevice, From: op.StatusPending, To: op.StatusValidated}})
	<-done
	if got := gauge(m, op.StatusValidated); got != n*4/5+1 {
		t.Errorf("validated: %v, want %d", got, n*4/5+1)
	}
	if got := gauge(m, op.StatusPending); got != n/5 {
		t.Errorf("pending: %v, want %d", got, n/5)
	}
	c.moved([]registry.Move{{Kind: op.KindDevice, From: op.StatusValidated, To: op.StatusRevoked}})
	if got, rev := gauge(m, op.StatusValidated), gauge(m, op.StatusRevoked); got != n*4/5 || rev != 1 {
		t.Errorf("after the count: validated %v, revoked %v", got, rev)
	}
}

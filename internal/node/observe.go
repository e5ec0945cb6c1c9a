package node

import (
	"github.com/bias-iot/bias/internal/contract"
	"github.com/bias-iot/bias/internal/metrics"
	"github.com/bias-iot/bias/internal/registry"
	"github.com/bias-iot/bias/internal/state"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// observer feeds the registry's and the ledger's events to the metrics
// (registry.Observer, cometledger.Observer).
type observer struct{ m *metrics.Metrics }

func (o observer) Committed(typ string, r op.Reason) { o.m.Committed(typ, string(r)) }

func (o observer) Moved(moves []registry.Move) {
	for _, mv := range moves {
		o.m.EntityMoved(mv.Kind, mv.From, mv.To)
	}
}

func (o observer) Evaluated(k contract.Kind, d contract.Decision) {
	o.m.Evaluated(string(k), d.Outcome, d.Cost)
}

func (o observer) Resent(n int) { o.m.Resent(n) }
func (o observer) Stalled()     { o.m.Stalled() }

// countEntities sets the entity gauges from the committed state, once
// at start (the registry's observer keeps them from then on): a read of
// every entity record.
func countEntities(st *state.Store, m *metrics.Metrics) error {
	type ks struct{ kind, status string }
	counts := map[ks]int{}
	prefix := record.EntityKey("")
	end := append([]byte(nil), prefix...)
	end[len(end)-1]++
	var derr error
	err := st.Latest().Iterate(prefix, end, func(_, v []byte) bool {
		e, err := record.DecodeEntity(v)
		if err != nil {
			derr = err
			return false
		}
		counts[ks{e.Kind, e.Status}]++
		return true
	})
	if err != nil {
		return err
	}
	if derr != nil {
		return derr
	}
	for k, n := range counts {
		m.SetEntities(k.kind, k.status, n)
	}
	return nil
}

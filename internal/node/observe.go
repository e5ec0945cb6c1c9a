package node

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/bias-iot/bias/internal/contract"
	"github.com/bias-iot/bias/internal/metrics"
	"github.com/bias-iot/bias/internal/registry"
	"github.com/bias-iot/bias/internal/state"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// observer feeds the registry's and the ledger's events to the metrics
// (registry.Observer, cometledger.Observer).
type observer struct {
	m        *metrics.Metrics
	entities *entityCount
}

func (o observer) Committed(typ string, r op.Reason) { o.m.Committed(typ, string(r)) }

func (o observer) Moved(moves []registry.Move) { o.entities.moved(moves) }

func (o observer) Evaluated(k contract.Kind, d contract.Decision) {
	o.m.Evaluated(string(k), d.Outcome, d.Cost)
}

func (o observer) Resent(n int) { o.m.Resent(n) }
func (o observer) Stalled()     { o.m.Stalled() }

// entityCount keeps the entity gauges: a count of the committed state,
// made in the background (at 1M devices the scan takes about a minute,
// and a node must serve and stop meanwhile), plus the registry's moves.
// While a count runs, the moves since its version are held and added
// when it ends, so the gauges never show a partial count.
type entityCount struct {
	m   *metrics.Metrics
	log *slog.Logger

	mu     sync.Mutex
	gen    int              // the count running (a recount supersedes it)
	deltas map[entityKS]int // moves since the count's version; nil: none runs
	stop   context.CancelFunc
	done   chan struct{}
}

type entityKS struct{ kind, status string }

func (c *entityCount) moved(moves []registry.Move) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, mv := range moves {
		if c.deltas == nil {
			c.m.EntityMoved(mv.Kind, mv.From, mv.To)
			continue
		}
		if mv.From == mv.To {
			continue
		}
		if mv.From != "" {
			c.deltas[entityKS{mv.Kind, mv.From}]--
		}
		c.deltas[entityKS{mv.Kind, mv.To}]++
	}
}

// recount counts the entities of st's last committed version in the
// background. Call it when no block is being applied (at start, before
// the ledger runs; when a snapshot is restored), so that every move after
// the version counted comes after it; it returns once the version is
// taken.
func (c *entityCount) recount(st *state.Store) {
	view, err := st.LatestView()
	if err != nil {
		c.log.Error("cannot count the entities: the gauges stay as they are", "err", err)
		return
	}
	c.halt()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	c.mu.Lock()
	c.gen++
	gen := c.gen
	c.deltas = map[entityKS]int{}
	c.stop, c.done = cancel, done
	c.mu.Unlock()
	go func() {
		defer close(done)
		defer view.Release()
		t0 := time.Now()
		counts, err := countEntities(ctx, view)
		c.mu.Lock()
		defer c.mu.Unlock()
		if gen != c.gen {
			return
		}
		if err != nil {
			if ctx.Err() == nil {
				c.log.Error("count the entities", "version", view.Version(), "err", err)
			}
			return // (the moves stay held: the gauges are not a partial count)
		}
		total := 0
		c.m.ResetEntities()
		for k, n := range counts {
			c.m.AddEntities(k.kind, k.status, n)
			total += n
		}
		for k, d := range c.deltas {
			c.m.AddEntities(k.kind, k.status, d)
		}
		c.deltas = nil
		c.log.Info("counted the entities", "entities", total, "height", view.Version(), "took", time.Since(t0).Round(time.Millisecond))
	}()
}

// halt stops a count that runs and waits for it.
func (c *entityCount) halt() {
	c.mu.Lock()
	stop, done := c.stop, c.done
	c.stop, c.done = nil, nil
	c.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// countEntities counts the entity records in view by kind and status.
func countEntities(ctx context.Context, view *state.View) (map[entityKS]int, error) {
	counts := map[entityKS]int{}
	prefix := record.EntityKey("")
	end := append([]byte(nil), prefix...)
	end[len(end)-1]++
	var derr error
	n := 0
	err := view.Iterate(prefix, end, func(_, v []byte) bool {
		if n++; n%4096 == 0 && ctx.Err() != nil {
			derr = ctx.Err()
			return false
		}
		e, err := record.DecodeEntity(v)
		if err != nil {
			derr = err
			return false
		}
		counts[entityKS{e.Kind, e.Status}]++
		return true
	})
	return counts, errors.Join(err, derr)
}

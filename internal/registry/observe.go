package registry

import (
	"github.com/bias-iot/bias/internal/contract"
	"github.com/bias-iot/bias/op"
)

// Observer hears what the application decides in FinalizeBlock, for
// metrics. It is told, never asked: nothing it returns or does reaches
// the state, so the application stays deterministic with or without
// one. Its methods must not block.
type Observer interface {
	// Committed: an operation of type typ ("" when it did not decode)
	// was decided in a block with reason (op.ReasonOK when it applied).
	Committed(typ string, reason op.Reason)
	// Moved: applied operations changed entities' statuses.
	Moved(moves []Move)
	// Evaluated: a contract ran (registration contracts in FinalizeBlock,
	// access contracts in the node's decisions).
	Evaluated(kind contract.Kind, d contract.Decision)
}

// Move is an entity's change of status: From is "" for a new entity.
type Move struct{ Kind, From, To string }

// Observe sets the application's observer; call it before the node
// starts.
func (a *App) Observe(o Observer) {
	a.obs = o
	a.programs.Observe(o.Evaluated)
}

func (a *App) observeCommitted(s *op.Signed, r op.Reason, moves []Move) {
	if a.obs == nil {
		return
	}
	typ := ""
	if s != nil {
		typ = s.Payload.Type
	}
	a.obs.Committed(typ, r)
	if len(moves) > 0 {
		a.obs.Moved(moves)
	}
}

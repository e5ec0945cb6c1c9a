package ca

import (
	"context"
	"errors"
	"time"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/record"
)

// refreshEvery is how often Follow looks whether the CRL is due for a
// re-signing (at half its validity) even with no change.
const refreshEvery = time.Minute

// Follow keeps the CA's certificates in step with the ledger, until ctx
// ends: first every held DID is read again (what happened while the node
// was down), then each committed block from height from on: a DID that
// an entity event names is read again, and a certificate whose device is
// no longer validated, or whose key is no longer current, is revoked. A
// block that revoked any is followed by a new CRL (file, hook) before the
// next block is looked at.
//
// On a node that does not hold block from (it joined by state sync, or
// pruned), the held DIDs are read again at the state it holds, and the
// blocks are followed from the first it holds.
func (a *Authority) Follow(ctx context.Context, w ledger.Watcher, from int64) error {
	a.recheckAll(ctx)
	blocks, err := w.Watch(ctx, from)
	var pruned *ledger.PrunedError
	if errors.As(err, &pruned) && pruned.First > from {
		a.log.Info("x509: the node holds no blocks before its first; following from there", "from", from, "first", pruned.First)
		a.recheckAll(ctx)
		blocks, err = w.Watch(ctx, pruned.First)
	}
	if err != nil {
		return err
	}
	tick := time.NewTicker(refreshEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case b, ok := <-blocks:
			if !ok {
				return ctx.Err()
			}
			if a.block(ctx, b) {
				a.drainDirty()
				if err := a.refreshCRL(ctx, true); err != nil {
					a.log.Error("x509: CRL", "err", err)
				}
			}
		case <-a.dirty:
			if err := a.refreshCRL(ctx, true); err != nil {
				a.log.Error("x509: CRL", "err", err)
			}
		case <-tick.C:
			if err := a.refreshCRL(ctx, false); err != nil {
				a.log.Error("x509: CRL", "err", err)
			}
		}
	}
}

func (a *Authority) drainDirty() {
	select {
	case <-a.dirty:
	default:
	}
}

// block handles a committed block's entity events; it reports whether a
// certificate was revoked.
func (a *Authority) block(ctx context.Context, b ledger.Block) bool {
	seen := map[string]bool{}
	changed := false
	for _, res := range b.Results {
		if res.Code != 0 {
			continue
		}
		for _, ev := range res.Events {
			if ev.Type != record.EventEntity {
				continue
			}
			for _, at := range ev.Attrs {
				if at.Key != "did" || seen[at.Value] || !a.validDID(at.Value) {
					continue
				}
				seen[at.Value] = true
				if a.recheck(ctx, at.Value) {
					changed = true
				}
			}
		}
	}
	return changed
}

// recheckAll reads every held DID again, and issues a new CRL when a
// certificate was revoked.
func (a *Authority) recheckAll(ctx context.Context) {
	changed := false
	for _, id := range a.idx.DIDs() {
		if a.recheck(ctx, id) {
			changed = true
		}
	}
	if changed {
		a.drainDirty()
		if err := a.refreshCRL(ctx, true); err != nil {
			a.log.Error("x509: CRL", "err", err)
		}
	}
}

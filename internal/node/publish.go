package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
)

// publish keeps one part of what the node publishes for its provider on
// the ledger (its token key, its CA certificate): it reads the provider's
// publication, applies edit to it, and when edit changed it, submits
// provider.publish signed with the admin key, naming the version it
// replaces. It reads again after each submission, and tries again when
// another publication came first (stale version) or the ledger did not
// answer, until the publication holds the edit or ctx ends. what names
// the part in the log.
func (n *Node) publish(ctx context.Context, log *slog.Logger, what string, prov did.DID, admin cose.Signer, edit func(cur op.Publish) (op.Publish, bool)) {
	if err := n.led.WaitHeight(ctx, 1); err != nil {
		return
	}
	for try, wait := 0, time.Duration(0); ; try, wait = try+1, min(max(2*wait, 250*time.Millisecond), 5*time.Second) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		done, err := n.publishOnce(ctx, prov, admin, edit)
		switch {
		case done && err != nil:
			log.Warn(what+": not published", "provider", prov.String(), "err", err)
			return
		case done:
			if try > 0 {
				log.Info(what+": published", "provider", prov.String())
			}
			return
		case err != nil && ctx.Err() == nil:
			log.Info(what+": publishing failed; retrying", "provider", prov.String(), "err", err)
		}
	}
}

// publishOnce is one round of publish: done when the publication holds
// the edit (or can never be made to, with the error why).
func (n *Node) publishOnce(ctx context.Context, prov did.DID, admin cose.Signer, edit func(cur op.Publish) (op.Publish, bool)) (bool, error) {
	p, err := n.res.Provider(ctx, prov.String())
	if err != nil {
		return false, fmt.Errorf("reading the provider: %w", err)
	}
	if p == nil {
		return false, errors.New("the provider is not in the state yet")
	}
	cur := op.Publish{Provider: prov.String(), Version: p.PublicationVersion()}
	if pub := p.Publication; pub != nil {
		cur.CA, cur.TokenKeys = pub.CA, pub.TokenKeys
	}
	next, changed := edit(cur)
	if !changed {
		return true, nil
	}
	next.Provider, next.Version = cur.Provider, cur.Version
	kid, ok := adminKid(p, admin.Public())
	if !ok {
		return true, errors.New("the admin key in the home is not one of the provider's")
	}
	tx, err := op.Sign(admin, kid, op.Payload{Type: op.TypePublish, Network: n.cfg.Network, Publish: &next})
	if err != nil {
		return true, err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := n.led.Submit(sctx, tx)
	if err != nil {
		return false, err
	}
	if res.Code != 0 {
		return false, fmt.Errorf("provider.publish refused: %s: %s", op.ReasonFromCode(res.Code), res.Log)
	}
	return false, nil // read back on the next round
}

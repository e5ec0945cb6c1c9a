package registry

import (
	"bytes"
	"strconv"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// publish sets a provider's published CA certificates and token keys,
// signed by an admin key of the provider. It names the publication
// version it replaces; a replay of the operation that made the current
// one is refused as such.
func (x *executor) publish() (*outcome, error) {
	pub := x.s.Payload.Publish
	if x.s.Kid.Base().String() != pub.Provider {
		return nil, op.Reject(op.ReasonUnauthorized, "a provider's publication is signed by an admin key of that provider")
	}
	prov, err := x.providerSigner(pub.Provider)
	if err != nil {
		return nil, err
	}
	cur := prov.PublicationVersion()
	if cur > 0 && pub.Version+1 == cur && bytes.Equal(prov.Publication.LastOp, x.s.PayloadHash[:]) {
		// The first publication names version 0, which the generic guard
		// does not look behind.
		return nil, op.Reject(op.ReasonReplayed, "this publication was already applied")
	}
	lastOp := func(v uint64) ([]byte, error) {
		if v == cur {
			return prov.Publication.LastOp, nil
		}
		return nil, nil // earlier publications are not kept
	}
	if err := x.checkNamedVersion(pub.Version, cur, lastOp, func(uint64) string { return "this publication was already applied" }); err != nil {
		return nil, err
	}
	next := *prov
	next.Publication = &record.Publication{
		Version: cur + 1, CA: pub.CA, TokenKeys: pub.TokenKeys, Updated: x.b.Time, Height: x.b.Height,
		LastOp: append([]byte(nil), x.s.PayloadHash[:]...),
	}
	b, err := op.Marshal(next)
	if err != nil {
		return nil, err
	}
	return &outcome{
		writes: []write{{record.ProviderKey(prov.DID), b}},
		result: record.Result{DID: prov.DID, Version: next.Publication.Version},
		events: []ledger.Event{ledgerEvent(record.EventProvider, []record.Attr{
			{Key: "provider", Value: prov.DID}, {Key: "version", Value: strconv.FormatUint(next.Publication.Version, 10)},
		})},
	}, nil
}

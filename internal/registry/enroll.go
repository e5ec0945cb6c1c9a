package registry

import (
	"fmt"
	"slices"

	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// enroll registers a provider's batch of devices, validated, signed by
// an admin key of the provider: all of them or none.
func (x *executor) enroll() (*outcome, error) {
	en := x.s.Payload.Enroll
	if x.s.Kid.Base().String() != en.Provider {
		return nil, op.Reject(op.ReasonUnauthorized, "a bulk enrollment must be signed by an admin key of its provider")
	}
	if _, err := x.providerSigner(en.Provider); err != nil {
		return nil, err
	}
	out := &outcome{result: record.Result{Count: len(en.Items), Status: op.StatusValidated}}
	if x.final { // one write, event and move a device (more for its aliases)
		n := len(en.Items)
		out.writes, out.events, out.moves = slices.Grow(out.writes, n), slices.Grow(out.events, n), slices.Grow(out.moves, n)
	}
	seen := make(map[string]bool, len(en.Items))
	x.claims = map[string]string{}
	for i, item := range en.Items {
		id, err := op.EnrollDID(x.a.network, en.Provider, item)
		if err != nil {
			return nil, err
		}
		ids := id.String()
		if seen[ids] {
			return nil, op.Reject(op.ReasonInvalidField, fmt.Sprintf("enroll.items[%d] repeats an earlier item", i))
		}
		seen[ids] = true
		exists, err := x.st.Get(record.EntityKey(ids))
		if err != nil {
			return nil, err
		}
		if exists != nil {
			return nil, op.Reject(op.ReasonReplayed, fmt.Sprintf("enroll.items[%d] is already registered as %s", i, ids))
		}
		doc, err := canonicalDoc(item.Doc)
		if err != nil {
			return nil, err
		}
		if err := x.checkAccess(op.KindDevice, en.Provider, doc.Access, nil); err != nil {
			return nil, err
		}
		e := &record.Entity{
			DID: ids, Kind: op.KindDevice, Provider: en.Provider, Doc: doc, Status: op.StatusValidated,
			Version: 1, Created: x.b.Time, Updated: x.b.Time, CreatedHeight: x.b.Height, UpdatedHeight: x.b.Height,
		}
		if !x.final {
			// A check (Precheck, CheckTx) needs only the refusals: the
			// records, their events and writes are made in FinalizeBlock.
			// Of commitEntity, only the aliases can refuse.
			if len(doc.Aliases) > 0 {
				if _, err := x.reindex(nil, e); err != nil {
					return nil, err
				}
			}
			continue
		}
		o, err := x.commitEntity(nil, e, op.TypeEnroll)
		if err != nil {
			return nil, err
		}
		out.writes = append(out.writes, o.writes...)
		out.events = append(out.events, o.events...)
		out.moves = append(out.moves, o.moves...)
	}
	return out, nil
}

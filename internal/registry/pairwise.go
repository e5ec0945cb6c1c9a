package registry

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// pairwise registers a provider's pairwise DIDs, validated, signed by an
// admin key of the provider: all of them or none. Each record keeps the
// commitment to its device, never the device's DID.
func (x *executor) pairwise() (*outcome, error) {
	pw := x.s.Payload.Pairwise
	if x.s.Kid.Base().String() != pw.Provider {
		return nil, op.Reject(op.ReasonUnauthorized, "pairwise DIDs must be registered by an admin key of their provider")
	}
	if _, err := x.providerSigner(pw.Provider); err != nil {
		return nil, err
	}
	out := &outcome{result: record.Result{Count: len(pw.Items), Status: op.StatusValidated}}
	for i, item := range pw.Items {
		id, err := op.PairwiseDID(x.a.network, pw.Provider, item)
		if err != nil {
			return nil, err
		}
		ids := id.String()
		exists, err := x.st.Get(record.EntityKey(ids))
		if err != nil {
			return nil, err
		}
		if exists != nil {
			return nil, op.Reject(op.ReasonReplayed, fmt.Sprintf("pairwise.items[%d] is already registered as %s", i, ids))
		}
		if err := x.checkAccess(op.KindDevice, pw.Provider, item.Doc.Access, nil); err != nil {
			return nil, err
		}
		e := &record.Entity{
			DID: ids, Kind: op.KindDevice, Provider: pw.Provider, Doc: item.Doc, Status: op.StatusValidated, Pairwise: item.Commit,
			Version: 1, Created: x.b.Time, Updated: x.b.Time, CreatedHeight: x.b.Height, UpdatedHeight: x.b.Height,
		}
		o, err := x.commitEntity(nil, e, op.TypePairwise)
		if err != nil {
			return nil, err
		}
		out.writes = append(out.writes, o.writes...)
		out.events = append(out.events, o.events...)
	}
	return out, nil
}

// withPairwise adds to a device's revocation (out, the device's new
// version; device, the version it replaces) the revocation of the
// pairwise DIDs it carries, in the same operation: each is registered
// (else unknown-entity), of the device's provider (else unauthorized), a
// pairwise DID whose commitment the salt opens to this device (else
// invalid-field); one no longer standing (revoked, rejected, deactivated)
// is passed over. Each opening puts
// the link on the ledger: a revocation is where it becomes public.
func (x *executor) withPairwise(device *record.Entity, out *outcome) (*outcome, error) {
	out.revokedPairwise = 0
	for i, o := range x.s.Payload.Status.Pairwise {
		f := fmt.Sprintf("status.pairwise[%d]", i)
		e, err := getEntity(x.st, o.DID)
		if err != nil {
			return nil, err
		}
		switch {
		case e == nil:
			return nil, later(op.Reject(op.ReasonUnknownEntity, f+": "+o.DID+" is not registered"))
		case e.Provider != device.Provider:
			return nil, op.Reject(op.ReasonUnauthorized, f+": "+o.DID+" is a pairwise DID of another provider")
		case e.Pairwise == nil:
			return nil, op.Reject(op.ReasonInvalidField, f+": "+o.DID+" is not a pairwise DID")
		case !bytes.Equal(e.Pairwise, op.PairwiseCommit(x.a.network, device.DID, o.Salt)):
			return nil, op.Reject(op.ReasonInvalidField, f+": the salt does not open "+o.DID+"'s commitment to "+device.DID)
		case !slices.Contains(transitions[op.TypeRevoke], e.Status):
			// Already out of standing (revoked, rejected, or deactivated by
			// its own, perhaps stolen, key): nothing to revoke, and no
			// reason to refuse the revocation of the others.
			continue
		}
		next := *e
		next.Status = op.StatusRevoked
		next.StatusReason = x.s.Payload.Status.Reason
		po, err := x.commitEntity(e, x.bump(&next), op.TypeRevoke)
		if err != nil {
			return nil, err
		}
		out.writes = append(out.writes, po.writes...)
		out.events = append(out.events, po.events...)
		out.revokedPairwise++
	}
	return out, nil
}

package registry

import (
	"fmt"

	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// transitions lists, per status operation, the statuses it may act on.
var transitions = map[string][]string{
	op.TypeValidate:   {op.StatusPending, op.StatusRejected},
	op.TypeReject:     {op.StatusPending},
	op.TypeRevoke:     {op.StatusPending, op.StatusValidated},
	op.TypeDeactivate: {op.StatusPending, op.StatusValidated, op.StatusRejected, op.StatusRevoked},
}

var statusAfter = map[string]string{
	op.TypeValidate:   op.StatusValidated,
	op.TypeReject:     op.StatusRejected,
	op.TypeRevoke:     op.StatusRevoked,
	op.TypeDeactivate: op.StatusDeactivated,
}

// status applies a status change (validate, reject, revoke, deactivate):
// the provider's, or the entity's own deactivation.
func (x *executor) status() (*outcome, error) {
	typ := x.s.Payload.Type
	e, self, err := x.target()
	if err != nil {
		return nil, err
	}
	if self && typ != op.TypeDeactivate {
		return nil, op.Reject(op.ReasonUnauthorized, "only the entity's provider may "+typ[len("entity."):]+" it")
	}
	// A revocation stands against the entity's own keys (they may be the
	// stolen ones): only the provider may deactivate a revoked entity.
	if self && e.Status == op.StatusRevoked {
		return nil, later(op.Reject(op.ReasonInvalidTransition, "a revoked entity cannot deactivate itself; its provider can"))
	}
	if err := x.checkVersion(e); err != nil {
		return nil, err
	}
	allowed := false
	for _, s := range transitions[typ] {
		allowed = allowed || s == e.Status
	}
	if !allowed {
		// A device that deactivated itself (perhaps with a stolen key)
		// leaves its pairwise DIDs standing: its provider's revocation
		// with their openings still revokes them, and the device stays
		// deactivated. One that revokes nothing is refused (a replay).
		if typ == op.TypeRevoke && e.Status == op.StatusDeactivated && len(x.s.Payload.Status.Pairwise) > 0 {
			out, err := x.withPairwise(e, &outcome{result: record.Result{DID: e.DID, Version: e.Version}})
			if err == nil && out.revokedPairwise == 0 {
				return nil, op.Reject(op.ReasonInvalidTransition, "the device is deactivated and none of the pairwise DIDs named still stands")
			}
			return out, err
		}
		return nil, later(op.Reject(op.ReasonInvalidTransition, fmt.Sprintf("%s is not allowed on a %s entity", typ, e.Status)))
	}
	next := *e
	next.Status = statusAfter[typ]
	next.StatusReason = x.s.Payload.Status.Reason
	out, err := x.commitEntity(e, x.bump(&next), typ)
	if err != nil {
		return nil, err
	}
	return x.withPairwise(e, out)
}

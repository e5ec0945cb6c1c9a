package registry

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// checkVersion is the replay guard of operations on an entity: they name
// the version they act on. An older version whose successor was made by
// this very payload is a replay; any other mismatch is stale.
func (x *executor) checkVersion(e *record.Entity) error {
	v := x.s.Payload.TargetVersion()
	if v == e.Version {
		return nil
	}
	if v < e.Version && v > 0 {
		h := e
		if v+1 < e.Version {
			var err error
			if h, err = getHistory(x.st, e.DID, v+1); err != nil {
				return err
			}
		}
		if h != nil && bytes.Equal(h.LastOp, x.s.PayloadHash[:]) {
			return op.Reject(op.ReasonReplayed, "this operation was already applied at version "+strconv.FormatUint(v+1, 10))
		}
	}
	stale := op.Reject(op.ReasonStaleVersion, fmt.Sprintf("names version %d; current is %d", v, e.Version))
	if v > e.Version {
		return later(stale)
	}
	return stale
}

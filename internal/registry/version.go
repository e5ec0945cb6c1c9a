package registry

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// checkNamedVersion is the replay guard of an operation that names the
// version it acts on (named) of a record now at version current. An
// older version whose successor this very payload made is a replay:
// lastOp(v) returns the payload hash that made version v, and replayed
// says so. Any other mismatch is stale, and deferred when the named
// version is ahead (a block not seen here may reach it).
func (x *executor) checkNamedVersion(named, current uint64, lastOp func(v uint64) ([]byte, error), replayed func(v uint64) string) error {
	if named == current {
		return nil
	}
	if named < current && named > 0 {
		h, err := lastOp(named + 1)
		if err != nil {
			return err
		}
		if bytes.Equal(h, x.s.PayloadHash[:]) {
			return op.Reject(op.ReasonReplayed, replayed(named+1))
		}
	}
	stale := op.Reject(op.ReasonStaleVersion, fmt.Sprintf("names version %d; current is %d", named, current))
	if named > current {
		return later(stale)
	}
	return stale
}

// checkVersion is the version guard of operations on an entity (updates
// and status changes). Version v's successor is the current record or in
// the history.
func (x *executor) checkVersion(e *record.Entity) error {
	lastOp := func(v uint64) ([]byte, error) {
		if v == e.Version {
			return e.LastOp, nil
		}
		h, err := getHistory(x.st, e.DID, v)
		if err != nil || h == nil {
			return nil, err
		}
		return h.LastOp, nil
	}
	return x.checkNamedVersion(x.s.Payload.TargetVersion(), e.Version, lastOp, func(v uint64) string {
		return "this operation was already applied at version " + strconv.FormatUint(v, 10)
	})
}

// checkContractVersion is the version guard of a contract update; cur
// is the contract's current version. A failed read of the store is a
// broken invariant, as for an entity.
func (x *executor) checkContractVersion(cur *record.Contract) error {
	c := x.s.Payload.Contract
	lastOp := func(v uint64) ([]byte, error) {
		prev, err := getContractVersion(x.st, c.Provider, c.Name, v)
		if err != nil || prev == nil {
			return nil, err
		}
		return prev.LastOp, nil
	}
	return x.checkNamedVersion(c.Version, cur.Version, lastOp, func(uint64) string { return "this update was already applied" })
}

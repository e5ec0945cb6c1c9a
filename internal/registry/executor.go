package registry

import (
	"fmt"
	"slices"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/state"
	"github.com/bias-iot/bias/legacyid"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// blockInfo is what an operation may know of its block: from the header,
// never from the clock.
type blockInfo struct {
	Height int64
	Time   int64 // Unix nanoseconds
	// Gov is the governance record at the block's start (nil when an
	// operation is checked outside a block): the validator set the
	// block's changes are measured from, together.
	Gov *record.Governance
}

// write is one state change that an operation makes.
type write struct {
	key, value []byte
}

// outcome is the effect of an accepted operation.
type outcome struct {
	revokedPairwise int // pairwise DIDs a revocation took with it (pairwise.go)
	writes          []write
	result          record.Result
	events          []ledger.Event
	// moves are the entities' changes of status, for the observer.
	moves []Move
}

// execute checks a decoded operation against the state st and returns
// the writes it makes. A rejection is an *op.Error; any other error is a
// broken invariant (a failed read of the store).
//
// Each operation has its file: register.go, update.go, status.go,
// enroll.go, pairwise.go, contractop.go, publish.go, gov.go, keys.go. They share the signer checks (signer.go), the
// version guard (version.go), the registration contract (decide.go) and
// the access contract bindings (bindings.go).
func (a *App) execute(st state.Reader, txHash [32]byte, s *op.Signed, b blockInfo, final bool) (*outcome, []byte, error) {
	p := &s.Payload
	if p.Network != a.network {
		return nil, nil, op.Reject(op.ReasonWrongNetwork, fmt.Sprintf("operation is for network %.32q, this is %q", p.Network, a.network))
	}
	x := &executor{a: a, st: st, txHash: txHash, s: s, b: b, final: final}
	var out *outcome
	var err error
	switch p.Type {
	case op.TypeRegister:
		out, err = x.register()
	case op.TypeUpdate:
		out, err = x.update()
	case op.TypeDeactivate, op.TypeValidate, op.TypeReject, op.TypeRevoke:
		out, err = x.status()
	case op.TypeEnroll:
		out, err = x.enroll()
	case op.TypePairwise:
		out, err = x.pairwise()
	case op.TypeDeploy, op.TypeContractUp:
		out, err = x.contract()
	case op.TypePublish:
		out, err = x.publish()
	case op.TypePropose:
		out, err = x.propose()
	case op.TypeVote:
		out, err = x.vote()
	case op.TypeCredentialStatus:
		out, err = x.credentialStatus()
	case op.TypeKeys:
		out, err = x.providerKeys()
	default:
		err = op.Reject(op.ReasonMalformed, "unknown operation type")
	}
	return out, x.verifiedKey, err
}

// executor checks and applies one operation against one state.
type executor struct {
	a      *App
	st     state.Reader
	txHash [32]byte
	s      *op.Signed
	b      blockInfo
	// claims holds the aliases claimed so far by this operation (a bulk
	// enrollment claims many before any is written).
	claims map[string]string
	// verifiedKey is the key the signature verified with.
	verifiedKey []byte
	// final is set in FinalizeBlock. Registration contracts run only
	// then: their decision sets a status, never whether the operation
	// applies, so CheckTx need not pay for them (a contract's validation
	// can still meet an alias-taken there, in the block).
	final bool
}

func (x *executor) bump(e *record.Entity) *record.Entity {
	e.Version++
	e.Updated = x.b.Time
	e.UpdatedHeight = x.b.Height
	return e
}

// commitEntity returns the writes of a new entity version: the current
// record, the record it replaces (prev, nil for a new entity) filed into
// the history, and the changes to the legacy-identifier index. A
// registration thus costs one write.
func (x *executor) commitEntity(prev, e *record.Entity, typ string) (*outcome, error) {
	index, err := x.reindex(prev, e)
	if err != nil {
		return nil, err
	}
	e.LastOp = append([]byte(nil), x.s.PayloadHash[:]...)
	e.LastOpType = typ
	b, err := op.Marshal(e)
	if err != nil {
		return nil, err
	}
	out := &outcome{
		writes: append([]write{{record.EntityKey(e.DID), b}}, index...),
		result: record.Result{DID: e.DID, Version: e.Version, Status: e.Status},
		events: []ledger.Event{entityEvent(typ, e)},
		moves:  []Move{{Kind: e.Kind, To: e.Status}},
	}
	if prev != nil {
		out.moves[0].From = prev.Status
		pb, err := op.Marshal(prev)
		if err != nil {
			return nil, err
		}
		out.writes = append(out.writes, write{record.HistoryKey(prev.DID, prev.Version), pb})
	}
	return out, nil
}

// reindex keeps the legacy-identifier index: an entity holds its aliases
// while it is validated (not before: no squatting by a pending
// registration; not after a revocation or deactivation). An alias that
// another entity holds is refused.
func (x *executor) reindex(prev, next *record.Entity) ([]write, error) {
	held := func(e *record.Entity) []string {
		if e != nil && e.Status == op.StatusValidated {
			return e.Doc.Aliases
		}
		return nil
	}
	old, neu := held(prev), held(next)
	var ws []write
	for _, a := range neu {
		if slices.Contains(old, a) {
			continue
		}
		if owner, ok := x.claims[a]; ok && owner != next.DID {
			return nil, op.Reject(op.ReasonAliasTaken, a+" is claimed twice in this operation")
		}
		b, err := x.st.Get(record.AliasKey(a))
		if err != nil {
			return nil, err
		}
		if b != nil && string(b) != next.DID {
			return nil, later(op.Reject(op.ReasonAliasTaken, a+" is held by "+string(b)))
		}
		ws = append(ws, write{record.AliasKey(a), []byte(next.DID)})
		if x.claims != nil {
			x.claims[a] = next.DID
		}
	}
	for _, a := range old {
		if !slices.Contains(neu, a) {
			ws = append(ws, write{record.AliasKey(a), nil})
		}
	}
	return ws, nil
}

// canonicalDoc returns doc with its legacy identifiers in canonical form.
func canonicalDoc(doc op.Document) (op.Document, error) {
	if len(doc.Aliases) == 0 {
		return doc, nil
	}
	out := make([]string, len(doc.Aliases))
	for i, a := range doc.Aliases {
		c, _, err := legacyid.Normalize(a)
		if err != nil {
			return doc, op.Reject(op.ReasonInvalidField, err.Error())
		}
		out[i] = c
	}
	doc.Aliases = out
	return doc, nil
}

func getContract(st state.Reader, provider, name string) (*record.Contract, error) {
	return read(st, record.ContractKey(provider, name), record.DecodeContract)
}

func getContractVersion(st state.Reader, provider, name string, v uint64) (*record.Contract, error) {
	return read(st, record.ContractVersionKey(provider, name, v), record.DecodeContract)
}

func getEntity(st state.Reader, id string) (*record.Entity, error) {
	return read(st, record.EntityKey(id), record.DecodeEntity)
}

func getHistory(st state.Reader, id string, v uint64) (*record.Entity, error) {
	return read(st, record.HistoryKey(id, v), record.DecodeEntity)
}

func getProvider(st state.Reader, id string) (*record.Provider, error) {
	return read(st, record.ProviderKey(id), record.DecodeProvider)
}

// read reads and decodes a record; nil, nil if the key is absent.
func read[T any](st state.Reader, key []byte, decode func([]byte) (*T, error)) (*T, error) {
	b, err := st.Get(key)
	if err != nil || b == nil {
		return nil, err
	}
	return decode(b)
}

// ledgerEvent renders an event with indexed attributes.
func ledgerEvent(typ string, attrs []record.Attr) ledger.Event {
	ev := ledger.Event{Type: typ}
	for _, a := range attrs {
		ev.Attrs = append(ev.Attrs, ledger.Attr{Key: a.Key, Value: a.Value})
	}
	return ev
}

func entityEvent(typ string, e *record.Entity) ledger.Event {
	return ledgerEvent(record.EventEntity, record.EntityEvent{Op: typ, DID: e.DID, Provider: e.Provider, Status: e.Status, Version: e.Version}.Attrs())
}

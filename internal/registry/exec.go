package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/contract"
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
}

// write is one state change that an operation makes.
type write struct {
	key, value []byte
}

// outcome is the effect of an accepted operation.
type outcome struct {
	writes []write
	result record.Result
	events []abci.Event
}

// execute checks a decoded operation against the state st and returns
// the writes it makes. A rejection is an *op.Error; any other error is a
// broken invariant (a failed read of the store).
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
	case op.TypeDeploy, op.TypeContractUp:
		out, err = x.contract()
	default:
		err = op.Reject(op.ReasonMalformed, "unknown operation type")
	}
	return out, x.verifiedKey, err
}

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

func (x *executor) verify(k op.Key) error {
	pk, err := k.Public()
	if err != nil {
		return op.Reject(op.ReasonInternal, "stored key does not parse")
	}
	x.verifiedKey = pk.Bytes()
	if x.a.ops.verified(x.txHash, pk.Bytes()) {
		return nil
	}
	if err := x.s.Msg.Verify(pk, nil); err != nil {
		return op.Reject(op.ReasonBadSignature, "signature does not verify with "+x.s.Kid.String())
	}
	return nil
}

func (x *executor) register() (*outcome, error) {
	r := x.s.Payload.Register
	id := did.New(x.s.Payload.Network, x.s.Msg.Payload)
	if x.s.Kid.Base() != id {
		return nil, op.Reject(op.ReasonUnauthorized, "a registration must be signed by one of the new entity's keys (kid "+id.String()+"#<key>)")
	}
	k, ok := record.FindKey(r.Doc.Keys, x.s.Kid.Fragment)
	if !ok {
		return nil, op.Reject(op.ReasonUnknownSigner, "kid names no key of the registration")
	}
	if err := x.verify(k); err != nil {
		return nil, err
	}
	prov, err := getProvider(x.st, r.Provider)
	if err != nil {
		return nil, err
	}
	if prov == nil {
		return nil, op.Reject(op.ReasonUnknownProvider, "provider "+r.Provider+" is not registered")
	}
	exists, err := x.st.Get(record.EntityKey(id.String()))
	if err != nil {
		return nil, err
	}
	if exists != nil {
		return nil, op.Reject(op.ReasonReplayed, "this registration was already applied: "+id.String())
	}
	doc, err := canonicalDoc(r.Doc)
	if err != nil {
		return nil, err
	}
	// Strict here: anyone can sign a registration with a new key.
	if err := x.checkAccess(r.Kind, r.Provider, doc.Access, nil); err != nil {
		return nil, strict(err)
	}
	e := &record.Entity{
		DID: id.String(), Kind: r.Kind, Provider: r.Provider, Doc: doc, Status: op.StatusPending,
		Version: 1, Created: x.b.Time, Updated: x.b.Time, CreatedHeight: x.b.Height, UpdatedHeight: x.b.Height,
	}
	var ticketKey []byte
	if r.Ticket != nil {
		claims, signed, err := x.checkTicket(r, prov, k)
		if err != nil {
			return nil, err
		}
		// A ticket enrolls one entity: the same key registered again (a
		// new DID, with another nonce) needs a new ticket. The record is
		// of what the provider signed, not of the ticket's bytes, which
		// an unsigned header or the CBOR tag would change.
		ticketKey = record.TicketKey(sha256.Sum256(signed))
		used, err := x.st.Get(ticketKey)
		if err != nil {
			return nil, err
		}
		if used != nil {
			return nil, op.Reject(op.ReasonBadTicket, "ticket already used for "+string(used))
		}
		e.Ticket = claims
	}
	if err := x.redecide(e); err != nil {
		return nil, err
	}
	holdBindings(nil, e)
	out, err := x.commitEntity(nil, e, op.TypeRegister)
	if err == nil && ticketKey != nil {
		out.writes = append(out.writes, write{ticketKey, []byte(e.DID)})
	}
	return out, err
}

// checkTicket verifies an enrollment ticket: signed by an admin key of the
// provider, for this network and provider, for the key that signs the
// registration (signer: a ticket copied from a block cannot enroll another
// key that merely lists the ticket's key), unexpired at the block time. It
// returns the claims and what the provider signed (protected header and
// payload), which identifies the ticket.
func (x *executor) checkTicket(r *op.Register, prov *record.Provider, signer op.Key) ([]op.Attr, []byte, error) {
	bad := func(msg string) error { return op.Reject(op.ReasonBadTicket, msg) }
	m, err := cose.Decode(r.Ticket)
	if err != nil {
		return nil, nil, bad("ticket is not a COSE_Sign1")
	}
	kid, err := did.Parse(string(m.Kid))
	if err != nil || kid.Base().String() != prov.DID {
		return nil, nil, bad("ticket must be signed by an admin key of the provider")
	}
	k, ok := prov.Key(kid.Fragment)
	if !ok {
		return nil, nil, bad("ticket names no admin key of the provider")
	}
	pk, err := k.Public()
	if err != nil {
		return nil, nil, op.Reject(op.ReasonInternal, "stored key does not parse")
	}
	if err := m.Verify(pk, nil); err != nil {
		return nil, nil, bad("ticket signature does not verify")
	}
	var t op.Ticket
	if err := op.Unmarshal(m.Payload, &t); err != nil {
		return nil, nil, bad("ticket payload: " + err.Error())
	}
	if t.Network != x.a.network || t.Provider != prov.DID {
		return nil, nil, bad("ticket is for another network or provider")
	}
	if t.Expires <= x.b.Time/1_000_000_000 {
		return nil, nil, bad("ticket expired")
	}
	if err := op.ValidateAttrs("ticket.claims", t.Claims); err != nil {
		return nil, nil, bad(err.Error())
	}
	if !bytes.Equal(signer.Pub, t.Key) {
		return nil, nil, bad("ticket is for another key than the one that signs the registration")
	}
	signed := binary.AppendUvarint(nil, uint64(len(m.Protected)))
	signed = append(append(signed, m.Protected...), m.Payload...)
	return t.Claims, signed, nil
}

// target loads the entity an operation acts on, resolves its signer (a key
// of the entity itself, self, or an admin key of its provider) and checks
// the signature. The caller checks the version once it has checked that
// the signer may make the operation.
func (x *executor) target() (e *record.Entity, self bool, err error) {
	id := x.s.Payload.Target()
	e, err = getEntity(x.st, id)
	if err != nil {
		return nil, false, err
	}
	if e == nil {
		return nil, false, x.unknownTarget(id)
	}
	var k op.Key
	var ok bool
	switch x.s.Kid.Base().String() {
	case e.DID:
		self = true
		k, ok = e.Key(x.s.Kid.Fragment)
	case e.Provider:
		var prov *record.Provider
		if prov, err = getProvider(x.st, e.Provider); err != nil {
			return nil, false, err
		}
		if prov != nil {
			k, ok = prov.Key(x.s.Kid.Fragment)
		}
	default:
		return nil, false, op.Reject(op.ReasonUnauthorized, "signer is neither the entity nor its provider")
	}
	// A signature is judged on the keys this state holds, in CheckTx too
	// (a key rotated in a block not yet seen here is the rare case that
	// the ledger's re-sending of waiting operations covers).
	if !ok {
		return nil, false, op.Reject(op.ReasonUnknownSigner, x.s.Kid.String()+" is not a current key")
	}
	if err := x.verify(k); err != nil {
		return nil, false, err
	}
	return e, self, nil
}

// unknownTarget rejects an operation on an entity this state lacks. The
// rejection is deferred (a block not seen here may register it) only for
// an operation that an admin key of a provider signed: an operation whose
// signer cannot be authenticated must not reach the mempool, or any peer
// could fill blocks with junk signed by nobody.
func (x *executor) unknownTarget(id string) error {
	unknown := op.Reject(op.ReasonUnknownEntity, id+" is not registered")
	prov, err := getProvider(x.st, x.s.Kid.Base().String())
	if err != nil {
		return err
	}
	if prov == nil {
		return unknown
	}
	k, ok := prov.Key(x.s.Kid.Fragment)
	if !ok {
		return unknown
	}
	if err := x.verify(k); err != nil {
		return err
	}
	return later(unknown)
}

// holdBindings keeps an entity that binds access contracts from being
// validated by a registration contract unless its provider has validated
// it before: bindings are the provider's to vouch for, and a self-signed
// registration (or re-registration of a pending entity) names them.
func holdBindings(prev, next *record.Entity) {
	if next.Status == op.StatusValidated && len(next.Doc.Access) > 0 && (prev == nil || prev.Status != op.StatusValidated) {
		next.Status, next.StatusReason = op.StatusPending, "access contract bindings await the provider's validation"
	}
}

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

func (x *executor) update() (*outcome, error) {
	e, self, err := x.target()
	if err != nil {
		return nil, err
	}
	if err := x.checkVersion(e); err != nil {
		return nil, err
	}
	if !e.Live() {
		return nil, later(op.Reject(op.ReasonInvalidTransition, "cannot update a "+e.Status+" entity"))
	}
	next := *e
	if next.Doc, err = canonicalDoc(x.s.Payload.Update.Doc); err != nil {
		return nil, err
	}
	if err := x.checkAccess(e.Kind, e.Provider, next.Doc.Access, e.Doc.Access); err != nil {
		return nil, err
	}
	// A legacy identifier is vouched for by the provider: an entity may
	// drop its own, not add new ones (no squatting with its own key).
	if self {
		for _, a := range next.Doc.Aliases {
			if !slices.Contains(e.Doc.Aliases, a) {
				return nil, op.Reject(op.ReasonUnauthorized, "a new legacy identifier ("+a+") needs the provider's signature")
			}
		}
		// Binding an access contract joins the services that accept each
		// other's session tokens under it: the provider vouches for that,
		// as for a registration it validates.
		for _, ref := range next.Doc.Access {
			if !slices.Contains(e.Doc.Access, ref) {
				return nil, op.Reject(op.ReasonUnauthorized, "binding a new access contract ("+ref+") needs the provider's signature")
			}
		}
		// A re-registration by the entity goes before the provider's
		// registration contract, as a registration does; one by the
		// provider needs none (the provider vouches).
		if err := x.redecide(&next); err != nil {
			return nil, err
		}
		holdBindings(e, &next)
	}
	return x.commitEntity(e, x.bump(&next), op.TypeUpdate)
}

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
		return nil, later(op.Reject(op.ReasonInvalidTransition, fmt.Sprintf("%s is not allowed on a %s entity", typ, e.Status)))
	}
	next := *e
	next.Status = statusAfter[typ]
	next.StatusReason = x.s.Payload.Status.Reason
	return x.commitEntity(e, x.bump(&next), typ)
}

func (x *executor) bump(e *record.Entity) *record.Entity {
	e.Version++
	e.Updated = x.b.Time
	e.UpdatedHeight = x.b.Height
	return e
}

func (x *executor) enroll() (*outcome, error) {
	en := x.s.Payload.Enroll
	if x.s.Kid.Base().String() != en.Provider {
		return nil, op.Reject(op.ReasonUnauthorized, "a bulk enrollment must be signed by an admin key of its provider")
	}
	prov, err := getProvider(x.st, en.Provider)
	if err != nil {
		return nil, err
	}
	if prov == nil {
		return nil, op.Reject(op.ReasonUnknownProvider, "provider "+en.Provider+" is not registered")
	}
	k, ok := prov.Key(x.s.Kid.Fragment)
	if !ok {
		return nil, op.Reject(op.ReasonUnknownSigner, x.s.Kid.String()+" is not a current key")
	}
	if err := x.verify(k); err != nil {
		return nil, err
	}
	out := &outcome{result: record.Result{Count: len(en.Items), Status: op.StatusValidated}}
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
		o, err := x.commitEntity(nil, e, op.TypeEnroll)
		if err != nil {
			return nil, err
		}
		out.writes = append(out.writes, o.writes...)
		out.events = append(out.events, o.events...)
	}
	return out, nil
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
		events: []abci.Event{entityEvent(typ, e)},
	}
	if prev != nil {
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

// decideRegistration runs the provider's registration contract on a new
// entity, in this block: the same inputs give the same decision on every
// node (time and height come from the block).
func (x *executor) decideRegistration(prov *record.Provider, e *record.Entity) (*record.ContractDecision, error) {
	c, err := getContract(x.st, prov.DID, prov.Registration)
	if err != nil || c == nil {
		return nil, err
	}
	prg, err := x.a.program(c)
	if err != nil {
		return nil, err
	}
	in := contract.RegistrationInputs{
		Kind: e.Kind, Provider: e.Provider, Aliases: e.Doc.Aliases, Attrs: e.Attrs(), Ticket: record.AttrMap(e.Ticket),
		HasTicket: e.Ticket != nil, Height: x.b.Height, Time: contract.Timestamp(x.b.Time),
	}
	for _, k := range e.Doc.Keys {
		in.Keys = append(in.Keys, map[string]string{"id": k.ID, "alg": cose.Alg(k.Alg).String()})
	}
	for _, ep := range e.Doc.Endpoints {
		in.Endpoints = append(in.Endpoints, map[string]string{"id": ep.ID, "type": ep.Type, "uri": ep.URI})
	}
	d := prg.Eval(in.Values())
	return &record.ContractDecision{Contract: c.ID(), Outcome: d.Outcome, Reason: d.Reason}, nil
}

// checkAccess checks the access contracts an entity binds: only a
// service binds them, and each must exist and be an access contract.
func (x *executor) checkAccess(kind, provider string, refs, kept []string) error {
	if len(refs) == 0 {
		return nil
	}
	if kind != op.KindService {
		return op.Reject(op.ReasonInvalidField, "only a service binds access contracts")
	}
	for _, ref := range refs {
		prov, name, _ := strings.Cut(ref, "/")
		c, err := getContract(x.st, prov, name)
		if err != nil {
			return err
		}
		if c == nil || c.Kind != op.ContractAccess {
			return later(op.Reject(op.ReasonInvalidField, "no access contract "+ref))
		}
		// A binding the entity already had stays (its decisions refuse it
		// while the owner does not admit the provider): an update that
		// rotates a key must not fail on it.
		if !c.Admits(provider) && !slices.Contains(kept, ref) {
			return later(op.Reject(op.ReasonUnauthorized, "the owner of "+ref+" does not admit services of "+provider+" (contract.binders)"))
		}
	}
	return nil
}

// redecide runs the provider's registration contract on an entity's new
// version, if the provider has one, and sets its status from the outcome.
func (x *executor) redecide(e *record.Entity) error {
	if !x.final {
		return nil
	}
	prov, err := getProvider(x.st, e.Provider)
	if err != nil || prov == nil || prov.Registration == "" {
		return err
	}
	d, err := x.decideRegistration(prov, e)
	if err != nil || d == nil {
		return err
	}
	e.Decision = d
	switch d.Outcome {
	case contract.Validate:
		e.Status, e.StatusReason = op.StatusValidated, ""
	case contract.Pending:
		e.Status, e.StatusReason = op.StatusPending, ""
	default:
		e.Status, e.StatusReason = op.StatusRejected, d.Reason
	}
	return nil
}

// contract deploys or updates a provider's contract.
func (x *executor) contract() (*outcome, error) {
	c := x.s.Payload.Contract
	if x.s.Kid.Base().String() != c.Provider {
		return nil, op.Reject(op.ReasonUnauthorized, "a contract is deployed by an admin key of its provider")
	}
	prov, err := getProvider(x.st, c.Provider)
	if err != nil {
		return nil, err
	}
	if prov == nil {
		return nil, op.Reject(op.ReasonUnknownProvider, "provider "+c.Provider+" is not registered")
	}
	k, ok := prov.Key(x.s.Kid.Fragment)
	if !ok {
		return nil, op.Reject(op.ReasonUnknownSigner, x.s.Kid.String()+" is not a current key")
	}
	if err := x.verify(k); err != nil {
		return nil, err
	}
	cur, err := getContract(x.st, c.Provider, c.Name)
	if err != nil {
		return nil, err
	}
	next := &record.Contract{Provider: c.Provider, Name: c.Name, Kind: c.Kind, Version: 1, Source: c.Source, Height: x.b.Height, Binders: c.Binders,
		LastOp: append([]byte(nil), x.s.PayloadHash[:]...)}
	if x.s.Payload.Type == op.TypeDeploy {
		if cur != nil {
			first, err := getContractVersion(x.st, c.Provider, c.Name, 1)
			if err == nil && first != nil && bytes.Equal(first.LastOp, x.s.PayloadHash[:]) {
				return nil, op.Reject(op.ReasonReplayed, "this deployment was already applied")
			}
			return nil, op.Reject(op.ReasonInvalidField, "a contract named "+c.Name+" exists; update it")
		}
	} else {
		if cur == nil {
			return nil, later(op.Reject(op.ReasonInvalidField, "no contract named "+c.Name))
		}
		if c.Version != cur.Version {
			if prev, err := getContractVersion(x.st, c.Provider, c.Name, c.Version+1); err == nil && prev != nil && bytes.Equal(prev.LastOp, x.s.PayloadHash[:]) {
				return nil, op.Reject(op.ReasonReplayed, "this update was already applied")
			}
			stale := op.Reject(op.ReasonStaleVersion, fmt.Sprintf("names version %d; current is %d", c.Version, cur.Version))
			if c.Version > cur.Version {
				return nil, later(stale)
			}
			return nil, stale
		}
		next.Kind, next.Version = cur.Kind, cur.Version+1
	}
	if len(next.Binders) > 0 && next.Kind != op.ContractAccess {
		return nil, op.Reject(op.ReasonInvalidField, "contract.binders: only an access contract is bound")
	}
	if _, err := x.a.program(next); err != nil {
		return nil, err
	}
	b, err := op.Marshal(next)
	if err != nil {
		return nil, err
	}
	out := &outcome{
		writes: []write{{record.ContractKey(c.Provider, c.Name), b}, {record.ContractVersionKey(c.Provider, c.Name, next.Version), b}},
		result: record.Result{DID: c.Provider, Version: next.Version, Status: next.Kind},
		events: []abci.Event{ledgerEvent(record.EventContract, []record.Attr{
			{Key: "provider", Value: c.Provider}, {Key: "name", Value: c.Name},
			{Key: "kind", Value: next.Kind}, {Key: "version", Value: strconv.FormatUint(next.Version, 10)},
		})},
	}
	if next.Kind == op.ContractRegistration && prov.Registration != c.Name {
		p := *prov
		p.Registration = c.Name
		pb, err := op.Marshal(p)
		if err != nil {
			return nil, err
		}
		out.writes = append(out.writes, write{record.ProviderKey(p.DID), pb})
	}
	return out, nil
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
func ledgerEvent(typ string, attrs []record.Attr) abci.Event {
	ev := abci.Event{Type: typ}
	for _, a := range attrs {
		ev.Attributes = append(ev.Attributes, abci.EventAttribute{Key: a.Key, Value: a.Value, Index: true})
	}
	return ev
}

func entityEvent(typ string, e *record.Entity) abci.Event {
	return ledgerEvent(record.EventEntity, record.EntityEvent{Op: typ, DID: e.DID, Provider: e.Provider, Status: e.Status, Version: e.Version}.Attrs())
}

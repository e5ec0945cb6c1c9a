package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// register applies an entity's inception: signed by one of its own new
// keys, under a registered provider, with an optional enrollment ticket;
// the provider's registration contract, if any, sets its status.
func (x *executor) register() (*outcome, error) {
	r := x.s.Payload.Register
	id := did.New(x.s.Payload.Network, x.s.Msg.Payload)
	if x.s.Kid.Base() != id {
		return nil, op.Reject(op.ReasonUnauthorized, "a registration must be signed by one of the new entity's keys (kid "+id.String()+"#<key>)")
	}
	if err := x.singleSigner(); err != nil {
		return nil, err
	}
	k, ok := record.FindKey(r.Doc.Keys, x.s.Kid.Fragment)
	if !ok {
		return nil, op.Reject(op.ReasonUnknownSigner, "kid names no key of the registration")
	}
	if err := x.verify(k); err != nil {
		return nil, err
	}
	prov, err := x.a.ops.provider(x.st, r.Provider)
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
	if prov.Removed != 0 {
		return nil, removedProvider(prov, "it takes no registrations")
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
		if e.Ticket, ticketKey, err = x.useTicket(r, prov, k); err != nil {
			return nil, err
		}
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

// useTicket checks a registration's ticket (see checkTicket) and that it
// has enrolled no entity yet. It returns the ticket's claims and the key
// that records its use.
func (x *executor) useTicket(r *op.Register, prov *record.Provider, signer op.Key) ([]op.Attr, []byte, error) {
	claims, signed, err := x.checkTicket(r, prov, signer)
	if err != nil {
		return nil, nil, err
	}
	// A ticket enrolls one entity: the same key registered again (a new
	// DID, with another nonce) needs a new ticket. The record is of what
	// the provider signed, not of the ticket's bytes, which an unsigned
	// header or the CBOR tag would change.
	key := record.TicketKey(sha256.Sum256(signed))
	used, err := x.st.Get(key)
	if err != nil {
		return nil, nil, err
	}
	if used != nil {
		return nil, nil, op.Reject(op.ReasonBadTicket, "ticket already used for "+string(used))
	}
	return claims, key, nil
}

// checkTicket verifies an enrollment ticket: signed by the provider's
// threshold of its admin keys (a COSE_Sign1 by one, or a COSE_Sign), for this network and provider, for the key that signs the
// registration (signer: a ticket copied from a block cannot enroll another
// key that merely lists the ticket's key), unexpired at the block time. It
// returns the claims and what the provider signed (protected header and
// payload), which identifies the ticket.
func (x *executor) checkTicket(r *op.Register, prov *record.Provider, signer op.Key) ([]op.Attr, []byte, error) {
	bad := func(msg string) error { return op.Reject(op.ReasonBadTicket, msg) }
	ms, err := cose.DecodeAll(r.Ticket)
	if err != nil {
		return nil, nil, bad("ticket is not a COSE_Sign1")
	}
	seen, keys := map[string]bool{}, map[string]bool{}
	for _, m := range ms {
		if !m.KidProtected {
			return nil, nil, bad("a ticket's signature names its key in the protected header")
		}
		kid, err := did.Parse(string(m.Kid))
		if err != nil || kid.Base().String() != prov.DID {
			return nil, nil, bad("ticket must be signed by an admin key of the provider")
		}
		k, ok := prov.Key(kid.Fragment)
		if !ok {
			return nil, nil, bad("ticket names no admin key of the provider")
		}
		if seen[kid.Fragment] || keys[string(k.Pub)] {
			return nil, nil, bad("ticket names an admin key twice")
		}
		seen[kid.Fragment], keys[string(k.Pub)] = true, true
		pk, err := k.Public()
		if err != nil {
			return nil, nil, op.Reject(op.ReasonInternal, "stored key does not parse")
		}
		if err := m.Verify(pk, nil); err != nil {
			return nil, nil, bad("ticket signature does not verify")
		}
	}
	if len(ms) < prov.Quorum() {
		return nil, nil, bad(fmt.Sprintf("ticket is signed by %d of the provider's admin keys; it needs %d", len(ms), prov.Quorum()))
	}
	m := ms[0]
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
	// A COSE_Sign ticket (a threshold of keys) is its payload: its
	// body's protected header is empty.
	prot := m.Protected
	if m.Multi() {
		prot = nil
	}
	signed := binary.AppendUvarint(nil, uint64(len(prot)))
	signed = append(append(signed, prot...), m.Payload...)
	return t.Claims, signed, nil
}

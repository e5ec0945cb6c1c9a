package registry

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

var update = flag.Bool("update", false, "rewrite testdata/rejections.golden from the results")

// refusal says where an operation is refused.
type refusal int

const (
	// everywhere: Precheck (a submission), CheckTx and FinalizeBlock.
	everywhere refusal = iota
	// deferredInCheckTx: Precheck and FinalizeBlock; CheckTx admits it,
	// for a block not seen here could lift it (see later.go).
	deferredInCheckTx
	// inBlockOnly: FinalizeBlock alone, where a registration contract
	// decides (Precheck and CheckTx do not run it).
	inBlockOnly
)

// rejection is a way an operation is refused: the operation, made
// against the world (it may apply blocks of its own first), and the
// stable reason it earns.
type rejection struct {
	name   string
	reason op.Reason
	where  refusal
	tx     func(w *world) []byte
}

// rejections has a case for every way an operation is refused, in the
// order of the checks: its form (op.Decode), then each operation's.
var rejections = []rejection{
	// Form.
	{"fail/malformed-cbor", op.ReasonMalformed, everywhere, func(w *world) []byte { return []byte{0xd2, 0x84, 0x40, 0xff} }},
	{"fail/not-cose", op.ReasonMalformed, everywhere, func(w *world) []byte { return []byte("hello") }},
	{"fail/non-deterministic-payload", op.ReasonMalformed, everywhere, func(w *world) []byte {
		s := w.key(cose.AlgEdDSA, "s")
		return w.unsorted(s, w.registration(op.KindDevice, w.p.kid.Base(), s, nil))
	}},
	{"fail/kid-unprotected", op.ReasonMalformed, everywhere, func(w *world) []byte {
		return w.rawSign1(map[int]any{1: int(cose.AlgEdDSA)}, statusOp(op.TypeDeactivate, w.dev.id, 1))
	}},
	{"fail/kid-not-a-key", op.ReasonMalformed, everywhere, func(w *world) []byte {
		return w.rawSign1(map[int]any{1: int(cose.AlgEdDSA), 4: []byte(w.dev.id.String())}, statusOp(op.TypeDeactivate, w.dev.id, 1))
	}},
	{"fail/unknown-type", op.ReasonMalformed, everywhere, func(w *world) []byte {
		return sign(w.t, w.dev.s, w.dev.kid(), op.Payload{Type: "entity.explode", Status: &op.Status{DID: w.dev.id.String(), Version: 1}})
	}},
	{"fail/body-mismatch", op.ReasonMalformed, everywhere, func(w *world) []byte {
		return sign(w.t, w.dev.s, w.dev.kid(), op.Payload{Type: op.TypeUpdate, Status: &op.Status{DID: w.dev.id.String(), Version: 1}})
	}},
	{"fail/oversized", op.ReasonOversized, everywhere, func(w *world) []byte { return bytes.Repeat([]byte{0}, op.MaxEnrollBytes+1) }},
	{"fail/oversized-for-type", op.ReasonOversized, everywhere, func(w *world) []byte {
		// Within a bulk enrollment's limit, beyond a single entity's.
		tx, _ := w.register(op.KindDevice, w.p, w.key(cose.AlgEdDSA, "s"), func(r *op.Register) { r.Nonce = make([]byte, op.MaxOpBytes) })
		return tx
	}},
	{"fail/unsupported-alg", op.ReasonUnsupportedAlg, everywhere, func(w *world) []byte {
		return w.rawSign1(map[int]any{1: -35, 4: []byte(w.dev.kid().String())}, statusOp(op.TypeDeactivate, w.dev.id, 1))
	}},
	{"fail/unsupported-key-alg", op.ReasonUnsupportedAlg, everywhere, func(w *world) []byte {
		tx, _ := w.register(op.KindDevice, w.p, w.key(cose.AlgEdDSA, "s"), func(r *op.Register) {
			r.Doc.Keys = append(r.Doc.Keys, op.Key{ID: "k2", Alg: -35, Pub: make([]byte, 49)})
		})
		return tx
	}},
	{"fail/invalid-field", op.ReasonInvalidField, everywhere, func(w *world) []byte {
		tx, _ := w.register(op.KindDevice, w.p, w.key(cose.AlgEdDSA, "s"), func(r *op.Register) { r.Doc.Aliases = []string{"imei:123"} })
		return tx
	}},
	{"fail/wrong-network-kid", op.ReasonWrongNetwork, everywhere, func(w *world) []byte {
		return sign(w.t, w.dev.s, did.New("elsewhere", []byte("x")).WithFragment("k1"), statusOp(op.TypeDeactivate, w.dev.id, 1))
	}},
	{"fail/wrong-network", op.ReasonWrongNetwork, everywhere, func(w *world) []byte {
		s := w.key(cose.AlgEdDSA, "s")
		p := w.registration(op.KindDevice, did.New("elsewhere", []byte("p")), s, nil)
		p.Network = "elsewhere"
		tx, _, err := op.SignRegister(s, "k1", p)
		if err != nil {
			w.t.Fatal(err)
		}
		return tx
	}},

	// Registration (register.go).
	{"fail/register-not-self-signed", op.ReasonUnauthorized, everywhere, func(w *world) []byte {
		return sign(w.t, w.p.signer, w.p.kid, w.registration(op.KindDevice, w.p.kid.Base(), w.key(cose.AlgEdDSA, "s"), nil))
	}},
	{"fail/register-unknown-key", op.ReasonUnknownSigner, everywhere, func(w *world) []byte {
		s := w.key(cose.AlgEdDSA, "s")
		tx, _, err := op.SignRegister(s, "k9", w.registration(op.KindDevice, w.p.kid.Base(), s, nil))
		if err != nil {
			w.t.Fatal(err)
		}
		return tx
	}},
	{"fail/register-bad-signature", op.ReasonBadSignature, everywhere, func(w *world) []byte {
		tx, _ := w.register(op.KindDevice, w.p, w.key(cose.AlgEdDSA, "s"), nil)
		tx[len(tx)-1] ^= 1
		return tx
	}},
	{"fail/register-unknown-provider", op.ReasonUnknownProvider, everywhere, func(w *world) []byte {
		tx, _ := w.register(op.KindDevice, provider{kid: did.New(network, []byte("nobody")).WithFragment("admin-1")}, w.key(cose.AlgEdDSA, "s"), nil)
		return tx
	}},
	{"fail/register-replayed", op.ReasonReplayed, everywhere, func(w *world) []byte {
		// Re-signed (ES256): new bytes, the same payload, so the same DID.
		s := w.key(cose.AlgES256, "s")
		tx, _ := w.register(op.KindService, w.p, s, nil)
		w.apply(tx)
		again, _ := w.register(op.KindService, w.p, s, nil)
		if bytes.Equal(tx, again) {
			w.t.Fatal("ES256 signatures should differ")
		}
		return again
	}},
	{"fail/register-device-binds", op.ReasonInvalidField, everywhere, func(w *world) []byte {
		tx, _ := w.register(op.KindDevice, w.p, w.key(cose.AlgEdDSA, "s"), func(r *op.Register) { r.Doc.Access = []string{w.ref(w.p, "acl")} })
		return tx
	}},
	{"fail/register-binds-missing", op.ReasonInvalidField, everywhere, func(w *world) []byte {
		// Strict: a registration is signed by a key anyone can make.
		tx, _ := w.register(op.KindService, w.p, w.key(cose.AlgEdDSA, "s"), func(r *op.Register) { r.Doc.Access = []string{w.ref(w.p, "none")} })
		return tx
	}},
	{"fail/register-binds-unadmitted", op.ReasonUnauthorized, everywhere, func(w *world) []byte {
		tx, _ := w.register(op.KindService, w.p, w.key(cose.AlgEdDSA, "s"), func(r *op.Register) { r.Doc.Access = []string{w.ref(w.q, "closed")} })
		return tx
	}},
	{"fail/register-validated-alias-taken", op.ReasonAliasTaken, inBlockOnly, func(w *world) []byte {
		// r's contract validates the registration, in the block: then it
		// would hold an alias that holder holds.
		tx, _ := w.register(op.KindDevice, w.r, w.key(cose.AlgEdDSA, "s"), func(r *op.Register) { r.Doc.Aliases = []string{otherAlias} })
		return tx
	}},
	{"fail/bad-ticket-not-cose", op.ReasonBadTicket, everywhere, func(w *world) []byte {
		return w.withTicket(w.key(cose.AlgEdDSA, "s"), []byte("junk"))
	}},
	{"fail/bad-ticket-other-provider", op.ReasonBadTicket, everywhere, func(w *world) []byte {
		s := w.key(cose.AlgEdDSA, "s")
		return w.withTicket(s, w.ticket(w.q.signer, w.q.kid, op.Ticket{Key: s.Public().Bytes()}))
	}},
	{"fail/bad-ticket-unknown-admin-key", op.ReasonBadTicket, everywhere, func(w *world) []byte {
		s := w.key(cose.AlgEdDSA, "s")
		return w.withTicket(s, w.ticket(w.p.signer, w.p.kid.Base().WithFragment("admin-9"), op.Ticket{Key: s.Public().Bytes()}))
	}},
	{"fail/bad-ticket-forged", op.ReasonBadTicket, everywhere, func(w *world) []byte {
		s := w.key(cose.AlgEdDSA, "s")
		return w.withTicket(s, w.ticket(s, w.p.kid, op.Ticket{Key: s.Public().Bytes()}))
	}},
	{"fail/bad-ticket-kid-unprotected", op.ReasonBadTicket, everywhere, func(w *world) []byte {
		// A valid ticket whose kid sits in the unprotected header: it
		// could be relabelled without signing again.
		s := w.key(cose.AlgEdDSA, "s")
		b, err := op.Marshal(op.Ticket{Network: network, Provider: w.p.kid.Base().String(), Key: s.Public().Bytes(), Expires: w.c.time.Unix() + 3600})
		if err != nil {
			w.t.Fatal(err)
		}
		tk, err := cose.Sign1Headers(w.p.signer, nil, nil, map[int64]any{4: []byte(w.p.kid.String())}, b, nil)
		if err != nil {
			w.t.Fatal(err)
		}
		return w.withTicket(s, tk)
	}},
	{"fail/bad-ticket-payload", op.ReasonBadTicket, everywhere, func(w *world) []byte {
		s := w.key(cose.AlgEdDSA, "s")
		b, err := op.Marshal(op.Ticket{Network: network, Provider: w.p.kid.Base().String(), Key: s.Public().Bytes(), Expires: w.c.time.Unix() + 3600})
		if err != nil {
			w.t.Fatal(err)
		}
		return w.withTicket(s, w.sign1(w.p.signer, w.p.kid, w.reorder(b, 4, 3, 2, 1)))
	}},
	{"fail/bad-ticket-other-network", op.ReasonBadTicket, everywhere, func(w *world) []byte {
		s := w.key(cose.AlgEdDSA, "s")
		return w.withTicket(s, w.ticket(w.p.signer, w.p.kid, op.Ticket{Network: "elsewhere", Key: s.Public().Bytes()}))
	}},
	{"fail/bad-ticket-expired", op.ReasonBadTicket, everywhere, func(w *world) []byte {
		s := w.key(cose.AlgEdDSA, "s")
		return w.withTicket(s, w.ticket(w.p.signer, w.p.kid, op.Ticket{Key: s.Public().Bytes(), Expires: w.c.time.Unix() - 3600}))
	}},
	{"fail/bad-ticket-claims", op.ReasonBadTicket, everywhere, func(w *world) []byte {
		s := w.key(cose.AlgEdDSA, "s")
		return w.withTicket(s, w.ticket(w.p.signer, w.p.kid, op.Ticket{Key: s.Public().Bytes(), Claims: []op.Attr{{K: "z"}, {K: "a"}}}))
	}},
	{"fail/bad-ticket-other-key", op.ReasonBadTicket, everywhere, func(w *world) []byte {
		return w.withTicket(w.key(cose.AlgEdDSA, "s"), w.ticket(w.p.signer, w.p.kid, op.Ticket{Key: w.key(cose.AlgEdDSA, "other").Public().Bytes()}))
	}},
	{"fail/bad-ticket-stolen", op.ReasonBadTicket, everywhere, func(w *world) []byte {
		// A ticket for the victim's key, copied from a block, used by a
		// registration that lists that key but is signed by another.
		victim, thief := w.key(cose.AlgEdDSA, "victim"), w.key(cose.AlgEdDSA, "thief")
		ticket := w.ticket(w.p.signer, w.p.kid, op.Ticket{Key: victim.Public().Bytes()})
		tx, _ := w.register(op.KindDevice, w.p, thief, func(r *op.Register) {
			r.Doc.Keys = append(r.Doc.Keys, op.KeyFrom("k2", victim.Public()))
			r.Ticket = ticket
		})
		return tx
	}},
	{"fail/bad-ticket-reused", op.ReasonBadTicket, everywhere, func(w *world) []byte {
		// A ticket enrolls one entity: the same key under a new DID
		// (another nonce) needs a new ticket, also when the ticket comes
		// without its CBOR tag (other bytes, the same signed content).
		s := w.key(cose.AlgEdDSA, "s")
		ticket := w.ticket(w.p.signer, w.p.kid, op.Ticket{Key: s.Public().Bytes()})
		first, _ := w.register(op.KindDevice, w.p, s, func(r *op.Register) { r.Ticket, r.Nonce = ticket, []byte("first") })
		w.apply(first)
		if ticket[0] != 0xd2 {
			w.t.Fatalf("ticket is not a tagged COSE_Sign1: %x", ticket[:1])
		}
		second, _ := w.register(op.KindDevice, w.p, s, func(r *op.Register) { r.Ticket, r.Nonce = ticket[1:], []byte("second") })
		return second
	}},

	// The target of an update or a status change, and its signer (signer.go).
	{"fail/unknown-entity", op.ReasonUnknownEntity, everywhere, func(w *world) []byte {
		// Signed by the unknown entity itself: nobody authenticates it.
		nobody := did.New(network, []byte("nobody"))
		return sign(w.t, w.key(cose.AlgEdDSA, "s"), nobody.WithFragment("k1"), statusOp(op.TypeDeactivate, nobody, 1))
	}},
	{"fail/unknown-entity-provider-signed", op.ReasonUnknownEntity, deferredInCheckTx, func(w *world) []byte {
		return w.status(w.p, op.TypeValidate, did.New(network, []byte("nobody")), 1)
	}},
	{"fail/unknown-entity-unknown-admin-key", op.ReasonUnknownEntity, everywhere, func(w *world) []byte {
		return sign(w.t, w.p.signer, w.p.kid.Base().WithFragment("admin-9"), statusOp(op.TypeValidate, did.New(network, []byte("nobody")), 1))
	}},
	{"fail/unknown-entity-forged", op.ReasonBadSignature, everywhere, func(w *world) []byte {
		return sign(w.t, w.key(cose.AlgEdDSA, "s"), w.p.kid, statusOp(op.TypeValidate, did.New(network, []byte("nobody")), 1))
	}},
	{"fail/unknown-signer", op.ReasonUnknownSigner, everywhere, func(w *world) []byte {
		return sign(w.t, w.dev.s, w.dev.id.WithFragment("k9"), statusOp(op.TypeDeactivate, w.dev.id, 1))
	}},
	{"fail/unknown-signer-provider", op.ReasonUnknownSigner, everywhere, func(w *world) []byte {
		return sign(w.t, w.p.signer, w.p.kid.Base().WithFragment("admin-9"), statusOp(op.TypeValidate, w.dev.id, 1))
	}},
	{"fail/orphan-provider-signed", op.ReasonUnknownSigner, everywhere, func(w *world) []byte {
		// An entity whose provider is not registered (no operation makes
		// one; written into the state here): its provider's key is as
		// unknown as any.
		nobody := provider{signer: w.key(cose.AlgEdDSA, "p"), kid: did.New(network, []byte("nobody")).WithFragment("admin-1")}
		s := w.key(cose.AlgEdDSA, "s")
		orphan := did.New(network, []byte("orphan"))
		b, err := op.Marshal(record.Entity{DID: orphan.String(), Kind: op.KindDevice, Provider: nobody.kid.Base().String(),
			Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}}, Status: op.StatusPending, Version: 1})
		if err != nil {
			w.t.Fatal(err)
		}
		if err := w.c.st.Set(record.EntityKey(orphan.String()), b); err != nil {
			w.t.Fatal(err)
		}
		w.c.block()
		return w.status(nobody, op.TypeValidate, orphan, 1)
	}},
	{"fail/wrong-signer-key", op.ReasonBadSignature, everywhere, func(w *world) []byte {
		// kid names the device's key, but another key signed.
		return sign(w.t, w.key(cose.AlgEdDSA, "s"), w.dev.kid(), statusOp(op.TypeDeactivate, w.dev.id, 1))
	}},
	{"fail/forged-provider-signature", op.ReasonBadSignature, everywhere, func(w *world) []byte {
		return sign(w.t, w.key(cose.AlgEdDSA, "s"), w.p.kid, statusOp(op.TypeValidate, w.dev.id, 1))
	}},
	{"fail/other-provider", op.ReasonUnauthorized, everywhere, func(w *world) []byte {
		return w.status(w.q, op.TypeRevoke, w.dev.id, 1)
	}},
	{"fail/other-entity", op.ReasonUnauthorized, everywhere, func(w *world) []byte {
		return sign(w.t, w.svc.s, w.svc.kid(), statusOp(op.TypeDeactivate, w.dev.id, 1))
	}},

	// The version an operation names (version.go).
	{"fail/replayed-bytes", op.ReasonReplayed, everywhere, func(w *world) []byte {
		// Two versions on: the successor is in the history.
		return w.validateSvc
	}},
	{"fail/replayed-resigned", op.ReasonReplayed, everywhere, func(w *world) []byte {
		// The applied update with a fresh ES256 signature: new bytes,
		// the same payload; the successor is the current version.
		return sign(w.t, w.svc.s, w.svc.kid(), w.updateSvc)
	}},
	{"fail/replayed-rotation", op.ReasonReplayed, everywhere, func(w *world) []byte {
		// The entity's update that rotated its signing key k1 away (to
		// k2): k1 is no longer a current key, but the version the update
		// names held it.
		old, _ := w.rotated("k2")
		return old
	}},
	{"fail/replayed-rekey", op.ReasonReplayed, everywhere, func(w *world) []byte {
		// The same with new key material under the same id, k1.
		old, _ := w.rotated("k1")
		return old
	}},
	{"fail/rotated-key", op.ReasonUnknownSigner, everywhere, func(w *world) []byte {
		// Not a replay: a new operation signed by the key rotated away.
		_, e := w.rotated("k2")
		return sign(w.t, e.s, e.kid(), statusOp(op.TypeDeactivate, e.id, 1))
	}},
	{"fail/rotated-key-forged-replay", op.ReasonUnknownSigner, everywhere, func(w *world) []byte {
		// The applied rotation's payload, signed by another key under
		// kid k1: a replay only if the key the named version held signed.
		_, e := w.rotated("k2")
		return w.update(w.key(cose.AlgEdDSA, "other"), e.kid(), e, 1, op.Document{Keys: []op.Key{op.KeyFrom("k2", w.key(cose.AlgEdDSA, "new").Public())}})
	}},
	{"fail/stale-version", op.ReasonStaleVersion, everywhere, func(w *world) []byte {
		return sign(w.t, w.svc.s, w.svc.kid(), statusOp(op.TypeDeactivate, w.svc.id, 2))
	}},
	{"fail/version-zero", op.ReasonStaleVersion, everywhere, func(w *world) []byte {
		return sign(w.t, w.svc.s, w.svc.kid(), statusOp(op.TypeDeactivate, w.svc.id, 0))
	}},
	{"fail/future-version", op.ReasonStaleVersion, deferredInCheckTx, func(w *world) []byte {
		return sign(w.t, w.svc.s, w.svc.kid(), statusOp(op.TypeDeactivate, w.svc.id, 9))
	}},

	// Status changes (status.go).
	{"fail/self-validate", op.ReasonUnauthorized, everywhere, func(w *world) []byte {
		return sign(w.t, w.dev.s, w.dev.kid(), statusOp(op.TypeValidate, w.dev.id, 1))
	}},
	{"fail/self-revoke", op.ReasonUnauthorized, everywhere, func(w *world) []byte {
		return sign(w.t, w.dev.s, w.dev.kid(), statusOp(op.TypeRevoke, w.dev.id, 1))
	}},
	{"fail/invalid-transition", op.ReasonInvalidTransition, deferredInCheckTx, func(w *world) []byte {
		return w.status(w.p, op.TypeReject, w.svc.id, 3)
	}},
	{"fail/revoked-deactivates-itself", op.ReasonInvalidTransition, deferredInCheckTx, func(w *world) []byte {
		return sign(w.t, w.rev.s, w.rev.kid(), statusOp(op.TypeDeactivate, w.rev.id, 3))
	}},
	{"fail/alias-taken", op.ReasonAliasTaken, deferredInCheckTx, func(w *world) []byte {
		// Validating a second claimant of holder's alias (another spelling).
		tx, e := w.register(op.KindDevice, w.p, w.key(cose.AlgEdDSA, "s"), func(r *op.Register) { r.Doc.Aliases = []string{otherAlias} })
		w.apply(tx)
		return w.status(w.p, op.TypeValidate, e.id, 1)
	}},

	// Updates (update.go).
	{"fail/update-not-live", op.ReasonInvalidTransition, deferredInCheckTx, func(w *world) []byte {
		return w.update(w.p.signer, w.p.kid, w.rev, 3, docOf(w.rev))
	}},
	{"fail/update-device-binds", op.ReasonInvalidField, everywhere, func(w *world) []byte {
		doc := docOf(w.dev)
		doc.Access = []string{w.ref(w.p, "acl")}
		return w.update(w.p.signer, w.p.kid, w.dev, 1, doc)
	}},
	{"fail/update-binds-missing", op.ReasonInvalidField, deferredInCheckTx, func(w *world) []byte {
		doc := docOf(w.svc)
		doc.Access = []string{w.ref(w.p, "none")}
		return w.update(w.p.signer, w.p.kid, w.svc, 3, doc)
	}},
	{"fail/update-binds-unadmitted", op.ReasonUnauthorized, deferredInCheckTx, func(w *world) []byte {
		doc := docOf(w.svc)
		doc.Access = []string{w.ref(w.q, "closed")}
		return w.update(w.p.signer, w.p.kid, w.svc, 3, doc)
	}},
	{"fail/update-self-alias", op.ReasonUnauthorized, everywhere, func(w *world) []byte {
		doc := docOf(w.svc)
		doc.Aliases = []string{"tel:+15559870000"}
		return w.update(w.svc.s, w.svc.kid(), w.svc, 3, doc)
	}},
	{"fail/update-self-binding", op.ReasonUnauthorized, everywhere, func(w *world) []byte {
		doc := docOf(w.svc)
		doc.Access = []string{w.ref(w.p, "acl")}
		return w.update(w.svc.s, w.svc.kid(), w.svc, 3, doc)
	}},
	{"fail/update-alias-taken", op.ReasonAliasTaken, deferredInCheckTx, func(w *world) []byte {
		doc := docOf(w.svc)
		doc.Aliases = []string{otherAlias}
		return w.update(w.p.signer, w.p.kid, w.svc, 3, doc)
	}},

	// Bulk enrollment (enroll.go).
	{"fail/enroll-other-provider", op.ReasonUnauthorized, everywhere, func(w *world) []byte {
		return w.enroll(w.q.signer, w.q.kid, w.p.kid.Base(), w.item("a"))
	}},
	{"fail/enroll-unknown-provider", op.ReasonUnknownProvider, everywhere, func(w *world) []byte {
		nobody := did.New(network, []byte("nobody"))
		return w.enroll(w.key(cose.AlgEdDSA, "s"), nobody.WithFragment("admin-1"), nobody, w.item("a"))
	}},
	{"fail/enroll-unknown-signer", op.ReasonUnknownSigner, everywhere, func(w *world) []byte {
		return w.enroll(w.p.signer, w.p.kid.Base().WithFragment("admin-9"), w.p.kid.Base(), w.item("a"))
	}},
	{"fail/enroll-forged", op.ReasonBadSignature, everywhere, func(w *world) []byte {
		return w.enroll(w.key(cose.AlgEdDSA, "s"), w.p.kid, w.p.kid.Base(), w.item("a"))
	}},
	{"fail/enroll-repeated-item", op.ReasonInvalidField, everywhere, func(w *world) []byte {
		return w.enroll(w.p.signer, w.p.kid, w.p.kid.Base(), w.item("a"), w.item("a"))
	}},
	{"fail/enroll-replayed", op.ReasonReplayed, everywhere, func(w *world) []byte {
		w.apply(w.enroll(w.p.signer, w.p.kid, w.p.kid.Base(), w.item("a")))
		return w.enroll(w.p.signer, w.p.kid, w.p.kid.Base(), w.item("b"), w.item("a"))
	}},
	{"fail/enroll-binds", op.ReasonInvalidField, everywhere, func(w *world) []byte {
		it := w.item("a")
		it.Doc.Access = []string{w.ref(w.p, "acl")}
		return w.enroll(w.p.signer, w.p.kid, w.p.kid.Base(), it)
	}},
	{"fail/enroll-alias-claimed-twice", op.ReasonAliasTaken, everywhere, func(w *world) []byte {
		return w.enroll(w.p.signer, w.p.kid, w.p.kid.Base(), w.item("a", "tel:+15550001"), w.item("b", "tel:+1-555-0001"))
	}},
	{"fail/enroll-alias-held", op.ReasonAliasTaken, deferredInCheckTx, func(w *world) []byte {
		return w.enroll(w.p.signer, w.p.kid, w.p.kid.Base(), w.item("a", otherAlias))
	}},

	// Publications (publish.go; the form in op/publish.go).
	{"fail/publish-other-provider", op.ReasonUnauthorized, everywhere, func(w *world) []byte {
		return sign(w.t, w.q.signer, w.q.kid, op.Payload{Type: op.TypePublish, Publish: &op.Publish{Provider: w.p.kid.Base().String(), Version: 1}})
	}},
	{"fail/publish-unknown-provider", op.ReasonUnknownProvider, everywhere, func(w *world) []byte {
		nobody := did.New(network, []byte("nobody"))
		return w.publish(provider{signer: w.key(cose.AlgEdDSA, "s"), kid: nobody.WithFragment("admin-1")}, 0, nil)
	}},
	{"fail/publish-unknown-signer", op.ReasonUnknownSigner, everywhere, func(w *world) []byte {
		return w.publish(provider{signer: w.p.signer, kid: w.p.kid.Base().WithFragment("admin-9")}, 1, nil)
	}},
	{"fail/publish-forged", op.ReasonBadSignature, everywhere, func(w *world) []byte {
		return w.publish(provider{signer: w.key(cose.AlgEdDSA, "s"), kid: w.p.kid}, 1, nil)
	}},
	{"fail/publish-replayed", op.ReasonReplayed, everywhere, func(w *world) []byte { return w.publishP }},
	{"fail/publish-stale", op.ReasonStaleVersion, everywhere, func(w *world) []byte { return w.publish(w.p, 0, nil) }},
	{"fail/publish-future", op.ReasonStaleVersion, deferredInCheckTx, func(w *world) []byte { return w.publish(w.p, 9, nil) }},
	{"fail/publish-not-a-ca", op.ReasonInvalidField, everywhere, func(w *world) []byte {
		return w.publish(w.p, 1, [][]byte{w.caCert("leaf", false)})
	}},
	{"fail/publish-not-a-certificate", op.ReasonInvalidField, everywhere, func(w *world) []byte {
		return w.publish(w.p, 1, [][]byte{[]byte("not DER")})
	}},
	{"fail/publish-too-many-cas", op.ReasonInvalidField, everywhere, func(w *world) []byte {
		ca := w.caCert("p-ca", true)
		return w.publish(w.p, 1, [][]byte{ca, ca, ca, ca, ca})
	}},
	{"fail/publish-token-key-repeated", op.ReasonInvalidField, everywhere, func(w *world) []byte {
		k := op.KeyFrom("t1", w.key(cose.AlgES256, "p-token").Public())
		return w.publish(w.p, 1, nil, k, k)
	}},
	{"fail/publish-token-key-bad", op.ReasonInvalidField, everywhere, func(w *world) []byte {
		return w.publish(w.p, 1, nil, op.Key{ID: "t1", Alg: int64(cose.AlgES256), Pub: []byte{1, 2, 3}})
	}},

	// Contracts (contractop.go).
	{"fail/deploy-other-provider", op.ReasonUnauthorized, everywhere, func(w *world) []byte {
		return sign(w.t, w.q.signer, w.q.kid, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{Provider: w.p.kid.Base().String(), Name: "x", Kind: op.ContractAccess, Source: `true`}})
	}},
	{"fail/deploy-unknown-provider", op.ReasonUnknownProvider, everywhere, func(w *world) []byte {
		nobody := did.New(network, []byte("nobody"))
		return w.deploy(provider{signer: w.key(cose.AlgEdDSA, "s"), kid: nobody.WithFragment("admin-1")}, "x", op.ContractAccess, `true`)
	}},
	{"fail/deploy-unknown-signer", op.ReasonUnknownSigner, everywhere, func(w *world) []byte {
		return w.deploy(provider{signer: w.p.signer, kid: w.p.kid.Base().WithFragment("admin-9")}, "x", op.ContractAccess, `true`)
	}},
	{"fail/deploy-forged", op.ReasonBadSignature, everywhere, func(w *world) []byte {
		return w.deploy(provider{signer: w.key(cose.AlgEdDSA, "s"), kid: w.p.kid}, "x", op.ContractAccess, `true`)
	}},
	{"fail/deploy-replayed", op.ReasonReplayed, everywhere, func(w *world) []byte { return w.deployACL }},
	{"fail/deploy-exists", op.ReasonInvalidField, everywhere, func(w *world) []byte {
		return w.deploy(w.p, "acl", op.ContractAccess, `false`)
	}},
	{"fail/bad-contract", op.ReasonBadContract, everywhere, func(w *world) []byte {
		return w.deploy(w.p, "broken", op.ContractRegistration, `true`)
	}},
	{"fail/contract-update-missing", op.ReasonInvalidField, deferredInCheckTx, func(w *world) []byte {
		return w.contractUpdate(w.p, "none", 1, `true`)
	}},
	{"fail/contract-update-replayed", op.ReasonReplayed, everywhere, func(w *world) []byte { return w.updateACL }},
	{"fail/contract-update-replayed-older", op.ReasonReplayed, everywhere, func(w *world) []byte {
		// Two versions on: the successor is no longer the current version.
		w.apply(w.deploy(w.p, "twice", op.ContractAccess, `true`))
		first := w.contractUpdate(w.p, "twice", 1, `!false`)
		w.apply(first)
		w.apply(w.contractUpdate(w.p, "twice", 2, `!!true`))
		return first
	}},
	{"fail/contract-update-stale", op.ReasonStaleVersion, everywhere, func(w *world) []byte {
		return w.contractUpdate(w.p, "acl", 1, `false`)
	}},
	{"fail/contract-update-future", op.ReasonStaleVersion, deferredInCheckTx, func(w *world) []byte {
		return w.contractUpdate(w.p, "acl", 9, `false`)
	}},
	{"fail/contract-update-binders", op.ReasonInvalidField, everywhere, func(w *world) []byte {
		// Binders are for access contracts; an update names no kind.
		return sign(w.t, w.r.signer, w.r.kid, op.Payload{Type: op.TypeContractUp, Contract: &op.Contract{
			Provider: w.r.kid.Base().String(), Name: "auto", Version: 1, Source: `"pending"`, Binders: []string{w.p.kid.Base().String()}}})
	}},
	{"fail/bad-contract-update", op.ReasonBadContract, everywhere, func(w *world) []byte {
		return w.contractUpdate(w.p, "acl", 2, `"yes"`)
	}},

	// Governance (gov.go; the form in op/gov.go).
	{"fail/gov-propose-bad-kind", op.ReasonInvalidField, everywhere, func(w *world) []byte {
		return w.propose(w.p, op.Proposal{Kind: "provider.crown", Provider: w.q.kid.Base().String()})
	}},
	{"fail/gov-propose-fields-mismatch", op.ReasonInvalidField, everywhere, func(w *world) []byte {
		return w.propose(w.p, op.Proposal{Kind: op.ProposalRemove, Provider: w.q.kid.Base().String(), Params: &op.Params{VoteNum: 2, VoteDen: 3, Deadline: 9}})
	}},
	{"fail/gov-propose-bad-threshold", op.ReasonInvalidField, everywhere, func(w *world) []byte {
		return w.propose(w.p, op.Proposal{Kind: op.ProposalParams, Params: &op.Params{VoteNum: 1, VoteDen: 3, Deadline: 9}})
	}},
	{"fail/gov-propose-bad-validator-key", op.ReasonInvalidField, everywhere, func(w *world) []byte {
		return w.propose(w.p, op.Proposal{Kind: op.ProposalValidator, Provider: w.p.kid.Base().String(), Validator: &op.Validator{PubKey: []byte{1, 2, 3}, Power: 1}})
	}},
	{"fail/gov-propose-other-provider", op.ReasonUnauthorized, everywhere, func(w *world) []byte {
		return sign(w.t, w.q.signer, w.q.kid, op.Payload{Type: op.TypePropose, Gov: &op.Gov{Provider: w.p.kid.Base().String(), Proposal: &op.Proposal{
			Kind: op.ProposalRemove, Provider: w.r.kid.Base().String()}}})
	}},
	{"fail/gov-propose-non-provider", op.ReasonUnknownProvider, everywhere, func(w *world) []byte {
		nobody := did.New(network, []byte("nobody"))
		return w.propose(provider{signer: w.key(cose.AlgEdDSA, "s"), kid: nobody.WithFragment("admin-1")}, op.Proposal{Kind: op.ProposalRemove, Provider: w.q.kid.Base().String()})
	}},
	{"fail/gov-propose-removed-provider", op.ReasonUnauthorized, everywhere, func(w *world) []byte {
		return w.propose(w.s, op.Proposal{Kind: op.ProposalRemove, Provider: w.q.kid.Base().String()})
	}},
	{"fail/gov-propose-replayed", op.ReasonReplayed, everywhere, func(w *world) []byte { return w.proposeParams }},
	{"fail/gov-admit-existing", op.ReasonInvalidField, everywhere, func(w *world) []byte {
		// s was admitted and removed: its DID is not made twice (the
		// nonce makes this another proposal than the admission).
		return w.propose(w.p, op.Proposal{Kind: op.ProposalAdmit, Admit: &op.Admit{Name: "s", Keys: []op.Key{op.KeyFrom("admin-1", w.s.signer.Public())}}, Nonce: []byte("again")})
	}},
	{"fail/gov-remove-unknown-provider", op.ReasonUnknownProvider, everywhere, func(w *world) []byte {
		return w.propose(w.p, op.Proposal{Kind: op.ProposalRemove, Provider: w.s.kid.Base().String(), Nonce: []byte("again")})
	}},
	{"fail/gov-remove-third-of-power", op.ReasonUnsafeChange, everywhere, func(w *world) []byte {
		// r's validator holds 10 of 30.
		return w.propose(w.p, op.Proposal{Kind: op.ProposalRemove, Provider: w.r.kid.Base().String()})
	}},
	{"fail/gov-validator-power-jump", op.ReasonUnsafeChange, everywhere, func(w *world) []byte {
		return w.propose(w.p, op.Proposal{Kind: op.ProposalValidator, Provider: w.p.kid.Base().String(), Validator: &op.Validator{PubKey: validatorKey("a"), Power: 100}})
	}},
	{"fail/gov-validator-key-taken", op.ReasonInvalidField, everywhere, func(w *world) []byte {
		return w.propose(w.p, op.Proposal{Kind: op.ProposalValidator, Provider: w.p.kid.Base().String(), Validator: &op.Validator{PubKey: validatorKey("b"), Power: 10}})
	}},
	{"fail/gov-vote-bad-id", op.ReasonInvalidField, everywhere, func(w *world) []byte {
		return w.vote(w.q, strings.ToUpper(w.admitS))
	}},
	{"fail/gov-vote-non-provider", op.ReasonUnknownProvider, everywhere, func(w *world) []byte {
		nobody := did.New(network, []byte("nobody"))
		return w.vote(provider{signer: w.key(cose.AlgEdDSA, "s"), kid: nobody.WithFragment("admin-1")}, w.admitS)
	}},
	{"fail/gov-vote-removed-provider", op.ReasonUnauthorized, everywhere, func(w *world) []byte {
		open := w.propose(w.p, op.Proposal{Kind: op.ProposalParams, Params: &op.Params{VoteNum: 2, VoteDen: 3, Deadline: 9}})
		w.apply(open)
		return w.vote(w.s, w.proposalID(open))
	}},
	{"fail/gov-vote-unknown-proposal", op.ReasonUnknownProposal, deferredInCheckTx, func(w *world) []byte {
		return w.vote(w.q, strings.Repeat("ab", 32))
	}},
	{"fail/gov-vote-double", op.ReasonAlreadyVoted, everywhere, func(w *world) []byte {
		// The proposer approved its proposal by making it.
		return w.vote(w.p, w.admitS)
	}},
	{"fail/gov-vote-replayed", op.ReasonReplayed, everywhere, func(w *world) []byte { return w.voteParams }},
	{"fail/gov-vote-executed", op.ReasonProposalClosed, everywhere, func(w *world) []byte { return w.vote(w.r, w.admitS) }},
	{"fail/gov-vote-expired", op.ReasonProposalClosed, everywhere, func(w *world) []byte {
		open := w.propose(w.p, op.Proposal{Kind: op.ProposalParams, Params: &op.Params{VoteNum: 3, VoteDen: 4, Deadline: 9}})
		w.apply(open)
		for range 4 { // the deadline is 4 blocks
			w.apply()
		}
		return w.vote(w.q, w.proposalID(open))
	}},
	{"fail/register-removed-provider", op.ReasonUnauthorized, everywhere, func(w *world) []byte {
		tx, _ := w.register(op.KindDevice, w.s, w.key(cose.AlgEdDSA, "orphan"), nil)
		return tx
	}},

	// App version 2 (upgrade.go): the world upgrades, and bounds open
	// proposals to 1.
	{"fail/gov-too-many-open", op.ReasonGovTooManyOpen, everywhere, func(w *world) []byte {
		up := w.propose(w.p, op.Proposal{Kind: op.ProposalUpgrade, Upgrade: &op.Upgrade{Name: "v2", Version: 2, Height: w.c.height + 3}})
		w.apply(up, w.vote(w.r, w.proposalID(up)))
		w.apply()
		w.apply() // the upgrade height
		limit := w.propose(w.p, op.Proposal{Kind: op.ProposalParams, Params: &op.Params{VoteNum: 1, VoteDen: 2, Deadline: 4, MaxOpen: 1}})
		w.apply(limit, w.vote(w.r, w.proposalID(limit)))
		w.apply(w.propose(w.p, op.Proposal{Kind: op.ProposalParams, Params: &op.Params{VoteNum: 2, VoteDen: 3, Deadline: 4}, Nonce: []byte("open")}))
		return w.propose(w.p, op.Proposal{Kind: op.ProposalParams, Params: &op.Params{VoteNum: 2, VoteDen: 3, Deadline: 4}, Nonce: []byte("another")})
	}},

	// A provider's m-of-n admin keys (keys.go; the form in op/keys.go).
	// The last cases: the first makes q's threshold 2.
	{"fail/keys-below-threshold", op.ReasonBelowThreshold, everywhere, func(w *world) []byte {
		base := w.q.kid.Base()
		two := []op.Key{op.KeyFrom("admin-1", w.q.signer.Public()), op.KeyFrom("admin-2", w.key(cose.AlgEdDSA, "q2").Public())}
		w.apply(sign(w.t, w.q.signer, w.q.kid, op.Payload{Type: op.TypeKeys, Keys: &op.ProviderKeys{Provider: base.String(), Keys: two, Threshold: 2}}))
		return w.deploy(w.q, "alone", op.ContractAccess, "true")
	}},
	{"fail/keys-duplicate-signer", op.ReasonDuplicateSigner, everywhere, func(w *world) []byte {
		tx, err := op.SignMulti([]cose.Signer{w.q.signer, w.q.signer}, []did.DID{w.q.kid, w.q.kid}, op.Payload{Type: op.TypeDeploy, Network: network,
			Contract: &op.Contract{Provider: w.q.kid.Base().String(), Name: "twice", Kind: op.ContractAccess, Source: "true"}})
		if err != nil {
			w.t.Fatal(err)
		}
		return tx
	}},
}

// rotated registers a device under p with key k1 and applies its own
// update (signed by k1, version 1 -> 2) that replaces k1 with a new key
// named id; it returns the update and the device (with its old key).
func (w *world) rotated(id string) ([]byte, entity) {
	w.t.Helper()
	tx, e := w.register(op.KindDevice, w.p, w.key(cose.AlgEdDSA, "old"), nil)
	w.apply(tx)
	rotation := w.update(e.s, e.kid(), e, 1, op.Document{Keys: []op.Key{op.KeyFrom(id, w.key(cose.AlgEdDSA, "new").Public())}})
	w.apply(rotation)
	return rotation, e
}

// ref names prov's contract name as a service binds it.
func (w *world) ref(prov provider, name string) string { return prov.kid.Base().String() + "/" + name }

// TestRejections checks each way an operation is refused through the
// application's engine boundary (core.App): the stable reason from Precheck (a
// submission), Check's admission (refused, or deferred), and the result
// in a block (a byzantine proposer may include anything), which leaves
// the state as it was. The messages of the registry's own refusals are
// pinned in testdata/rejections.golden (-update rewrites it).
func TestRejections(t *testing.T) {
	w := newWorld(t)
	golden := readGolden(t)
	got := map[string]string{}
	seen := map[op.Reason]bool{}
	for _, c := range rejections {
		t.Run(c.name, func(t *testing.T) {
			w.t, w.seed = t, c.name
			defer func() { w.t, w.seed = nil, "" }()
			msg := refuses(t, w.c, c, c.tx(w))
			seen[c.reason] = true
			got[c.name] = string(c.reason) + "\t" + msg
			if *update {
				return
			}
			if want, ok := golden[c.name]; ok && want != got[c.name] {
				t.Errorf("message changed:\n got %s\nwant %s", got[c.name], want)
			} else if !ok && msg != "" {
				t.Errorf("no golden message for %s (go test -run TestRejections -update)", c.name)
			}
		})
	}
	if len(got) < len(rejections) {
		if *update {
			t.Fatal("-update needs every case to run")
		}
		return // a -run filter: the checks of the whole table do not apply
	}
	// Every rejection reason that an operation can earn has a case.
	for _, r := range op.Refusals() {
		if !seen[r] {
			t.Errorf("no case for reason %s", r)
		}
	}
	if *update {
		writeGolden(t, got)
	}
}

// refuses checks that tx is refused as c says, and returns the message of
// the refusal if it is the registry's own ("" if op.Decode refuses it:
// the op package's).
func refuses(t *testing.T, c *chain, want rejection, tx []byte) string {
	t.Helper()
	perr := c.app.Precheck(tx)
	var oe *op.Error
	if want.where == inBlockOnly {
		if perr != nil {
			t.Fatalf("Precheck: %v; want it admitted (the contract runs in the block)", perr)
		}
	} else {
		if !errors.As(perr, &oe) || oe.Reason != want.reason {
			t.Fatalf("Precheck: %v; want %s", perr, want.reason)
		}
		if isDeferred(perr) != (want.where == deferredInCheckTx) {
			t.Fatalf("Precheck: %v is deferred: %v", perr, isDeferred(perr))
		}
	}

	ck := c.checkTx(tx)
	switch want.where {
	case everywhere:
		if ck.Code != want.reason.Code() || ck.Reason != string(want.reason) || ck.Log != oe.Msg {
			t.Errorf("CheckTx: code %d, info %q, log %q; want %s: %s", ck.Code, ck.Reason, ck.Log, want.reason, oe.Msg)
		}
	case deferredInCheckTx:
		if ck.Code != 0 || ck.Reason != "deferred: "+perr.Error() {
			t.Errorf("CheckTx: code %d, info %q; want it admitted, deferred: %v", ck.Code, ck.Reason, perr)
		}
	case inBlockOnly:
		if ck.Code != 0 || ck.Reason != "" {
			t.Errorf("CheckTx: code %d, info %q, log %q; want it admitted", ck.Code, ck.Reason, ck.Log)
		}
	}

	before := c.st.Hash()
	res, after := c.block(tx)
	r := res[0]
	if reason(r) != want.reason || r.Reason != string(want.reason) || r.Codespace != Codespace {
		t.Fatalf("FinalizeBlock: %s (info %q): %s; want %s", reason(r), r.Reason, r.Log, want.reason)
	}
	if oe != nil && r.Log != oe.Msg {
		t.Errorf("FinalizeBlock says %q, Precheck %q", r.Log, oe.Msg)
	}
	if !bytes.Equal(before, after) {
		t.Error("a refused operation changed the state")
	}
	if _, err := op.Decode(tx); err != nil {
		return ""
	}
	return r.Log
}

const goldenPath = "testdata/rejections.golden"

// readGolden reads name<TAB>reason<TAB>message lines.
func readGolden(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	f, err := os.Open(goldenPath)
	if errors.Is(err, os.ErrNotExist) && *update {
		return m
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck // read only
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("%s: bad line %q", goldenPath, line)
		}
		m[name] = rest
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

func writeGolden(t *testing.T, got map[string]string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("# The messages of the registry's refusals, by case of TestRejections:\n")
	b.WriteString("# name<TAB>reason<TAB>message. Rewrite: go test -run TestRejections -update\n")
	for _, c := range rejections {
		if msg := got[c.name]; !strings.HasSuffix(msg, "\t") {
			b.WriteString(c.name + "\t" + msg + "\n")
		}
	}
	if err := os.MkdirAll(filepath.Dir(goldenPath), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goldenPath, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRejectionNames: the cases' names are unique and say what fails.
func TestRejectionNames(t *testing.T) {
	var names []string
	for _, c := range rejections {
		if !strings.HasPrefix(c.name, "fail/") || slices.Contains(names, c.name) {
			t.Errorf("case %q: a name is fail/<what> and unique", c.name)
		}
		names = append(names, c.name)
	}
}

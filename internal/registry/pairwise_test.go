package registry

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/resolver"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// pw is a pairwise DID of a device: its entry, the salt of its
// commitment and its DID.
type pw struct {
	entry op.PairwiseEntry
	salt  []byte
	id    did.DID
	s     cose.Signer
}

// pairwiseOf makes a pairwise DID of device under prov, with a key and a
// salt derived from name.
func (w *world) pairwiseOf(prov provider, device did.DID, name string) pw {
	w.t.Helper()
	s := w.key(cose.AlgEdDSA, "pairwise/"+name)
	salt := sha256.Sum256([]byte(w.seed + "/salt/" + name))
	e, got, err := op.NewPairwise(network, device, op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}}, bytes.NewReader(salt[:]))
	if err != nil {
		w.t.Fatal(err)
	}
	id, err := op.PairwiseDID(network, prov.kid.Base().String(), e)
	if err != nil {
		w.t.Fatal(err)
	}
	return pw{entry: e, salt: got, id: id, s: s}
}

// pairwiseOp signs, by signer's admin key, the registration of pairwise
// DIDs under prov.
func (w *world) pairwiseOp(signer, prov provider, items ...op.PairwiseEntry) []byte {
	w.t.Helper()
	return sign(w.t, signer.signer, signer.kid, op.Payload{Type: op.TypePairwise, Pairwise: &op.Pairwise{Provider: prov.kid.Base().String(), Items: items}})
}

// revokeWith signs p's revocation of device, validated at version 2,
// carrying the openings.
func (w *world) revokeWith(device did.DID, openings ...op.PairwiseOpening) []byte {
	w.t.Helper()
	p := statusOp(op.TypeRevoke, device, 2)
	p.Status.Pairwise = openings
	return sign(w.t, w.p.signer, w.p.kid, p)
}

func opening(x pw) op.PairwiseOpening { return op.PairwiseOpening{DID: x.id.String(), Salt: x.salt} }

// validatedDevice registers a device under p, validated, with an alias
// and an attribute.
func (w *world) validatedDevice(name, alias string) entity {
	w.t.Helper()
	tx, d := w.register(op.KindDevice, w.p, w.key(cose.AlgEdDSA, name), func(r *op.Register) {
		r.Doc.Aliases = []string{alias}
		r.Doc.Attrs = []op.Attr{{K: "model", V: "car-9"}}
	})
	w.apply(tx, w.status(w.p, op.TypeValidate, d.id, 1))
	return d
}

// TestPairwiseDIDs: a provider registers two pairwise DIDs of one device,
// for service A and service B, in a batch with another device's: each
// service sees its own DID and key, validated under the provider, and
// neither the operation nor their records hold the device's DID, its
// legacy identifier or a salt. The device's revocation carries both and
// revokes all three in one operation of one block; the other device's
// pairwise DID stays.
func TestPairwiseDIDs(t *testing.T) {
	w := newWorld(t)
	dev := w.validatedDevice("car", "urn:imei:490154203237518")
	a, b := w.pairwiseOf(w.p, dev.id, "car/svc-a"), w.pairwiseOf(w.p, dev.id, "car/svc-b")
	other := w.pairwiseOf(w.p, w.holder.id, "holder/svc-a")
	reg := w.pairwiseOp(w.p, w.p, a.entry, other.entry, b.entry)
	w.apply(reg)

	snap := w.c.st.Latest()
	secrets := [][]byte{[]byte(dev.id.String()), []byte("490154203237518"), a.salt, b.salt, []byte(dev.id.Suffix)}
	for _, s := range secrets {
		if bytes.Contains(reg, s) {
			t.Fatalf("the registration holds %q", s)
		}
	}
	var docs []*record.Entity
	for _, x := range []pw{a, b} {
		raw, err := snap.Get(record.EntityKey(x.id.String()))
		if err != nil || raw == nil {
			t.Fatalf("%s: %v", x.id, err)
		}
		for _, s := range secrets {
			if bytes.Contains(raw, s) {
				t.Fatalf("%s's record holds %q", x.id, s)
			}
		}
		e, err := record.DecodeEntity(raw)
		if err != nil {
			t.Fatal(err)
		}
		if e.Status != op.StatusValidated || e.Provider != w.p.kid.Base().String() || e.Kind != op.KindDevice || len(e.Doc.Attrs) != 0 {
			t.Fatalf("pairwise record %+v", e)
		}
		docs = append(docs, e)
	}
	da, err := resolver.Document(docs[0])
	if err != nil {
		t.Fatal(err)
	}
	db, err := resolver.Document(docs[1])
	if err != nil {
		t.Fatal(err)
	}
	if da.ID == db.ID || da.ID == dev.id.String() || da.VerificationMethod[0].PublicKeyMultibase == db.VerificationMethod[0].PublicKeyMultibase {
		t.Fatalf("service A sees %s, service B %s", da.ID, db.ID)
	}

	res, _ := w.c.block(w.revokeWith(dev.id, opening(a), opening(b)))
	if res[0].Code != 0 {
		t.Fatalf("revocation: %s: %s", reason(res[0]), res[0].Log)
	}
	if len(res[0].Events) != 3 {
		t.Fatalf("%d events, want the device's and its two pairwise DIDs'", len(res[0].Events))
	}
	snap = w.c.st.Latest()
	var height int64
	for _, id := range []did.DID{dev.id, a.id, b.id} {
		e, err := getEntity(snap, id.String())
		if err != nil || e.Status != op.StatusRevoked {
			t.Fatalf("%s after the revocation: %+v, %v", id, e, err)
		}
		if height != 0 && e.UpdatedHeight != height {
			t.Fatalf("%s revoked at %d, not %d", id, e.UpdatedHeight, height)
		}
		height = e.UpdatedHeight
	}
	if e, _ := getEntity(snap, other.id.String()); e.Status != op.StatusValidated {
		t.Fatalf("another device's pairwise DID is %s", e.Status)
	}
	// The revoked pairwise DIDs sign nothing any more.
	if err := w.c.app.Precheck(sign(t, a.s, a.id.WithFragment("k1"), statusOp(op.TypeDeactivate, a.id, 2))); !errors.Is(err, &op.Error{Reason: op.ReasonInvalidTransition}) {
		t.Fatalf("a revoked pairwise DID deactivating itself: %v", err)
	}
}

// TestPairwiseRefusals has a named case for every refusal of a pairwise
// registration and of a revocation that carries pairwise DIDs.
func TestPairwiseRefusals(t *testing.T) {
	w := newWorld(t)
	dev := w.validatedDevice("car", "urn:imei:490154203237518")
	a, b := w.pairwiseOf(w.p, dev.id, "svc-a"), w.pairwiseOf(w.p, dev.id, "svc-b")
	ofQ := w.pairwiseOf(w.q, dev.id, "q-svc") // q commits to p's device: it can, but cannot have it revoked with it
	gone := w.pairwiseOf(w.p, dev.id, "gone")
	applied := w.pairwiseOp(w.p, w.p, a.entry, b.entry)
	w.apply(applied, w.pairwiseOp(w.q, w.q, ofQ.entry), w.pairwiseOp(w.p, w.p, gone.entry))
	w.apply(w.status(w.p, op.TypeRevoke, gone.id, 1))

	never := w.pairwiseOf(w.p, dev.id, "never")
	var many []op.PairwiseOpening
	for i := 0; i <= op.MaxPairwise; i++ {
		many = append(many, op.PairwiseOpening{DID: did.New(network, []byte{byte(i)}).String(), Salt: a.salt})
	}
	var items []op.PairwiseEntry
	for i := 0; i <= op.MaxPairwiseItems; i++ {
		items = append(items, w.pairwiseOf(w.p, dev.id, string(rune('a'+i%26))+string(rune('a'+i/26))).entry)
	}
	withAlias := w.pairwiseOf(w.p, dev.id, "alias").entry
	withAlias.Doc.Aliases = []string{"urn:imei:490154203237518"}
	badCommit := w.pairwiseOf(w.p, dev.id, "short").entry
	badCommit.Commit = badCommit.Commit[:16]
	for _, c := range []struct {
		name string
		tx   []byte
		want op.Reason
	}{
		{"fail/pairwise-of-another-provider", w.revokeWith(dev.id, opening(a), opening(ofQ)), op.ReasonUnauthorized},
		{"fail/pairwise-duplicate", w.revokeWith(dev.id, opening(a), opening(a)), op.ReasonInvalidField},
		{"fail/pairwise-names-the-device", w.revokeWith(dev.id, op.PairwiseOpening{DID: dev.id.String(), Salt: a.salt}), op.ReasonInvalidField},
		{"fail/pairwise-too-many", w.revokeWith(dev.id, many...), op.ReasonInvalidField},
		{"fail/pairwise-wrong-salt", w.revokeWith(dev.id, op.PairwiseOpening{DID: a.id.String(), Salt: b.salt}), op.ReasonInvalidField},
		{"fail/pairwise-short-salt", w.revokeWith(dev.id, op.PairwiseOpening{DID: a.id.String(), Salt: a.salt[:8]}), op.ReasonInvalidField},
		{"fail/pairwise-not-pairwise", w.revokeWith(dev.id, op.PairwiseOpening{DID: w.holder.id.String(), Salt: a.salt}), op.ReasonInvalidField},
		{"fail/pairwise-unknown", w.revokeWith(dev.id, opening(never)), op.ReasonUnknownEntity},
		{"fail/pairwise-on-validate", func() []byte {
			p := statusOp(op.TypeDeactivate, dev.id, 2)
			p.Status.Pairwise = []op.PairwiseOpening{opening(a)}
			return sign(t, w.p.signer, w.p.kid, p)
		}(), op.ReasonInvalidField},
		{"fail/pairwise-replay", applied, op.ReasonReplayed},
		{"fail/pairwise-duplicate-entry", w.pairwiseOp(w.p, w.p, never.entry, never.entry), op.ReasonInvalidField},
		{"fail/pairwise-too-many-entries", w.pairwiseOp(w.p, w.p, items...), op.ReasonInvalidField},
		{"fail/pairwise-alias", w.pairwiseOp(w.p, w.p, withAlias), op.ReasonInvalidField},
		{"fail/pairwise-commit-length", w.pairwiseOp(w.p, w.p, badCommit), op.ReasonInvalidField},
		{"fail/pairwise-by-another-provider", w.pairwiseOp(w.q, w.p, never.entry), op.ReasonUnauthorized},
		{"fail/pairwise-update-alias", w.update(w.p.signer, w.p.kid, entity{a.s, a.id}, 1, op.Document{Keys: a.entry.Doc.Keys, Aliases: []string{"tel:+15551230001"}}), op.ReasonInvalidField},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := w.c.app.Precheck(c.tx)
			if !errors.Is(err, &op.Error{Reason: c.want}) {
				t.Fatalf("got %v, want %s", err, c.want)
			}
			res, _ := w.c.block(c.tx)
			if reason(res[0]) != c.want {
				t.Fatalf("in a block: %s (%s), want %s", reason(res[0]), res[0].Log, c.want)
			}
		})
	}
	// None of it touched the device or its pairwise DIDs.
	for _, id := range []did.DID{dev.id, a.id, b.id} {
		if e, _ := getEntity(w.c.st.Latest(), id.String()); e.Status != op.StatusValidated {
			t.Fatalf("%s is %s", id, e.Status)
		}
	}
	// The device deactivates itself and one of its pairwise DIDs (with
	// its own, perhaps stolen, keys): the provider's revocation still
	// reaches the others, passing over the one already out; the device
	// stays deactivated; the same revocation again revokes nothing and is
	// refused.
	w.apply(sign(t, dev.s, dev.id.WithFragment("k1"), statusOp(op.TypeDeactivate, dev.id, 2)),
		sign(t, b.s, b.id.WithFragment("k1"), statusOp(op.TypeDeactivate, b.id, 1)))
	p := statusOp(op.TypeRevoke, dev.id, 3)
	p.Status.Pairwise = []op.PairwiseOpening{opening(a), opening(b), opening(gone)}
	after := sign(t, w.p.signer, w.p.kid, p)
	w.apply(after)
	for id, want := range map[did.DID]string{dev.id: op.StatusDeactivated, a.id: op.StatusRevoked, b.id: op.StatusDeactivated, gone.id: op.StatusRevoked} {
		if e, _ := getEntity(w.c.st.Latest(), id.String()); e.Status != want {
			t.Fatalf("after the revocation of a deactivated device: %s is %s, want %s", id, e.Status, want)
		}
	}
	if res, _ := w.c.block(after); reason(res[0]) != op.ReasonInvalidTransition && reason(res[0]) != op.ReasonReplayed {
		t.Fatalf("fail/pairwise-nothing-left: %s (%s)", reason(res[0]), res[0].Log)
	}
}

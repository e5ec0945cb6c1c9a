package registry

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
)

// world is a chain in a known state for the rejection cases to act on.
// Its keys derive from names, so that its DIDs, and the messages that name
// them, are the same on every run.
type world struct {
	t    *testing.T
	c    *chain
	seed string // prefixes the names that keys derive from

	p provider // the provider most cases act under
	q provider // another provider
	r provider // a provider whose registration contract validates everything

	dev    entity // p's device, pending at version 1 (EdDSA)
	svc    entity // p's service, validated (2), then updated by itself (3); ES256: re-signing makes new bytes
	rev    entity // p's device, validated (2), then revoked (3)
	holder entity // p's device, validated (2), holding the alias heldAlias

	validateSvc []byte     // p's validation of svc: version 1 -> 2
	updateSvc   op.Payload // svc's own update: version 2 -> 3
	deployACL   []byte     // p's deployment of its access contract "acl"
	updateACL   []byte     // p's update of "acl": version 1 -> 2
	publishP    []byte     // p's first publication (a CA and a token key): version 0 -> 1

	// Governance: p proposed, and q and r approved, a vote threshold of
	// more than one half with a deadline of 4 blocks (proposeParams,
	// voteParams); then p and q admitted s (admitS, which r did not
	// approve), and p, q and r removed it.
	s             provider // the removed provider
	proposeParams []byte
	voteParams    []byte // q's vote on proposeParams
	admitS        string // the id of the executed admission of s
}

// heldAlias is the legacy identifier that w.holder holds; otherAlias
// spells the same number another way.
const (
	heldAlias  = "tel:+15551230000"
	otherAlias = "tel:+1-555-123-0000"
)

type entity struct {
	s  cose.Signer
	id did.DID
}

func (e entity) kid() did.DID { return e.id.WithFragment("k1") }

// newWorld builds the world in three blocks.
func newWorld(t *testing.T) *world {
	w := &world{t: t, seed: "world"}
	g, ps := genesisOf(t, w.key(cose.AlgEdDSA, "p"), w.key(cose.AlgEdDSA, "q"), w.key(cose.AlgEdDSA, "r"))
	w.c = newChain(t, g)
	w.p, w.q, w.r = ps[0], ps[1], ps[2]

	var reg [][]byte
	var tx []byte
	tx, w.dev = w.register(op.KindDevice, w.p, w.key(cose.AlgEdDSA, "dev"), nil)
	reg = append(reg, tx)
	tx, w.svc = w.register(op.KindService, w.p, w.key(cose.AlgES256, "svc"), nil)
	reg = append(reg, tx)
	tx, w.rev = w.register(op.KindDevice, w.p, w.key(cose.AlgEdDSA, "rev"), nil)
	reg = append(reg, tx)
	tx, w.holder = w.register(op.KindDevice, w.p, w.key(cose.AlgEdDSA, "holder"), func(r *op.Register) { r.Doc.Aliases = []string{heldAlias} })
	reg = append(reg, tx)
	w.deployACL = w.deploy(w.p, "acl", op.ContractAccess, `true`)
	reg = append(reg, w.deployACL, w.deploy(w.q, "closed", op.ContractAccess, `true`), w.deploy(w.r, "auto", op.ContractRegistration, `"validate"`))
	w.apply(reg...)

	w.validateSvc = w.status(w.p, op.TypeValidate, w.svc.id, 1)
	w.updateACL = w.contractUpdate(w.p, "acl", 1, `!false`)
	w.publishP = w.publish(w.p, 0, [][]byte{w.caCert("p-ca", true)}, op.KeyFrom("t1", w.key(cose.AlgES256, "p-token").Public()))
	w.apply(w.validateSvc, w.status(w.p, op.TypeValidate, w.rev.id, 1), w.status(w.p, op.TypeValidate, w.holder.id, 1), w.updateACL, w.publishP)

	w.updateSvc = op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: w.svc.id.String(), Version: 2, Doc: op.Document{
		Keys: []op.Key{op.KeyFrom("k1", w.svc.s.Public())}, Endpoints: []op.Endpoint{{ID: "api", Type: "Print", URI: "https://print.example/v1"}},
	}}}
	w.apply(sign(t, w.svc.s, w.svc.kid(), w.updateSvc), w.status(w.p, op.TypeRevoke, w.rev.id, 2))

	w.proposeParams = w.propose(w.p, op.Proposal{Kind: op.ProposalParams, Params: &op.Params{VoteNum: 1, VoteDen: 2, Deadline: 4}})
	pid := w.proposalID(w.proposeParams)
	w.voteParams = w.vote(w.q, pid)
	w.apply(w.proposeParams, w.voteParams, w.vote(w.r, pid))
	sKey := w.key(cose.AlgEdDSA, "s")
	admit := w.propose(w.p, op.Proposal{Kind: op.ProposalAdmit, Admit: &op.Admit{Name: "s", Keys: []op.Key{op.KeyFrom("admin-1", sKey.Public())}}})
	w.admitS = w.proposalID(admit)
	w.apply(admit, w.vote(w.q, w.admitS))
	sDID, err := ProviderDID(network, GenesisProvider{Name: "s", Keys: []op.Key{op.KeyFrom("admin-1", sKey.Public())}})
	if err != nil {
		t.Fatal(err)
	}
	w.s = provider{signer: sKey, kid: sDID.WithFragment("admin-1")}
	remove := w.propose(w.p, op.Proposal{Kind: op.ProposalRemove, Provider: sDID.String()})
	w.apply(remove, w.vote(w.q, w.proposalID(remove)), w.vote(w.r, w.proposalID(remove)))
	return w
}

// propose signs prov's proposal.
func (w *world) propose(prov provider, p op.Proposal) []byte {
	w.t.Helper()
	return sign(w.t, prov.signer, prov.kid, op.Payload{Type: op.TypePropose, Gov: &op.Gov{Provider: prov.kid.Base().String(), Proposal: &p}})
}

// vote signs prov's approval of the proposal id.
func (w *world) vote(prov provider, id string) []byte {
	w.t.Helper()
	return sign(w.t, prov.signer, prov.kid, op.Payload{Type: op.TypeVote, Gov: &op.Gov{Provider: prov.kid.Base().String(), Vote: id}})
}

// proposalID is the id of the proposal that tx makes.
func (w *world) proposalID(tx []byte) string {
	w.t.Helper()
	s, err := op.Decode(tx)
	if err != nil {
		w.t.Fatal(err)
	}
	return op.ProposalID(s.PayloadHash)
}

// key derives a key of alg from a name (under w.seed).
func (w *world) key(alg cose.Alg, name string) cose.Signer {
	w.t.Helper()
	d := sha256.Sum256([]byte(w.seed + "/" + name))
	var s cose.Signer
	var err error
	switch alg {
	case cose.AlgEdDSA:
		s, err = cose.NewSigner(ed25519.NewKeyFromSeed(d[:]))
	case cose.AlgES256:
		var k *ecdsa.PrivateKey
		if k, err = ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:]); err == nil {
			s, err = cose.NewSigner(k)
		}
	}
	if s == nil && err == nil {
		w.t.Fatalf("no key for %v", alg)
	}
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// apply makes a block of txs and fails unless each applies.
func (w *world) apply(txs ...[]byte) {
	w.t.Helper()
	res, _ := w.c.block(txs...)
	for i, r := range res {
		if r.Code != 0 {
			w.t.Fatalf("tx %d: %s: %s", i, reason(r), r.Log)
		}
	}
}

// registration is a registration payload of a kind under prov with key s
// as k1, changed by edit (if not nil).
func (w *world) registration(kind string, prov did.DID, s cose.Signer, edit func(*op.Register)) op.Payload {
	r := &op.Register{Kind: kind, Provider: prov.String(), Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}}}
	if edit != nil {
		edit(r)
	}
	return op.Payload{Type: op.TypeRegister, Network: network, Register: r}
}

// register signs a registration under prov with its key k1.
func (w *world) register(kind string, prov provider, s cose.Signer, edit func(*op.Register)) ([]byte, entity) {
	w.t.Helper()
	tx, id, err := op.SignRegister(s, "k1", w.registration(kind, prov.kid.Base(), s, edit))
	if err != nil {
		w.t.Fatal(err)
	}
	return tx, entity{s, id}
}

// status signs a status change by an admin key of prov.
func (w *world) status(prov provider, typ string, id did.DID, v uint64) []byte {
	w.t.Helper()
	return sign(w.t, prov.signer, prov.kid, statusOp(typ, id, v))
}

func statusOp(typ string, id did.DID, v uint64) op.Payload {
	return op.Payload{Type: typ, Status: &op.Status{DID: id.String(), Version: v}}
}

// update signs an update of e's document to doc, by s with kid.
func (w *world) update(s cose.Signer, kid did.DID, e entity, v uint64, doc op.Document) []byte {
	w.t.Helper()
	return sign(w.t, s, kid, op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: e.id.String(), Version: v, Doc: doc}})
}

// docOf is a document that keeps e's key k1.
func docOf(e entity) op.Document { return op.Document{Keys: []op.Key{op.KeyFrom("k1", e.s.Public())}} }

func (w *world) deploy(prov provider, name, kind, src string) []byte {
	w.t.Helper()
	return sign(w.t, prov.signer, prov.kid, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{Provider: prov.kid.Base().String(), Name: name, Kind: kind, Source: src}})
}

func (w *world) contractUpdate(prov provider, name string, v uint64, src string) []byte {
	w.t.Helper()
	return sign(w.t, prov.signer, prov.kid, op.Payload{Type: op.TypeContractUp, Contract: &op.Contract{Provider: prov.kid.Base().String(), Name: name, Version: v, Source: src}})
}

// enroll signs a bulk enrollment of items under prov, by s with kid.
func (w *world) enroll(s cose.Signer, kid did.DID, prov did.DID, items ...op.EnrollEntry) []byte {
	w.t.Helper()
	return sign(w.t, s, kid, op.Payload{Type: op.TypeEnroll, Enroll: &op.Enroll{Provider: prov.String(), Items: items}})
}

// item is an enrollment entry with a key derived from name.
func (w *world) item(name string, aliases ...string) op.EnrollEntry {
	return op.EnrollEntry{Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", w.key(cose.AlgEdDSA, name).Public())}, Aliases: aliases}}
}

// ticket signs a ticket with s under kid; Network, Provider (p) and
// Expires (an hour after the chain's time) are filled in when empty.
func (w *world) ticket(s cose.Signer, kid did.DID, tk op.Ticket) []byte {
	w.t.Helper()
	if tk.Network == "" {
		tk.Network = network
	}
	if tk.Provider == "" {
		tk.Provider = w.p.kid.Base().String()
	}
	if tk.Expires == 0 {
		tk.Expires = w.c.time.Unix() + 3600
	}
	b, err := op.Marshal(tk)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.sign1(s, kid, b)
}

func (w *world) sign1(s cose.Signer, kid did.DID, payload []byte) []byte {
	w.t.Helper()
	b, err := cose.Sign1(s, []byte(kid.String()), payload, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	return b
}

// withTicket registers a device under p with key s, carrying ticket.
func (w *world) withTicket(s cose.Signer, ticket []byte) []byte {
	w.t.Helper()
	tx, _ := w.register(op.KindDevice, w.p, s, func(r *op.Register) { r.Ticket = ticket })
	return tx
}

// rawSign1 builds a COSE_Sign1 with arbitrary protected headers and a
// junk signature.
func (w *world) rawSign1(prot map[int]any, p op.Payload) []byte {
	w.t.Helper()
	p.Network = network
	payload, err := op.Marshal(p)
	if err != nil {
		w.t.Fatal(err)
	}
	pb, err := op.Marshal(prot)
	if err != nil {
		w.t.Fatal(err)
	}
	b, err := op.Marshal(cbor.Tag{Number: 18, Content: []any{pb, map[int]any{}, payload, make([]byte, 64)}})
	if err != nil {
		w.t.Fatal(err)
	}
	return b
}

// reorder re-encodes the CBOR map b with its entries in the order of
// keys (each of its integer keys once): the same content, no longer in
// deterministic encoding.
func (w *world) reorder(b []byte, keys ...int) []byte {
	w.t.Helper()
	var m map[int]cbor.RawMessage
	if err := cbor.Unmarshal(b, &m); err != nil {
		w.t.Fatal(err)
	}
	if len(m) != len(keys) {
		w.t.Fatalf("map of %d entries, %d keys", len(m), len(keys))
	}
	em, err := cbor.EncOptions{Sort: cbor.SortNone}.EncMode()
	if err != nil {
		w.t.Fatal(err)
	}
	out := []byte{0xa0 | byte(len(m))}
	for _, k := range keys {
		kb, err := em.Marshal(k)
		if err != nil {
			w.t.Fatal(err)
		}
		out = append(append(out, kb...), m[k]...)
	}
	return out
}

// unsorted signs p as a registration whose payload map has its keys out
// of deterministic order.
func (w *world) unsorted(s cose.Signer, p op.Payload) []byte {
	w.t.Helper()
	b, err := op.Marshal(p)
	if err != nil {
		w.t.Fatal(err)
	}
	out := w.reorder(b, 3, 1, 2)
	return w.sign1(s, did.New(network, out).WithFragment("k1"), out)
}

// caCert is a certificate for a key derived from name (Ed25519, so that
// its bytes are the same on every run), self-signed, a CA's if ca.
func (w *world) caCert(name string, ca bool) []byte {
	w.t.Helper()
	d := sha256.Sum256([]byte(w.seed + "/ca/" + name))
	k := ed25519.NewKeyFromSeed(d[:])
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC),
		BasicConstraintsValid: true, IsCA: ca, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if ca {
		tmpl.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, k.Public(), k)
	if err != nil {
		w.t.Fatal(err)
	}
	return der
}

// publish signs prov's publication replacing version v.
func (w *world) publish(prov provider, v uint64, ca [][]byte, keys ...op.Key) []byte {
	w.t.Helper()
	return sign(w.t, prov.signer, prov.kid, op.Payload{Type: op.TypePublish, Publish: &op.Publish{Provider: prov.kid.Base().String(), Version: v, CA: ca, TokenKeys: keys}})
}

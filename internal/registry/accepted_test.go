package registry

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/ledger/core"
	"github.com/bias-iot/bias/op"
)

const acceptedPath = "testdata/accepted.golden"

// TestAcceptedOperations applies every kind of operation, each accepted,
// and pins what they do: the app hash after each block and a digest of
// the block's results (code, data, events). Keys derive from names and
// the state holds no signature bytes, so both are the same on every run;
// a change is a change of the state machine (-update rewrites the file).
func TestAcceptedOperations(t *testing.T) {
	w := newWorld(t)
	w.seed = t.Name()
	var lines []string
	block := func(name string, txs ...[]byte) {
		t.Helper()
		res, hash := w.c.block(txs...)
		for i, r := range res {
			if r.Code != 0 {
				t.Fatalf("%s: tx %d: %s: %s", name, i, reason(r), r.Log)
			}
		}
		lines = append(lines, fmt.Sprintf("%s\t%x\t%x", name, hash, digest(res)))
	}
	block("world")

	// A registration with a ticket; one that r's contract validates; a
	// service that binds an access contract of its provider; a bulk
	// enrollment that claims aliases.
	tk := w.key(cose.AlgES256, "ticketed")
	ticketed, _ := w.register(op.KindDevice, w.p, tk, func(r *op.Register) {
		r.Ticket = w.ticket(w.p.signer, w.p.kid, op.Ticket{Key: tk.Public().Bytes(), Claims: []op.Attr{{K: "serial", V: "SN-42"}}})
	})
	decided, ddev := w.register(op.KindDevice, w.r, w.key(cose.AlgEdDSA, "decided"), func(r *op.Register) { r.Doc.Aliases = []string{"tel:+15550002"} })
	binder, bsvc := w.register(op.KindService, w.p, w.key(cose.AlgEdDSA, "binder"), func(r *op.Register) { r.Doc.Access = []string{w.ref(w.p, "acl")} })
	enrolled := w.enroll(w.p.signer, w.p.kid, w.p.kid.Base(), w.item("e1", "urn:imei:490154203237518"), w.item("e2"))
	block("registrations", ticketed, decided, binder, enrolled)

	// Status changes by the provider and by the entity; updates by both.
	withAlias := docOf(w.dev)
	withAlias.Aliases = []string{"urn:dev:mac:0024befffe80"}
	block("status and updates",
		w.update(w.p.signer, w.p.kid, w.dev, 1, withAlias),
		w.status(w.p, op.TypeValidate, bsvc.id, 1),
		sign(t, w.svc.s, w.svc.kid(), statusOp(op.TypeDeactivate, w.svc.id, 3)),
		w.status(w.p, op.TypeDeactivate, w.rev.id, 3),
	)
	block("reject", w.status(w.p, op.TypeReject, w.dev.id, 2))
	block("validate a rejected entity", w.status(w.p, op.TypeValidate, w.dev.id, 3))
	rotated := docOf(entity{s: w.key(cose.AlgEdDSA, "rotated")})
	rotated.Aliases = []string{"urn:dev:mac:0024befffe80"}
	block("rotate a key", w.update(w.dev.s, w.dev.kid(), w.dev, 4, rotated))

	// Contracts: q admits p's services to "closed"; p deploys a
	// registration contract, which then decides on p's registrations.
	admit := sign(t, w.q.signer, w.q.kid, op.Payload{Type: op.TypeContractUp, Contract: &op.Contract{
		Provider: w.q.kid.Base().String(), Name: "closed", Version: 1, Source: `true`, Binders: []string{w.p.kid.Base().String()}}})
	block("contracts", admit, w.deploy(w.p, "gate", op.ContractRegistration, `attrs.size() > 0 ? "validate" : "reject: no attributes"`))
	gated, gdev := w.register(op.KindDevice, w.p, w.key(cose.AlgEdDSA, "gated"), func(r *op.Register) { r.Doc.Attrs = []op.Attr{{K: "model", V: "x"}} })
	refused, rdev := w.register(op.KindDevice, w.p, w.key(cose.AlgEdDSA, "refused"), nil)
	bound, bound2 := w.register(op.KindService, w.p, w.key(cose.AlgEdDSA, "bound"), func(r *op.Register) {
		r.Doc.Access = []string{w.ref(w.q, "closed")}
		r.Doc.Attrs = []op.Attr{{K: "model", V: "svc"}}
	})
	block("decided registrations", gated, refused, bound)

	// A rotation of p's CA and token key: the new beside the old; and q's
	// first publication, of a token key alone.
	block("publications",
		w.publish(w.p, 1, [][]byte{w.caCert("p-ca-2", true), w.caCert("p-ca", true)},
			op.KeyFrom("t2", w.key(cose.AlgEdDSA, "p-token-2").Public()), op.KeyFrom("t1", w.key(cose.AlgES256, "p-token").Public())),
		w.publish(w.q, 0, nil, op.KeyFrom("t1", w.key(cose.AlgEdDSA, "q-token").Public())))

	// Governance (the world set a threshold of more than one half and
	// removed s): p and q admit t with a validator; q, r and p (3 of
	// the 4 providers now) raise q's validator's power; p, r and t set
	// the threshold back to two thirds.
	tKey := w.key(cose.AlgEdDSA, "t")
	admitT := w.propose(w.p, op.Proposal{Kind: op.ProposalAdmit, Admit: &op.Admit{
		Name: "t", Keys: []op.Key{op.KeyFrom("admin-1", tKey.Public())}, Validator: &op.Validator{PubKey: validatorKey("t"), Power: 5}}})
	block("governance: admit a provider", admitT, w.vote(w.q, w.proposalID(admitT)))
	tDID, err := ProviderDID(network, GenesisProvider{Name: "t", Keys: []op.Key{op.KeyFrom("admin-1", tKey.Public())}})
	if err != nil {
		t.Fatal(err)
	}
	power := w.propose(w.q, op.Proposal{Kind: op.ProposalValidator, Provider: w.q.kid.Base().String(), Validator: &op.Validator{PubKey: validatorKey("b"), Power: 12}})
	block("governance: a validator's power", power, w.vote(w.r, w.proposalID(power)), w.vote(w.p, w.proposalID(power)))
	params := w.propose(w.p, op.Proposal{Kind: op.ProposalParams, Params: &op.Params{VoteNum: 2, VoteDen: 3, Deadline: 100}})
	block("governance: params", params, w.vote(w.r, w.proposalID(params)), w.vote(provider{signer: tKey, kid: tDID.WithFragment("admin-1")}, w.proposalID(params)))
	gov, err := getGovernance(w.c.st.Latest())
	if err != nil || gov == nil || len(gov.Providers) != 4 || !gov.IsProvider(tDID.String()) || gov.Params.VoteDen != 3 || gov.TotalPower() != 37 {
		t.Errorf("governance after the proposals: %+v, %v", gov, err)
	}

	// What the operations did, in words.
	for _, c := range []struct {
		e       entity
		status  string
		version uint64
	}{
		{w.dev, op.StatusValidated, 5}, {bsvc, op.StatusValidated, 2}, {w.svc, op.StatusDeactivated, 4}, {w.rev, op.StatusDeactivated, 4},
		{ddev, op.StatusValidated, 1}, {gdev, op.StatusValidated, 1}, {rdev, op.StatusRejected, 1},
		{bound2, op.StatusPending, 1}, // its binding awaits the provider's validation
	} {
		e, err := getEntity(w.c.st.Latest(), c.e.id.String())
		if err != nil || e == nil || e.Status != c.status || e.Version != c.version {
			t.Errorf("%s: %+v, %v; want %s at version %d", c.e.id, e, err, c.status, c.version)
		}
	}
	for prov, want := range map[string]uint64{w.p.kid.Base().String(): 2, w.q.kid.Base().String(): 1} {
		p, err := getProvider(w.c.st.Latest(), prov)
		if err != nil || p == nil || p.PublicationVersion() != want {
			t.Errorf("provider %s: publication %+v, %v; want version %d", prov, p, err, want)
		} else if _, ok := p.TokenKey("t1"); !ok {
			t.Errorf("provider %s: no token key t1", prov)
		}
	}

	got := strings.Join(lines, "\n") + "\n"
	if *update {
		if err := os.WriteFile(acceptedPath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(acceptedPath)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("the accepted operations did other things (block, app hash, results digest):\n got:\n%s\nwant:\n%s", got, want)
	}
}

// digest hashes what a block's results say: code, data and events. Each
// attribute still hashes "true" after it, its ABCI index flag from the
// time the results were ABCI's (cometledger's adapter indexes every
// attribute), so that the golden digests stay those of that time.
func digest(res []core.TxResult) []byte {
	h := sha256.New()
	field := func(b []byte) {
		h.Write(binary.AppendUvarint(nil, uint64(len(b))))
		h.Write(b)
	}
	for _, r := range res {
		field(binary.AppendUvarint(nil, uint64(r.Code)))
		field(r.Data)
		field([]byte(r.Reason))
		for _, ev := range r.Events {
			field([]byte(ev.Type))
			for _, a := range ev.Attrs {
				field([]byte(a.Key))
				field([]byte(a.Value))
				field([]byte("true"))
			}
		}
	}
	return h.Sum(nil)
}

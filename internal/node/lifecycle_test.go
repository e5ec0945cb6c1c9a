package node_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// TestLifecycle drives a real node through an entity's life: register,
// validate, rotate, revoke, deactivate, and checks each state, on each
// ledger engine.
func TestLifecycle(t *testing.T) { eachEngine(t, testLifecycle) }

func testLifecycle(t *testing.T, h *nodetest.Harness) {
	dev := h.Register(op.KindDevice, h.Provider.DID, cose.AlgEdDSA)
	svc := h.Register(op.KindService, h.Provider.DID, cose.AlgES256)
	for _, e := range []nodetest.Entity{dev, svc} {
		got := h.Entity(e.DID)
		if got.Status != op.StatusPending || got.Version != 1 || got.Provider != h.Provider.DID.String() {
			t.Fatalf("after register: %+v", got)
		}
	}
	if k := h.Entity(svc.DID).Kind; k != op.KindService {
		t.Fatalf("service kind = %q", k)
	}

	validate := func(id did.DID, v uint64) *sdk.SubmitResult {
		return h.MustSubmit(h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: id.String(), Version: v, Reason: "checked"}}))
	}
	if r := validate(dev.DID, 1); r.EntityStatus != op.StatusValidated || r.Version != 2 {
		t.Fatalf("validate: %+v", r)
	}
	validate(svc.DID, 1)

	// Rotate the device's key: k1 signs the update that replaces it by k2.
	k2 := nodetest.NewKey(t, cose.AlgES256)
	doc := op.Document{Keys: []op.Key{op.KeyFrom("k2", k2.Public())}}
	r := h.MustSubmit(h.Sign(dev.Signer, dev.DID.WithFragment("k1"), op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: dev.DID.String(), Version: 2, Doc: doc}}))
	got := h.Entity(dev.DID)
	if r.Version != 3 || got.Status != op.StatusValidated || len(got.Keys) != 1 || got.Keys[0].ID != "k2" || got.Keys[0].Alg != "ES256" {
		t.Fatalf("after rotation: %+v", got)
	}
	// The old key no longer signs for the device.
	_, err := h.Submit(h.Sign(dev.Signer, dev.DID.WithFragment("k1"), op.Payload{Type: op.TypeDeactivate, Status: &op.Status{DID: dev.DID.String(), Version: 3}}))
	expectReason(t, err, op.ReasonUnknownSigner)

	// The device may not add a legacy identifier with its own key; its
	// provider may.
	withAlias := op.Document{Keys: doc.Keys, Aliases: []string{"urn:imei:490154203237518"}}
	_, err = h.Submit(h.Sign(k2, dev.DID.WithFragment("k2"), op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: dev.DID.String(), Version: 3, Doc: withAlias}}))
	expectReason(t, err, op.ReasonUnauthorized)
	h.MustSubmit(h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: dev.DID.String(), Version: 3, Doc: withAlias}}))

	// Revoke; the device's own key can no longer deactivate it; the
	// provider can.
	h.MustSubmit(h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeRevoke, Status: &op.Status{DID: dev.DID.String(), Version: 4, Reason: "compromised"}}))
	if got := h.Entity(dev.DID); got.Status != op.StatusRevoked || got.StatusReason != "compromised" || got.Version != 5 {
		t.Fatalf("after revoke: %+v", got)
	}
	_, err = h.Submit(h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: dev.DID.String(), Version: 5}}))
	expectReason(t, err, op.ReasonInvalidTransition)
	_, err = h.Submit(h.Sign(k2, dev.DID.WithFragment("k2"), op.Payload{Type: op.TypeDeactivate, Status: &op.Status{DID: dev.DID.String(), Version: 5}}))
	expectReason(t, err, op.ReasonInvalidTransition)
	h.MustSubmit(h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeDeactivate, Status: &op.Status{DID: dev.DID.String(), Version: 5}}))
	if got := h.Entity(dev.DID); got.Status != op.StatusDeactivated || got.Version != 6 {
		t.Fatalf("after deactivate: %+v", got)
	}
	// Every version stays readable.
	for v, want := range map[uint64]string{1: op.StatusPending, 2: op.StatusValidated, 3: op.StatusValidated, 4: op.StatusValidated, 5: op.StatusRevoked, 6: op.StatusDeactivated} {
		e, err := h.Client.EntityVersion(t.Context(), dev.DID.String(), v)
		if err != nil || e.Status != want || e.Version != v {
			t.Fatalf("version %d: %+v, %v", v, e, err)
		}
	}
}

// TestRejections checks what the node adds to the registry's refusals
// (internal/registry's TestRejections has a case for every way an
// operation is refused): the HTTP status that a client gets for each
// reason an operation can earn, through a real submission, and the
// refusal that only the node makes, of bytes the ledger already holds
// (its mempool, or the EVM engine's pool), on each ledger engine.
func TestRejections(t *testing.T) { eachEngine(t, testRejections) }

func testRejections(t *testing.T, h *nodetest.Harness) {
	dev := h.Register(op.KindDevice, h.Provider.DID, cose.AlgEdDSA)
	svc := h.Register(op.KindService, h.Provider.DID, cose.AlgEdDSA)
	validateTx := h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: svc.DID.String(), Version: 1}})
	h.MustSubmit(validateTx)

	status := func(typ string, id did.DID, v uint64) op.Payload {
		return op.Payload{Type: typ, Network: h.Network, Status: &op.Status{DID: id.String(), Version: v}}
	}
	fresh := nodetest.NewKey(t, cose.AlgEdDSA)
	register := func(edit func(*op.Payload)) []byte {
		p := h.RegisterPayload(op.KindDevice, h.Provider.DID, fresh)
		if edit != nil {
			edit(&p)
		}
		tx, _ := h.SignRegister(fresh, p)
		return tx
	}

	propose := func(by nodetest.Provider, p op.Proposal) []byte {
		return h.Sign(by.Signer, by.Kid, op.Payload{Type: op.TypePropose, Gov: &op.Gov{Provider: by.DID.String(), Proposal: &p}})
	}
	vote := func(by nodetest.Provider, tx []byte) []byte {
		s, err := op.Decode(tx)
		if err != nil {
			t.Fatal(err)
		}
		return h.Sign(by.Signer, by.Kid, op.Payload{Type: op.TypeVote, Gov: &op.Gov{Provider: by.DID.String(), Vote: op.ProposalID(s.PayloadHash)}})
	}
	params := func(deadline int64, nonce string) op.Proposal {
		return op.Proposal{Kind: op.ProposalParams, Params: &op.Params{VoteNum: 2, VoteDen: 3, Deadline: deadline}, Nonce: []byte(nonce)}
	}

	// One operation per reason, the simplest that earns it.
	cases := []struct {
		reason op.Reason
		status int
		tx     func() []byte
	}{
		{op.ReasonMalformed, 400, func() []byte { return []byte("hello") }},
		{op.ReasonOversized, 413, func() []byte { return bytes.Repeat([]byte{0}, op.MaxEnrollBytes+1) }},
		{op.ReasonUnsupportedAlg, 400, func() []byte {
			return rawSign1(t, map[int]any{1: -35, 4: []byte(dev.DID.WithFragment("k1").String())}, mustMarshal(t, status(op.TypeDeactivate, dev.DID, 1)))
		}},
		{op.ReasonInvalidField, 400, func() []byte {
			return register(func(p *op.Payload) { p.Register.Doc.Aliases = []string{"imei:123"} })
		}},
		{op.ReasonWrongNetwork, 400, func() []byte {
			return register(func(p *op.Payload) {
				p.Network, p.Register.Provider = "elsewhere", did.New("elsewhere", []byte("p")).String()
			})
		}},
		{op.ReasonBadSignature, 401, func() []byte {
			tx := register(nil)
			tx[len(tx)-1] ^= 1
			return tx
		}},
		{op.ReasonUnknownSigner, 401, func() []byte {
			return h.Sign(dev.Signer, dev.DID.WithFragment("k9"), status(op.TypeDeactivate, dev.DID, 1))
		}},
		{op.ReasonUnauthorized, 403, func() []byte {
			return h.Sign(dev.Signer, dev.DID.WithFragment("k1"), status(op.TypeValidate, dev.DID, 1))
		}},
		{op.ReasonUnknownEntity, 404, func() []byte {
			// CheckTx would defer it; a submission is refused.
			return h.Sign(h.Provider.Signer, h.Provider.Kid, status(op.TypeValidate, did.New(h.Network, []byte("nobody")), 1))
		}},
		{op.ReasonUnknownProvider, 404, func() []byte {
			return register(func(p *op.Payload) { p.Register.Provider = did.New(h.Network, []byte("nobody")).String() })
		}},
		{op.ReasonReplayed, 409, func() []byte {
			// A contract deployment again (a replay of an operation on an
			// entity answers its applied result instead: TestReencodedOperationAnswersApplied).
			deploy := h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{
				Provider: h.Provider.DID.String(), Name: "replayed", Kind: op.ContractRegistration, Source: `"pending"`}})
			h.MustSubmit(deploy)
			return deploy
		}},
		{op.ReasonStaleVersion, 409, func() []byte {
			return h.Sign(svc.Signer, svc.DID.WithFragment("k1"), status(op.TypeDeactivate, svc.DID, 1))
		}},
		{op.ReasonInvalidTransition, 409, func() []byte {
			return h.Sign(h.Provider.Signer, h.Provider.Kid, status(op.TypeReject, svc.DID, 2))
		}},
		{op.ReasonAliasTaken, 409, func() []byte {
			item := func(alias string) op.EnrollEntry {
				return op.EnrollEntry{Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", nodetest.NewKey(t, cose.AlgEdDSA).Public())}, Aliases: []string{alias}}}
			}
			return h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeEnroll, Enroll: &op.Enroll{
				Provider: h.Provider.DID.String(), Items: []op.EnrollEntry{item("tel:+15550001"), item("tel:+1-555-0001")},
			}})
		}},
		{op.ReasonBadTicket, 422, func() []byte {
			return registerWithTicket(t, h, fresh, op.Ticket{Key: fresh.Public().Bytes(), Expires: time.Now().Add(-time.Hour).Unix()}, h.Provider)
		}},
		{op.ReasonBadContract, 422, func() []byte {
			return h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{
				Provider: h.Provider.DID.String(), Name: "broken", Kind: op.ContractRegistration, Source: `"validate" +`}})
		}},
		{op.ReasonUnknownProposal, 404, func() []byte {
			return h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeVote, Gov: &op.Gov{Provider: h.Provider.DID.String(), Vote: strings.Repeat("0", 64)}})
		}},
		{op.ReasonGovTooManyOpen, 409, func() []byte {
			// The network upgrades to app version 2 and bounds open proposals to 2; the other provider leaves two open.
			tick := func(i int) int64 {
				return h.MustSubmit(h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{
					Provider: h.Provider.DID.String(), Name: fmt.Sprintf("tick-%d", i), Kind: op.ContractAccess, Source: "true"}})).Height
			}
			at := tick(0) + 8
			up := propose(h.Provider, op.Proposal{Kind: op.ProposalUpgrade, Upgrade: &op.Upgrade{Name: "v2", Version: 2, Height: at}})
			h.MustSubmit(up)
			h.MustSubmit(vote(h.Other, up))
			for i := 1; i < 20 && tick(i) < at; i++ {
			}
			limit := propose(h.Provider, op.Proposal{Kind: op.ProposalParams, Params: &op.Params{VoteNum: 2, VoteDen: 3, Deadline: 100, MaxOpen: 2}})
			h.MustSubmit(limit)
			h.MustSubmit(vote(h.Other, limit))
			h.MustSubmit(propose(h.Other, params(100, "open-1")))
			h.MustSubmit(propose(h.Other, params(100, "open-2")))
			return propose(h.Other, params(100, "one too many"))
		}},
		{op.ReasonAlreadyVoted, 409, func() []byte {
			tx := propose(h.Provider, params(100, "voted"))
			h.MustSubmit(tx) // 1 of 2: open
			return vote(h.Provider, tx)
		}},
		{op.ReasonProposalClosed, 409, func() []byte {
			// Both providers set a deadline of one block; a proposal then
			// expires two blocks on.
			short := propose(h.Provider, params(1, "short"))
			h.MustSubmit(short)
			h.MustSubmit(vote(h.Other, short))
			tx := propose(h.Provider, params(100, "late"))
			h.MustSubmit(tx)
			h.Register(op.KindDevice, h.Provider.DID, cose.AlgEdDSA)
			h.Register(op.KindDevice, h.Provider.DID, cose.AlgEdDSA)
			return vote(h.Other, tx)
		}},
		{op.ReasonUnsafeChange, 409, func() []byte {
			// The default provider runs the only validator.
			return propose(h.Other, op.Proposal{Kind: op.ProposalRemove, Provider: h.Provider.DID.String()})
		}},
		{op.ReasonDuplicateSigner, 400, func() []byte {
			tx, err := op.SignMulti([]cose.Signer{h.Provider.Signer, h.Provider.Signer}, []did.DID{h.Provider.Kid, h.Provider.Kid},
				op.Payload{Type: op.TypeDeploy, Network: h.Network, Contract: &op.Contract{Provider: h.Provider.DID.String(), Name: "twice", Kind: op.ContractAccess, Source: "true"}})
			if err != nil {
				t.Fatal(err)
			}
			return tx
		}},
		{op.ReasonBelowThreshold, 403, func() []byte {
			// The last case: the other provider's operations need 2 of its keys from here on.
			two := []op.Key{op.KeyFrom(h.Other.Kid.Fragment, h.Other.Signer.Public()), op.KeyFrom("admin-2", nodetest.NewKey(t, cose.AlgEdDSA).Public())}
			h.MustSubmit(h.Sign(h.Other.Signer, h.Other.Kid, op.Payload{Type: op.TypeKeys, Keys: &op.ProviderKeys{Provider: h.Other.DID.String(), Keys: two, Threshold: 2}}))
			return h.Sign(h.Other.Signer, h.Other.Kid, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{Provider: h.Other.DID.String(), Name: "alone", Kind: op.ContractAccess, Source: "true"}})
		}},
	}
	seen := map[op.Reason]bool{}
	for _, c := range cases {
		seen[c.reason] = true
		t.Run("fail/"+string(c.reason), func(t *testing.T) {
			_, err := h.Submit(c.tx())
			_ = expectRefusal(t, err, c.reason, c.status) // it fails the test itself
		})
	}
	// Every rejection reason that an operation can earn has a case.
	for _, r := range op.Refusals() {
		if !seen[r] {
			t.Errorf("no case for reason %s", r)
		}
	}

	t.Run("fail/replayed-bytes", func(t *testing.T) {
		// The same bytes submitted at once: the registry admits each copy
		// (nothing is committed yet), the ledger's duplicate detection
		// refuses all but the first while it waits (409 replayed). A copy
		// that comes after the commit is answered with the applied result.
		for range 20 {
			s := nodetest.NewKey(t, cose.AlgEdDSA)
			tx, _ := h.SignRegister(s, h.RegisterPayload(op.KindDevice, h.Provider.DID, s))
			errs := make([]error, 4)
			var wg sync.WaitGroup
			for i := range errs {
				wg.Go(func() { _, errs[i] = h.Submit(tx) })
			}
			wg.Wait()
			committed, duplicate := 0, false
			for _, err := range errs {
				if err == nil {
					committed++ // the first, or a copy after it: its applied result
					continue
				}
				ae := expectRefusal(t, err, op.ReasonReplayed, 409)
				duplicate = duplicate || strings.Contains(ae.Message, "already submitted")
			}
			if committed < 1 {
				t.Fatalf("%d of %d copies committed", committed, len(errs))
			}
			if duplicate {
				return
			}
		}
		t.Fatal("no copy met the ledger's duplicate detection")
	})

	// Nothing refused changed the device.
	if e := h.Entity(dev.DID); e.Version != 1 || e.Status != op.StatusPending {
		t.Fatalf("device changed by rejected operations: %+v", e)
	}
}

// expectRefusal fails t unless err is the API's refusal for reason with
// the HTTP status.
func expectRefusal(t *testing.T, err error, reason op.Reason, status int) *sdk.APIError {
	t.Helper()
	var ae *sdk.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want rejection %s", err, reason)
	}
	if ae.Reason != string(reason) || ae.Status != status {
		t.Fatalf("got %s (HTTP %d): %s; want %s (HTTP %d)", ae.Reason, ae.Status, ae.Message, reason, status)
	}
	return ae
}

// TestTicketAndEnroll registers with a valid enrollment ticket and enrolls
// a batch of devices.
func TestTicketAndEnroll(t *testing.T) {
	h := nodetest.Start(t)
	k := nodetest.NewKey(t, cose.AlgES256)
	tx := registerWithTicket(t, h, k, op.Ticket{Key: k.Public().Bytes(), Expires: time.Now().Add(time.Hour).Unix(), Claims: []op.Attr{{K: "serial", V: "SN-42"}}}, h.Provider)
	res := h.MustSubmit(tx)
	e := h.Entity(did.MustParse(res.DID))
	if e.Ticket["serial"] != "SN-42" || e.Status != op.StatusPending {
		t.Fatalf("ticket claims not recorded: %+v", e)
	}

	var items []op.EnrollEntry
	for i := 0; i < 50; i++ {
		s := nodetest.NewKey(t, cose.AlgEdDSA)
		items = append(items, op.EnrollEntry{Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}}})
	}
	enroll := h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeEnroll, Enroll: &op.Enroll{Provider: h.Provider.DID.String(), Items: items}})
	if r := h.MustSubmit(enroll); r.Count != 50 {
		t.Fatalf("enroll: %+v", r)
	}
	for _, it := range []op.EnrollEntry{items[0], items[49]} {
		id, _ := op.EnrollDID(h.Network, h.Provider.DID.String(), it)
		if e := h.Entity(id); e.Status != op.StatusValidated || e.Kind != op.KindDevice {
			t.Fatalf("enrolled device: %+v", e)
		}
	}
	// The same batch again, re-signed into other bytes, is a replay.
	items[0].Nonce = nil
	again := h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeEnroll, Enroll: &op.Enroll{Provider: h.Provider.DID.String(), Items: items[:1]}})
	_, err := h.Submit(again)
	expectReason(t, err, op.ReasonReplayed)
}

// registerWithTicket registers a device with key s, carrying ticket t
// signed by prov (Network and Provider are filled in when empty).
func registerWithTicket(t *testing.T, h *nodetest.Harness, s cose.Signer, tk op.Ticket, prov nodetest.Provider) []byte {
	t.Helper()
	if tk.Network == "" {
		tk.Network = h.Network
	}
	if tk.Provider == "" {
		tk.Provider = h.Provider.DID.String()
	}
	ticket, err := cose.Sign1(prov.Signer, []byte(prov.Kid.String()), mustMarshal(t, tk), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := h.RegisterPayload(op.KindDevice, h.Provider.DID, s)
	p.Register.Ticket = ticket
	tx, _ := h.SignRegister(s, p)
	return tx
}

func expectReason(t *testing.T, err error, want op.Reason) {
	t.Helper()
	var ae *sdk.APIError
	if !errors.As(err, &ae) || ae.Reason != string(want) {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func mustMarshal(t *testing.T, p any) []byte {
	b, err := op.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawSign1 builds a COSE_Sign1 with arbitrary headers and a junk signature.
func rawSign1(t *testing.T, prot map[int]any, payload []byte) []byte {
	pb, err := op.Marshal(prot)
	if err != nil {
		t.Fatal(err)
	}
	b, err := op.Marshal(cbor.Tag{Number: 18, Content: []any{pb, map[int]any{}, payload, make([]byte, 64)}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

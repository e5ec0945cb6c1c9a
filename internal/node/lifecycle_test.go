package node_test

import (
	"bytes"
	"errors"
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
// validate, rotate, revoke, deactivate, and checks each state.
func TestLifecycle(t *testing.T) {
	h := nodetest.Start(t)
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

// TestRejections has a named case for every way an operation is refused;
// each checks the stable reason code and the HTTP status.
func TestRejections(t *testing.T) {
	h := nodetest.Start(t)
	dev := h.Register(op.KindDevice, h.Provider.DID, cose.AlgEdDSA)
	svc := h.Register(op.KindService, h.Provider.DID, cose.AlgES256)
	validateTx := h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: svc.DID.String(), Version: 1}})
	h.MustSubmit(validateTx)
	// svc (ES256, randomized signatures) updates itself: a payload that we
	// can re-sign into new bytes later.
	svcUpdate := op.Payload{Type: op.TypeUpdate, Network: h.Network, Update: &op.Update{DID: svc.DID.String(), Version: 2, Doc: op.Document{
		Keys: []op.Key{op.KeyFrom("k1", svc.Signer.Public())}, Endpoints: []op.Endpoint{{ID: "api", Type: "Print", URI: "https://print.example/v1"}},
	}}}
	h.MustSubmit(h.Sign(svc.Signer, svc.DID.WithFragment("k1"), svcUpdate))

	status := func(typ string, id did.DID, v uint64) op.Payload {
		return op.Payload{Type: typ, Network: h.Network, Status: &op.Status{DID: id.String(), Version: v}}
	}
	unknown := did.New(h.Network, []byte("nobody"))
	fresh := nodetest.NewKey(t, cose.AlgEdDSA)
	freshES := nodetest.NewKey(t, cose.AlgES256)

	cases := []struct {
		name   string
		tx     func() []byte
		reason op.Reason
		status int
	}{
		{"fail/malformed-cbor", func() []byte { return []byte{0xd2, 0x84, 0x40, 0xff} }, op.ReasonMalformed, 400},
		{"fail/not-cose", func() []byte { return []byte("hello") }, op.ReasonMalformed, 400},
		{"fail/non-deterministic-payload", func() []byte {
			// The same register payload with its map keys out of order.
			p := h.RegisterPayload(op.KindDevice, h.Provider.DID, fresh)
			p.Type = op.TypeRegister
			b, _ := op.Marshal(p)
			var m map[int]cbor.RawMessage
			cbor.Unmarshal(b, &m)
			em, _ := cbor.EncOptions{Sort: cbor.SortNone}.EncMode()
			var buf bytes.Buffer
			buf.WriteByte(0xa0 | byte(len(m)))
			for _, k := range []int{3, 1, 2} {
				kb, _ := em.Marshal(k)
				buf.Write(kb)
				buf.Write(m[k])
			}
			id := did.New(h.Network, buf.Bytes())
			tx, _ := cose.Sign1(fresh, []byte(id.WithFragment("k1").String()), buf.Bytes(), nil)
			return tx
		}, op.ReasonMalformed, 400},
		{"fail/bad-signature", func() []byte {
			tx, _ := h.SignRegister(fresh, h.RegisterPayload(op.KindDevice, h.Provider.DID, fresh))
			tx[len(tx)-1] ^= 1
			return tx
		}, op.ReasonBadSignature, 401},
		{"fail/oversized", func() []byte { return bytes.Repeat([]byte{0}, op.MaxEnrollBytes+1) }, op.ReasonOversized, 413},
		{"fail/unsupported-alg", func() []byte {
			return rawSign1(t, map[int]any{1: -35, 4: []byte(dev.DID.WithFragment("k1").String())}, mustMarshal(t, status(op.TypeDeactivate, dev.DID, 1)))
		}, op.ReasonUnsupportedAlg, 400},
		{"fail/kid-unprotected", func() []byte {
			return rawSign1(t, map[int]any{1: int(cose.AlgEdDSA)}, mustMarshal(t, status(op.TypeDeactivate, dev.DID, 1)))
		}, op.ReasonMalformed, 400},
		{"fail/invalid-field", func() []byte {
			p := h.RegisterPayload(op.KindDevice, h.Provider.DID, fresh)
			p.Register.Doc.Aliases = []string{"imei:123"}
			tx, _ := h.SignRegister(fresh, p)
			return tx
		}, op.ReasonInvalidField, 400},
		{"fail/wrong-network", func() []byte {
			p := h.RegisterPayload(op.KindDevice, h.Provider.DID, fresh)
			p.Network = "elsewhere"
			p.Register.Provider = did.New("elsewhere", []byte("p")).String()
			tx, _ := h.SignRegister(fresh, p)
			return tx
		}, op.ReasonWrongNetwork, 400},
		{"fail/unknown-provider", func() []byte {
			tx, _ := h.SignRegister(fresh, h.RegisterPayload(op.KindDevice, unknown, fresh))
			return tx
		}, op.ReasonUnknownProvider, 404},
		{"fail/unknown-entity", func() []byte {
			return h.Sign(h.Provider.Signer, h.Provider.Kid, status(op.TypeValidate, unknown, 1))
		}, op.ReasonUnknownEntity, 404},
		{"fail/unknown-signer", func() []byte {
			return h.Sign(dev.Signer, dev.DID.WithFragment("k9"), status(op.TypeDeactivate, dev.DID, 1))
		}, op.ReasonUnknownSigner, 401},
		{"fail/wrong-signer-key", func() []byte {
			// kid names the device's key, but another key signed.
			return h.Sign(fresh, dev.DID.WithFragment("k1"), status(op.TypeDeactivate, dev.DID, 1))
		}, op.ReasonBadSignature, 401},
		{"fail/self-validate", func() []byte {
			return h.Sign(dev.Signer, dev.DID.WithFragment("k1"), status(op.TypeValidate, dev.DID, 1))
		}, op.ReasonUnauthorized, 403},
		{"fail/other-provider", func() []byte {
			return h.Sign(h.Other.Signer, h.Other.Kid, status(op.TypeRevoke, dev.DID, 1))
		}, op.ReasonUnauthorized, 403},
		{"fail/other-entity", func() []byte {
			return h.Sign(svc.Signer, svc.DID.WithFragment("k1"), status(op.TypeDeactivate, dev.DID, 1))
		}, op.ReasonUnauthorized, 403},
		{"fail/register-not-self-signed", func() []byte {
			// Signed by the provider rather than by the new entity's key.
			p := h.RegisterPayload(op.KindDevice, h.Provider.DID, fresh)
			p.Type = op.TypeRegister
			return h.Sign(h.Provider.Signer, h.Provider.Kid, p)
		}, op.ReasonUnauthorized, 403},
		{"fail/enroll-other-provider", func() []byte {
			return h.Sign(h.Other.Signer, h.Other.Kid, op.Payload{Type: op.TypeEnroll, Enroll: &op.Enroll{
				Provider: h.Provider.DID.String(), Items: []op.EnrollEntry{{Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", fresh.Public())}}}},
			}})
		}, op.ReasonUnauthorized, 403},
		{"fail/replayed-bytes", func() []byte { return validateTx }, op.ReasonReplayed, 409},
		{"fail/replayed-resigned", func() []byte {
			// The applied update again, with a fresh ES256 signature: new
			// bytes, same payload.
			return h.Sign(svc.Signer, svc.DID.WithFragment("k1"), svcUpdate)
		}, op.ReasonReplayed, 409},
		{"fail/replayed-register", func() []byte {
			// svc's registration re-signed: it derives the same DID.
			p := h.RegisterPayload(op.KindService, h.Provider.DID, freshES)
			tx, _ := h.SignRegister(freshES, p)
			h.MustSubmit(tx)
			tx2, _ := h.SignRegister(freshES, p)
			if bytes.Equal(tx, tx2) {
				t.Fatal("ES256 signatures should differ")
			}
			return tx2
		}, op.ReasonReplayed, 409},
		{"fail/stale-version", func() []byte {
			return h.Sign(svc.Signer, svc.DID.WithFragment("k1"), status(op.TypeDeactivate, svc.DID, 2))
		}, op.ReasonStaleVersion, 409},
		{"fail/future-version", func() []byte {
			return h.Sign(svc.Signer, svc.DID.WithFragment("k1"), status(op.TypeDeactivate, svc.DID, 9))
		}, op.ReasonStaleVersion, 409},
		{"fail/invalid-transition", func() []byte {
			return h.Sign(h.Provider.Signer, h.Provider.Kid, status(op.TypeReject, svc.DID, 3))
		}, op.ReasonInvalidTransition, 409},
		{"fail/alias-taken", func() []byte {
			// A validated holder of an identifier; a second entity that
			// claims it (in another spelling) cannot be validated.
			for i, spelling := range []string{"tel:+1-555-123-0000", "tel:+15551230000"} {
				s := nodetest.NewKey(t, cose.AlgEdDSA)
				p := h.RegisterPayload(op.KindDevice, h.Provider.DID, s)
				p.Register.Doc.Aliases = []string{spelling}
				tx, id := h.SignRegister(s, p)
				h.MustSubmit(tx)
				validate := h.Sign(h.Provider.Signer, h.Provider.Kid, status(op.TypeValidate, id, 1))
				if i == 1 {
					return validate
				}
				h.MustSubmit(validate)
			}
			return nil
		}, op.ReasonAliasTaken, 409},
		{"fail/bad-contract", func() []byte {
			return h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{
				Provider: h.Provider.DID.String(), Name: "broken", Kind: op.ContractRegistration, Source: `"validate" +`}})
		}, op.ReasonBadContract, 422},
		{"fail/bad-ticket-expired", func() []byte {
			return registerWithTicket(t, h, fresh, op.Ticket{Key: fresh.Public().Bytes(), Expires: time.Now().Add(-time.Hour).Unix()}, h.Provider)
		}, op.ReasonBadTicket, 422},
		{"fail/bad-ticket-other-key", func() []byte {
			return registerWithTicket(t, h, fresh, op.Ticket{Key: freshES.Public().Bytes(), Expires: time.Now().Add(time.Hour).Unix()}, h.Provider)
		}, op.ReasonBadTicket, 422},
		{"fail/bad-ticket-reused", func() []byte {
			// A ticket enrolls one entity: the same key under a new DID
			// (another nonce) needs a new ticket.
			s := nodetest.NewKey(t, cose.AlgEdDSA)
			ticket, err := cose.Sign1(h.Provider.Signer, []byte(h.Provider.Kid.String()), mustMarshal(t, op.Ticket{Network: h.Network,
				Provider: h.Provider.DID.String(), Key: s.Public().Bytes(), Expires: time.Now().Add(time.Hour).Unix()}), nil)
			if err != nil {
				t.Fatal(err)
			}
			var second []byte
			for i, nonce := range []string{"first", "second"} {
				p := h.RegisterPayload(op.KindDevice, h.Provider.DID, s)
				p.Register.Ticket, p.Register.Nonce = ticket, []byte(nonce)
				if i == 1 {
					// The same ticket without its CBOR tag (unsigned bytes).
					if ticket[0] != 0xd2 {
						t.Fatalf("ticket is not a tagged COSE_Sign1: %x", ticket[:1])
					}
					p.Register.Ticket = ticket[1:]
				}
				tx, _ := h.SignRegister(s, p)
				if i == 0 {
					h.MustSubmit(tx)
				}
				second = tx
			}
			return second
		}, op.ReasonBadTicket, 422},
		{"fail/bad-ticket-stolen", func() []byte {
			// A ticket for the victim's key, copied from a block, used by
			// a registration that lists that key but is signed by another.
			victim, thief := nodetest.NewKey(t, cose.AlgEdDSA), nodetest.NewKey(t, cose.AlgEdDSA)
			ticket, err := cose.Sign1(h.Provider.Signer, []byte(h.Provider.Kid.String()), mustMarshal(t, op.Ticket{Network: h.Network,
				Provider: h.Provider.DID.String(), Key: victim.Public().Bytes(), Expires: time.Now().Add(time.Hour).Unix()}), nil)
			if err != nil {
				t.Fatal(err)
			}
			p := h.RegisterPayload(op.KindDevice, h.Provider.DID, thief)
			p.Register.Doc.Keys = append(p.Register.Doc.Keys, op.KeyFrom("k2", victim.Public()))
			p.Register.Ticket = ticket
			tx, _ := h.SignRegister(thief, p)
			return tx
		}, op.ReasonBadTicket, 422},
		{"fail/bad-ticket-other-provider", func() []byte {
			return registerWithTicket(t, h, fresh, op.Ticket{Key: fresh.Public().Bytes(), Expires: time.Now().Add(time.Hour).Unix()}, h.Other)
		}, op.ReasonBadTicket, 422},
	}
	seen := map[op.Reason]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := h.Submit(c.tx())
			var ae *sdk.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("got %v, want rejection %s", err, c.reason)
			}
			if ae.Reason != string(c.reason) || ae.Status != c.status {
				t.Fatalf("got %s (HTTP %d): %s; want %s (HTTP %d)", ae.Reason, ae.Status, ae.Message, c.reason, c.status)
			}
			seen[c.reason] = true
		})
	}
	// Every rejection reason that an operation can earn has a case.
	for _, r := range op.Reasons() {
		switch r {
		case op.ReasonOK, op.ReasonInternal, op.ReasonMempoolFull, op.ReasonTimeout:
			continue
		}
		if !seen[r] {
			t.Errorf("no case for reason %s", r)
		}
	}
	// Nothing rejected changed the device.
	if e := h.Entity(dev.DID); e.Version != 1 || e.Status != op.StatusPending {
		t.Fatalf("device changed by rejected operations: %+v", e)
	}
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

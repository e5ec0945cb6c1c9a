package node_test

import (
	"os"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
)

// TestExampleContracts deploys each shipped registration contract on a
// real node and registers devices that it validates, leaves pending and
// rejects.
func TestExampleContracts(t *testing.T) {
	t.Parallel()
	type reg struct {
		aliases []string
		attrs   []op.Attr
		alg     cose.Alg
		serial  string // ticket claim
		want    string
	}
	cases := map[string][]reg{
		"tac.cel": {
			{aliases: []string{"urn:imei:35209900-176148-1"}, alg: cose.AlgEdDSA, want: op.StatusValidated},
			{aliases: []string{"urn:imei:12345678-176148-7"}, alg: cose.AlgEdDSA, want: op.StatusPending},
		},
		"ticket-serial.cel": {
			{attrs: []op.Attr{{K: "serial", V: "SN-7"}}, alg: cose.AlgEdDSA, serial: "SN-7", want: op.StatusValidated},
			{attrs: []op.Attr{{K: "serial", V: "SN-8"}}, alg: cose.AlgEdDSA, serial: "SN-7", want: op.StatusPending},
		},
		"meters-p256.cel": {
			{attrs: []op.Attr{{K: "class", V: "meter"}}, alg: cose.AlgEdDSA, want: op.StatusRejected},
			{attrs: []op.Attr{{K: "class", V: "meter"}}, alg: cose.AlgES256, want: op.StatusPending},
		},
	}
	for file, regs := range cases {
		t.Run(file, func(t *testing.T) {
			h := nodetest.Start(t)
			src, err := os.ReadFile("../../examples/contracts/" + file)
			if err != nil {
				t.Fatal(err)
			}
			h.MustSubmit(h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{
				Provider: h.Provider.DID.String(), Name: "example", Kind: op.ContractRegistration, Source: string(src)}}))
			for i, r := range regs {
				s := nodetest.NewKey(t, r.alg)
				p := h.RegisterPayload(op.KindDevice, h.Provider.DID, s)
				p.Register.Doc.Aliases, p.Register.Doc.Attrs = r.aliases, r.attrs
				if r.serial != "" {
					p.Register.Ticket = signTicket(t, h, s, r.serial)
				}
				tx, _ := h.SignRegister(s, p)
				if res := h.MustSubmit(tx); res.EntityStatus != r.want {
					t.Errorf("registration %d: %s, want %s", i, res.EntityStatus, r.want)
				}
			}
		})
	}
}

func signTicket(t *testing.T, h *nodetest.Harness, s cose.Signer, serial string) []byte {
	t.Helper()
	b, err := op.Marshal(op.Ticket{Network: h.Network, Provider: h.Provider.DID.String(), Key: s.Public().Bytes(),
		Expires: 4_000_000_000, Claims: []op.Attr{{K: "serial", V: serial}}})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := cose.Sign1(h.Provider.Signer, []byte(h.Provider.Kid.String()), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

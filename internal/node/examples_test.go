package node_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// TestExampleContracts deploys each shipped registration contract on a
// real node and registers devices that it validates, leaves pending and
// rejects: a named case for what each refuses to take on a device's word
// alone (issue 18, finding 4).
func TestExampleContracts(t *testing.T) {
	t.Parallel()
	const imei = "urn:imei:35209900-176148-1"
	type reg struct {
		name    string
		aliases []string
		attrs   []op.Attr
		alg     cose.Alg
		ticket  []op.Attr // claims of a ticket from the provider, if any
		want    string
	}
	cases := map[string][]reg{
		"tac.cel": {
			{name: "ok/imei-in-range-vouched", aliases: []string{imei}, ticket: []op.Attr{{K: "imei", V: imei}}, want: op.StatusValidated},
			{name: "fail/imei-in-range-without-ticket", aliases: []string{imei}, want: op.StatusPending},
			{name: "fail/ticket-for-another-imei", aliases: []string{imei}, ticket: []op.Attr{{K: "imei", V: "urn:imei:35209900-176148-2"}}, want: op.StatusPending},
			{name: "fail/imei-out-of-range", aliases: []string{"urn:imei:12345678-176148-7"}, ticket: []op.Attr{{K: "imei", V: "urn:imei:12345678-176148-7"}}, want: op.StatusPending},
			{name: "fail/attribute-not-vouched", aliases: []string{imei}, attrs: []op.Attr{{K: "class", V: "camera"}}, ticket: []op.Attr{{K: "imei", V: imei}}, want: op.StatusPending},
			{name: "fail/no-identifier", ticket: []op.Attr{{K: "imei", V: imei}}, want: op.StatusPending},
		},
		"ticket-serial.cel": {
			{name: "ok/serial-vouched", attrs: []op.Attr{{K: "serial", V: "SN-7"}}, ticket: []op.Attr{{K: "serial", V: "SN-7"}}, want: op.StatusValidated},
			{name: "ok/every-attribute-vouched", attrs: []op.Attr{{K: "class", V: "camera"}, {K: "serial", V: "SN-7"}}, ticket: []op.Attr{{K: "class", V: "camera"}, {K: "serial", V: "SN-7"}}, want: op.StatusValidated},
			{name: "fail/other-serial", attrs: []op.Attr{{K: "serial", V: "SN-8"}}, ticket: []op.Attr{{K: "serial", V: "SN-7"}}, want: op.StatusPending},
			{name: "fail/class-not-vouched", attrs: []op.Attr{{K: "class", V: "camera"}, {K: "serial", V: "SN-7"}}, ticket: []op.Attr{{K: "serial", V: "SN-7"}}, want: op.StatusPending},
			{name: "fail/no-ticket", attrs: []op.Attr{{K: "serial", V: "SN-7"}}, want: op.StatusPending},
			{name: "fail/identifier-claimed", aliases: []string{imei}, attrs: []op.Attr{{K: "serial", V: "SN-7"}}, ticket: []op.Attr{{K: "serial", V: "SN-7"}}, want: op.StatusPending},
		},
		"meters-p256.cel": {
			{name: "fail/meter-ed25519", attrs: []op.Attr{{K: "class", V: "meter"}}, want: op.StatusRejected},
			{name: "fail/meter-p256-waits", attrs: []op.Attr{{K: "class", V: "meter"}}, alg: cose.AlgES256, want: op.StatusPending},
			{name: "fail/anything-else-waits", attrs: []op.Attr{{K: "class", V: "camera"}}, want: op.StatusPending},
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
			for _, r := range regs {
				t.Run(r.name, func(t *testing.T) {
					alg := r.alg
					if alg == 0 {
						alg = cose.AlgEdDSA
					}
					s := nodetest.NewKey(t, alg)
					p := h.RegisterPayload(op.KindDevice, h.Provider.DID, s)
					p.Register.Doc.Aliases, p.Register.Doc.Attrs = r.aliases, r.attrs
					if r.ticket != nil {
						p.Register.Ticket = signTicket(t, h, s, r.ticket)
					}
					tx, _ := h.SignRegister(s, p)
					if res := h.MustSubmit(tx); res.EntityStatus != r.want {
						t.Errorf("%s, want %s", res.EntityStatus, r.want)
					}
				})
			}
		})
	}
}

// TestExampleAccessContracts evaluates each shipped access contract (its
// operator's DID put in) on a node, with a named case for what it refuses.
func TestExampleAccessContracts(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	opA := h.Provider.DID.String()
	device := func(provider, class string) map[string]any {
		return map[string]any{"device": map[string]string{"provider": provider, "kind": "device"}, "device_attrs": map[string]string{"class": class}}
	}
	with := func(m map[string]any, k string, v any) map[string]any { m[k] = v; return m }
	cases := map[string][]struct {
		name   string
		inputs map[string]any
		want   string
	}{
		"roaming-areas.cel": {
			{"ok/car-of-a-in-area-1", with(device(opA, "car"), "request", map[string]string{"area": "1"}), "allow"},
			{"fail/area-3", with(device(opA, "car"), "request", map[string]string{"area": "3"}), "deny"},
			{"fail/no-area", device(opA, "car"), "deny"},
			{"fail/another-operator", with(device(h.Other.DID.String(), "car"), "request", map[string]string{"area": "1"}), "deny"},
			{"fail/not-a-car", with(device(opA, "camera"), "request", map[string]string{"area": "1"}), "deny"},
		},
		"single-sign-on.cel": {
			{"ok/camera-of-a-at-noon", with(device(opA, "camera"), "time", "2026-12-01T12:00:00Z"), "allow"},
			{"fail/at-night", with(device(opA, "camera"), "time", "2026-12-01T22:00:00Z"), "deny"},
			{"fail/another-operator", with(device(h.Other.DID.String(), "camera"), "time", "2026-12-01T12:00:00Z"), "deny"},
			{"fail/a-meter", with(device(opA, "meter"), "time", "2026-12-01T12:00:00Z"), "deny"},
		},
	}
	for file, cs := range cases {
		src, err := os.ReadFile("../../examples/contracts/" + file)
		if err != nil {
			t.Fatal(err)
		}
		code := strings.ReplaceAll(string(src), "did:bias:testnet:operatoraxxxxxxxxxxxxxxxxxxxxxxxx", opA)
		for _, c := range cs {
			t.Run(file+"/"+c.name, func(t *testing.T) {
				in, err := json.Marshal(c.inputs)
				if err != nil {
					t.Fatal(err)
				}
				out, err := h.Client.DryRun(t.Context(), sdk.DryRunRequest{Kind: op.ContractAccess, Source: code, Inputs: in})
				if err != nil || out.Outcome != c.want {
					t.Fatalf("%+v %v, want %s", out, err, c.want)
				}
			})
		}
	}
}

func signTicket(t *testing.T, h *nodetest.Harness, s cose.Signer, claims []op.Attr) []byte {
	t.Helper()
	b, err := op.Marshal(op.Ticket{Network: h.Network, Provider: h.Provider.DID.String(), Key: s.Public().Bytes(),
		Expires: 4_000_000_000, Claims: claims})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := cose.Sign1(h.Provider.Signer, []byte(h.Provider.Kid.String()), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

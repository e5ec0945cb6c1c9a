package node_test

import (
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/jsonldcheck"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
)

// TestLDDocumentsCheck: the JSON-LD documents a node serves (keys of
// both algorithms, services of types registrants chose, aliases, a
// controller) expand in safe mode and canonicalize, with no context but
// the embedded ones.
func TestLDDocumentsCheck(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	for name, alg := range map[string]cose.Alg{"ed25519": cose.AlgEdDSA, "p-256": cose.AlgES256} {
		s := nodetest.NewKey(t, alg)
		p := h.RegisterPayload(op.KindDevice, h.Provider.DID, s)
		p.Register.Doc.Aliases = []string{map[string]string{"ed25519": "urn:imei:490154203237518", "p-256": "urn:imei:356938035643809"}[name]}
		p.Register.Doc.Endpoints = []op.Endpoint{
			{ID: "print", Type: "PrintService", URI: "https://printer.example/jobs"},
			{ID: "telemetry", Type: "Telemetry", URI: "coaps://dev.example/t"},
		}
		tx, id := h.SignRegister(s, p)
		h.MustSubmit(tx)
		for _, accept := range []string{did.MediaTypeLDJSON, "application/ld+json"} {
			t.Run(name+"/"+accept, func(t *testing.T) {
				a := fetchRaw(t, h, identifiers(id.String()), accept) // checks every JSON-LD answer
				if a.status != 200 || a.ctype != accept {
					t.Fatalf("%d %s %s", a.status, a.ctype, a.body)
				}
				if err := jsonldcheck.Check(a.body); err != nil {
					t.Fatalf("%v\n%s", err, a.body)
				}
			})
		}
	}
}

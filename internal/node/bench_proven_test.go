package node_test

import (
	"os"
	"testing"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/ledger/cometledger"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/lightclient"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// BenchmarkProvenView reads one entity over HTTP as a verifier does: the
// plain view (trusts the node: the baseline), a view that checks a Merkle
// proof against a witness's header, and one that checks it against a
// header the validators signed (light client). Compare the ns/op of each
// with the baseline's, in the same run.
func BenchmarkProvenView(b *testing.B) {
	h := nodetest.Start(b)
	gb, err := os.ReadFile(cometledger.GenesisFile(h.Home))
	if err != nil {
		b.Fatal(err)
	}
	g, err := lightclient.ParseGenesis(gb)
	if err != nil {
		b.Fatal(err)
	}
	dev := h.RegisterValidated(op.KindDevice, cose.AlgEdDSA)
	views := []struct {
		name string
		v    authn.View
	}{
		{"view", sdk.View{C: h.Client}},
		{"witness", sdk.ProvenView{C: h.Client, Witness: h.Client}},
		{"validators", sdk.ProvenView{C: h.Client, Validators: g.Validators}},
		{"validators-cached", sdk.ProvenView{C: h.Client, Validators: g.Validators, Headers: sdk.NewHeaderCache(64)}},
	}
	for _, v := range views {
		b.Run(v.name, func(b *testing.B) {
			for b.Loop() {
				e, err := v.v.Entity(b.Context(), dev.DID)
				if err != nil || e.Status != op.StatusValidated {
					b.Fatalf("%+v %v", e, err)
				}
			}
		})
	}
}

package cometledger_test

import (
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/ledgertest"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// TestConformance runs the ledger conformance suite against embedded
// CometBFT with the registry application.
func TestConformance(t *testing.T) {
	t.Parallel()
	var h *nodetest.Harness
	ledgertest.Run(t, ledgertest.Fixture{
		New: func(t *testing.T) ledger.Ledger {
			h = nodetest.Start(t)
			return h.Node.Ledger()
		},
		Network: "local",
		Path:    record.QueryKey,
		Valid: func(t *testing.T) ([]byte, []byte) {
			s := nodetest.NewKey(t, cose.AlgEdDSA)
			tx, id := h.SignRegister(s, h.RegisterPayload(op.KindDevice, h.Provider.DID, s))
			return tx, record.EntityKey(id.String())
		},
		Invalid: func(t *testing.T) []byte { return []byte("not an operation") },
	})
}

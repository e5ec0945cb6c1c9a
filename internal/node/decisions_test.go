package node_test

import (
	"testing"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// TestDecisionEvents: a provider follows the node's authentication
// decisions about its device, and resumes after the last one it saw.
func TestDecisionEvents(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	svcE := h.RegisterValidated(op.KindService, cose.AlgEdDSA)
	devE := h.RegisterValidated(op.KindDevice, cose.AlgEdDSA)
	events, err := h.Client.Decisions(t.Context(), devE.DID.String(), "")
	if err != nil {
		t.Fatal(err)
	}
	view := sdk.View{C: h.Client}
	svc := &sdk.Service{Signer: svcE.Signer, Kid: svcE.DID.WithFragment("k1"), View: view, URL: "https://printer.example"}
	dev := &sdk.Device{Signer: devE.Signer, Kid: devE.DID.WithFragment("k1"), View: view}
	ch, _ := svc.Challenge()
	p, _ := dev.Answer(t.Context(), svc.URL, ch)
	for i := 0; i < 2; i++ { // accepted, then the replay refused
		if _, err := h.Client.Verify(t.Context(), ch, p); err != nil {
			t.Fatal(err)
		}
	}
	first, second := next(t, events), next(t, events)
	if !first.Decision.OK || second.Decision.Reason != authn.FailReplayedNonce || first.Decision.Device != devE.DID.String() {
		t.Fatalf("decisions: %+v %+v", first, second)
	}
	resumed, err := h.Client.Decisions(t.Context(), "", first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, resumed); ev.ID != second.ID || ev.Decision.Reason != authn.FailReplayedNonce {
		t.Fatalf("resumed at %+v, want %s", ev, second.ID)
	}
}

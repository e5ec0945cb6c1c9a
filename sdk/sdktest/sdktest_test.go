package sdktest_test

import (
	"testing"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
	"github.com/bias-iot/bias/sdk/sdktest"
)

// TestStart is how an SDK user tests a service: a real node, a validated
// service and device, one authentication, then a revocation.
func TestStart(t *testing.T) {
	n := sdktest.Start(t)
	svcDID, svcKey := n.Register(t, op.KindService, cose.AlgES256)
	devDID, devKey := n.Register(t, op.KindDevice, cose.AlgEdDSA)
	svc := &sdk.Service{Signer: svcKey, Kid: svcDID.WithFragment("k1"), View: n.View(), URL: "https://printer.example"}
	dev := &sdk.Device{Signer: devKey, Kid: devDID.WithFragment("k1"), View: n.View()}
	authenticate := func() authn.Decision {
		ch, err := svc.Challenge()
		if err != nil {
			t.Fatal(err)
		}
		proof, err := dev.Answer(t.Context(), svc.URL, ch)
		if err != nil {
			t.Fatal(err)
		}
		return svc.Verify(t.Context(), proof)
	}
	if d := authenticate(); !d.OK || d.Device != devDID.String() {
		t.Fatalf("%+v", d)
	}
	n.Revoke(t, devDID)
	if d := authenticate(); d.Reason != authn.FailRevoked {
		t.Fatalf("after revocation: %+v", d)
	}
}

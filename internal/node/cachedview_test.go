package node_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// TestCachedViewDropsOnEvent: a service that caches what it read of the
// ledger serves repeated authentications from its cache, and refuses a
// revoked device as soon as the revocation's event arrives (there is no
// timer in the cache).
func TestCachedViewDropsOnEvent(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	svcE := h.RegisterValidated(op.KindService, cose.AlgES256)
	devE := h.RegisterValidated(op.KindDevice, cose.AlgEdDSA)
	cv := sdk.NewCachedView(h.Client)
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- cv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-ran; !errors.Is(err, context.Canceled) {
			t.Errorf("the cached view's Run: %v, want it to end with the context", err)
		}
	}()
	svc := &sdk.Service{Signer: svcE.Signer, Kid: svcE.DID.WithFragment("k1"), View: cv, URL: "https://printer.example"}
	dev := &sdk.Device{Signer: devE.Signer, Kid: devE.DID.WithFragment("k1"), View: sdk.View{C: h.Client}}
	auth := authenticator(t, svc, dev)
	// Wait until the view follows the stream (entities get cached).
	deadline := time.Now().Add(10 * time.Second)
	waitCached(t, cv, auth, func() { time.Sleep(10 * time.Millisecond) })
	_, missesBefore, _ := cv.Stats()
	for i := 0; i < 5; i++ {
		if d := auth(); !d.OK {
			t.Fatalf("%+v", d)
		}
	}
	if _, misses, _ := cv.Stats(); misses != missesBefore {
		t.Fatalf("repeated authentications missed the cache (%d → %d)", missesBefore, misses)
	}
	if err := decide(t, h, op.TypeRevoke, devE.DID, 2); err != nil {
		t.Fatal(err)
	}
	for {
		d := auth()
		if d.Reason == authn.FailRevoked {
			break
		}
		if !d.OK || time.Now().After(deadline.Add(10*time.Second)) {
			t.Fatalf("revoked device still accepted from the cache: %+v", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, _, events := cv.Stats(); events == 0 {
		t.Fatal("the revocation was not seen as an event")
	}
}

// authenticator runs a whole authentication of dev at svc.
func authenticator(t *testing.T, svc *sdk.Service, dev *sdk.Device) func() authn.Decision {
	return func() authn.Decision {
		ch, err := svc.Challenge()
		if err != nil {
			t.Fatal(err)
		}
		p, err := dev.Answer(t.Context(), svc.URL, ch)
		if err != nil {
			t.Fatal(err)
		}
		return svc.Verify(t.Context(), p)
	}
}

// waitCached authenticates until the view answers from its cache, calling
// between after each miss; within 10 s.
func waitCached(t *testing.T, cv *sdk.CachedView, auth func() authn.Decision, between func()) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if d := auth(); !d.OK {
			t.Fatalf("%+v", d)
		}
		if hits, _, _ := cv.Stats(); hits > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the view never cached")
		}
		between()
	}
}

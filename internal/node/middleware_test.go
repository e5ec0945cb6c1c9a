package node_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// TestMiddleware protects a real HTTP service with the SDK's middleware:
// a device with the SDK's transport gets in after one challenge, in either
// encoding; a plain client and a revoked device do not.
func TestMiddleware(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	view := sdk.View{C: h.Client}
	svcE := h.RegisterValidated(op.KindService, cose.AlgES256)
	devE := h.RegisterValidated(op.KindDevice, cose.AlgEdDSA)
	for _, enc := range []authn.Encoding{authn.JWS, authn.COSE} {
		t.Run(string(enc), func(t *testing.T) {
			svc := &sdk.Service{Signer: svcE.Signer, Kid: svcE.DID.WithFragment("k1"), View: view, Encoding: enc}
			srv := httptest.NewServer(svc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				d, _ := sdk.DecisionFrom(r.Context())
				fmt.Fprintf(w, "hello %s", d.Device)
			})))
			defer srv.Close()
			svc.URL = srv.URL

			// Without the SDK: 401 with a challenge.
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatalf("plain client: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
			// With it: in, as the device.
			dev := &sdk.Device{Signer: devE.Signer, Kid: devE.DID.WithFragment("k1"), View: view}
			c := &http.Client{Transport: &sdk.Transport{Device: dev}}
			resp, err = c.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "hello "+devE.DID.String() {
				t.Fatalf("device: %d %s", resp.StatusCode, body)
			}
		})
	}
	// Conditional access: a service that admits only devices of one
	// provider admits this one only when it names the device's.
	for admitted, want := range map[string]authn.Reason{h.Provider.DID.String(): authn.OK, h.Other.DID.String(): authn.FailContractDenied} {
		strict := &sdk.Service{Signer: svcE.Signer, Kid: svcE.DID.WithFragment("k1"), View: view, URL: "https://printer.example",
			Allow: func(_ context.Context, e *authn.Entity, _ authn.Decision) error {
				if e.Provider != admitted {
					return fmt.Errorf("only devices of %s are admitted", admitted)
				}
				return nil
			}}
		ch, _ := strict.Challenge()
		devSDK := &sdk.Device{Signer: devE.Signer, Kid: devE.DID.WithFragment("k1"), View: view}
		p, err := devSDK.Answer(t.Context(), strict.URL, ch)
		if err != nil {
			t.Fatal(err)
		}
		if d := strict.Verify(t.Context(), p); d.Reason != want {
			t.Fatalf("access for devices of %s: %+v, want %s", admitted, d, want)
		}
	}

	// A revoked device is refused from the next block on.
	if err := decide(t, h, op.TypeRevoke, devE.DID, 2); err != nil {
		t.Fatal(err)
	}
	svc := &sdk.Service{Signer: svcE.Signer, Kid: svcE.DID.WithFragment("k1"), View: view}
	srv := httptest.NewServer(svc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	defer srv.Close()
	svc.URL = srv.URL
	dev := &sdk.Device{Signer: devE.Signer, Kid: devE.DID.WithFragment("k1"), View: view}
	resp, err := (&http.Client{Transport: &sdk.Transport{Device: dev}}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), string(authn.FailRevoked)) {
		t.Fatalf("revoked device: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

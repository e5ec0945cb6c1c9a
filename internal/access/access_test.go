package access_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/access"
	"github.com/bias-iot/bias/internal/registry/registrytest"
	"github.com/bias-iot/bias/internal/resolver"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

type world struct {
	c        *registrytest.Chain
	d        *access.Decider
	svc, cam registrytest.Entity
	meter    registrytest.Entity
	ref      string
	iss      *authn.Issuer // the service's challenges
}

func newWorld(t *testing.T) *world {
	admin, _, err := cose.GenerateKey(cose.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	c := registrytest.New(t, admin, time.Now().UTC())
	w := &world{c: c, d: access.New(resolver.New(c.Ledger, registrytest.Network), c.App.Programs(), authn.NewMemorySpentSet(64))}
	w.ref = c.DeployAccess(t, "cams", `device_attrs[?"class"].orValue("") == "camera" && request[?"op"].orValue("") != "delete"`)
	w.svc = c.Register(t, op.KindService)
	c.Bind(t, w.svc, 2, w.ref)
	w.cam = c.Register(t, op.KindDevice, op.Attr{K: "class", V: "camera"})
	w.meter = c.Register(t, op.KindDevice, op.Attr{K: "class", V: "meter"})
	w.iss = authn.NewIssuer(w.svc.Kid(), "coaps://cams.example", make([]byte, 32), authn.NewMemorySpentSet(4))
	return w
}

// pair is a challenge of the service and the device's proof.
func (w *world) pair(t *testing.T, dev registrytest.Entity, now int64) ([]byte, []byte) {
	t.Helper()
	c, err := w.iss.New(now, 60)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := authn.SignChallenge(w.svc.Signer, c, authn.COSE)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := authn.SignProof(dev.Signer, &authn.Proof{Device: dev.DID, Kid: dev.Kid(), Service: w.svc.DID, Origin: c.Origin, ServiceNonce: c.Nonce,
		DeviceNonce: make([]byte, authn.NonceLen), IssuedAt: now}, authn.COSE)
	if err != nil {
		t.Fatal(err)
	}
	return ch, pr
}

// TestVerify: a node's decision on a challenge and its proof runs the
// service's access contracts with the request's context, names them, and
// refuses a replay and a context past its bounds.
func TestVerify(t *testing.T) {
	w := newWorld(t)
	now := time.Now().Unix()
	ctx := t.Context()
	ch, pr := w.pair(t, w.cam, now)
	d, err := w.d.Verify(ctx, ch, pr, map[string]string{"op": "print"}, now)
	if err != nil || !d.OK || !slices.Equal(d.Contract, []string{w.ref + "@1"}) {
		t.Fatalf("camera: %+v %v", d, err)
	}
	if d, _ := w.d.Verify(ctx, ch, pr, nil, now); d.Reason != authn.FailReplayedNonce {
		t.Fatalf("replay: %+v", d)
	}
	big := map[string]string{}
	for i := range access.MaxContextEntries + 1 {
		big[strings.Repeat("k", i+1)] = "v"
	}
	for name, c := range map[string]struct {
		dev     registrytest.Entity
		request map[string]string
		want    authn.Reason
	}{
		"fail/contract-denied-class":   {w.meter, nil, authn.FailContractDenied},
		"fail/contract-denied-request": {w.cam, map[string]string{"op": "delete"}, authn.FailContractDenied},
		"fail/malformed-context":       {w.cam, big, authn.FailMalformed},
		"fail/malformed-context-value": {w.cam, map[string]string{"k": strings.Repeat("v", op.MaxAttrValueLen+1)}, authn.FailMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			ch, pr := w.pair(t, c.dev, now)
			if d, err := w.d.Verify(ctx, ch, pr, c.request, now); err != nil || d.OK || d.Reason != c.want {
				t.Fatalf("got %+v %v, want %s", d, err, c.want)
			}
		})
	}
}

// TestAccess: a service's contracts for a token's device, and the
// federation rule run again for another issuer.
func TestAccess(t *testing.T) {
	w := newWorld(t)
	now := time.Now().Unix()
	other := w.c.Register(t, op.KindService) // of the same provider, bound to nothing
	peer := w.c.Register(t, op.KindService)
	w.c.Bind(t, peer, 2, w.ref)
	nobody := did.New(registrytest.Network, []byte("nobody")).String()
	for name, c := range map[string]struct {
		req  sdk.AccessRequest
		want authn.Reason
	}{
		"ok/camera":                 {sdk.AccessRequest{Device: w.cam.DID.String(), Service: w.svc.DID.String()}, authn.OK},
		"ok/peer-under-contract":    {sdk.AccessRequest{Device: w.cam.DID.String(), Service: w.svc.DID.String(), Issuer: peer.DID.String(), Audience: []string{w.ref}}, authn.OK},
		"ok/same-provider-by-name":  {sdk.AccessRequest{Device: w.cam.DID.String(), Service: w.svc.DID.String(), Issuer: other.DID.String(), Audience: []string{w.svc.DID.String()}}, authn.OK},
		"fail/contract-denied":      {sdk.AccessRequest{Device: w.meter.DID.String(), Service: w.svc.DID.String()}, authn.FailContractDenied},
		"fail/unknown-device":       {sdk.AccessRequest{Device: nobody, Service: w.svc.DID.String()}, authn.FailUnknownDID},
		"fail/device-as-service":    {sdk.AccessRequest{Device: w.cam.DID.String(), Service: w.cam.DID.String()}, authn.FailWrongKind},
		"fail/service-as-device":    {sdk.AccessRequest{Device: w.svc.DID.String(), Service: w.svc.DID.String()}, authn.FailWrongKind},
		"fail/issuer-not-a-service": {sdk.AccessRequest{Device: w.cam.DID.String(), Service: w.svc.DID.String(), Issuer: w.cam.DID.String(), Audience: []string{w.ref}}, authn.FailWrongKind},
		"fail/issuer-not-named":     {sdk.AccessRequest{Device: w.cam.DID.String(), Service: w.svc.DID.String(), Issuer: other.DID.String(), Audience: []string{other.DID.String()}}, authn.FailWrongService},
		"fail/issuer-no-contract":   {sdk.AccessRequest{Device: w.cam.DID.String(), Service: w.svc.DID.String(), Issuer: other.DID.String(), Audience: []string{w.ref}}, authn.FailWrongService},
		"fail/malformed-did":        {sdk.AccessRequest{Device: "did:nope", Service: w.svc.DID.String()}, authn.FailMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			d, err := w.d.Access(t.Context(), c.req, now)
			if err != nil || d.Reason != c.want || d.OK != (c.want == authn.OK) {
				t.Fatalf("got %+v %v, want %s", d, err, c.want)
			}
		})
	}
}

// TestDryRun: a deployed contract or a source, on JSON inputs, and each
// way a dry run is refused.
func TestDryRun(t *testing.T) {
	w := newWorld(t)
	prov := w.c.Provider.String()
	out, err := w.d.DryRun(t.Context(), sdk.DryRunRequest{Provider: prov, Name: "cams", Inputs: json.RawMessage(`{"device_attrs": {"class": "camera"}}`)})
	if err != nil || out.Outcome != "allow" || out.Contract != w.ref+"@1" {
		t.Fatalf("deployed: %+v %v", out, err)
	}
	for name, c := range map[string]struct {
		req    sdk.DryRunRequest
		reason op.Reason // "" for not found
	}{
		"fail/bad-contract":     {sdk.DryRunRequest{Kind: "access", Source: "1 +", Inputs: json.RawMessage(`{}`)}, op.ReasonBadContract},
		"fail/unknown-kind":     {sdk.DryRunRequest{Kind: "payment", Source: "true", Inputs: json.RawMessage(`{}`)}, op.ReasonBadContract},
		"fail/bad-inputs":       {sdk.DryRunRequest{Kind: "access", Source: "true", Inputs: json.RawMessage(`{"x": 1}`)}, op.ReasonInvalidField},
		"fail/no-such-contract": {sdk.DryRunRequest{Provider: prov, Name: "none", Inputs: json.RawMessage(`{}`)}, ""},
		"fail/no-such-version":  {sdk.DryRunRequest{Provider: prov, Name: "cams", Version: 9, Inputs: json.RawMessage(`{}`)}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := w.d.DryRun(t.Context(), c.req)
			var re *access.RequestError
			if !errors.As(err, &re) || re.Reason != c.reason {
				t.Fatalf("got %v, want %q", err, c.reason)
			}
		})
	}
}

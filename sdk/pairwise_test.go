package sdk_test

import (
	"testing"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
	"github.com/bias-iot/bias/sdk/sdktest"
)

// TestPairwiseThroughTheLedger runs on a real node: a provider registers
// two pairwise DIDs of one device, one per service, each with its own
// key; the device authenticates to service A and to service B, which see
// two different DIDs and keys, neither the device's; one revocation of
// the device, carrying both, commits in one block, and both services
// refuse the next authentication.
func TestPairwiseThroughTheLedger(t *testing.T) {
	n := sdktest.Start(t)
	ctx := t.Context()
	admin, kid := n.Admin()
	devDID, _ := n.Register(t, op.KindDevice, cose.AlgEdDSA)

	type pairwise struct {
		key cose.Signer
		id  did.DID
		svc *sdk.Service
	}
	var pws []*pairwise
	var reqs []sdk.PairwiseRequest
	for _, url := range []string{"https://a.example", "https://b.example"} {
		svcDID, svcKey := n.Register(t, op.KindService, cose.AlgES256)
		s, _, err := cose.GenerateKey(cose.AlgEdDSA)
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, sdk.PairwiseRequest{Device: devDID, Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}}})
		pws = append(pws, &pairwise{key: s, svc: &sdk.Service{Signer: svcKey, Kid: svcDID.WithFragment("k1"), View: n.View(), URL: url}})
	}
	made, _, err := n.Client.RegisterPairwise(ctx, admin, kid, reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range made {
		pws[i].id = m.DID
	}

	authenticate := func(p *pairwise) authn.Decision {
		t.Helper()
		ch, err := p.svc.Challenge()
		if err != nil {
			t.Fatal(err)
		}
		dev := &sdk.Device{Signer: p.key, Kid: p.id.WithFragment("k1"), View: n.View()}
		proof, err := dev.Answer(ctx, p.svc.URL, ch)
		if err != nil {
			t.Fatal(err)
		}
		return p.svc.Verify(ctx, proof)
	}
	seen := map[string]bool{}
	for _, p := range pws {
		d := authenticate(p)
		if !d.OK || d.Device != p.id.String() || d.Device == devDID.String() {
			t.Fatalf("%s saw %+v", p.svc.URL, d)
		}
		seen[d.Device] = true
		e, err := n.Client.Entity(ctx, d.Device)
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Keys) != 1 || e.Provider != n.Provider.String() || e.Status != op.StatusValidated {
			t.Fatalf("pairwise record %+v", e)
		}
		seen[e.Keys[0].PublicKey] = true
	}
	if len(seen) != 4 {
		t.Fatalf("the services saw %d distinct DIDs and keys, want 4", len(seen))
	}

	res, err := n.Client.RevokeWithPairwise(ctx, admin, kid, devDID, made, "stolen")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{devDID.String(), pws[0].id.String(), pws[1].id.String()} {
		e, err := n.Client.Entity(ctx, id)
		if err != nil || e.Status != op.StatusRevoked || e.UpdatedHeight != res.Height {
			t.Fatalf("%s after the revocation at %d: %+v, %v", id, res.Height, e, err)
		}
	}
	for _, p := range pws {
		if d := authenticate(p); d.OK || d.Reason != authn.FailRevoked {
			t.Fatalf("%s after the revocation: %+v", p.svc.URL, d)
		}
	}
}

package node_test

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

func freshNonce() []byte {
	b := make([]byte, authn.NonceLen)
	rand.Read(b)
	return b
}

// TestAuthenticationThroughNode: a device and a service authenticate each
// other over real HTTP against a real node, in both encodings, and every
// refusal has its reason, on each ledger engine: a device proves
// possession of its key, and is refused once rotated away or revoked.
func TestAuthenticationThroughNode(t *testing.T) {
	t.Parallel()
	eachEngine(t, testAuthenticationThroughNode)
}

func testAuthenticationThroughNode(t *testing.T, h *nodetest.Harness) {
	view := sdk.View{C: h.Client}
	register := h.RegisterValidated
	svc := register(op.KindService, cose.AlgES256)
	dev := register(op.KindDevice, cose.AlgEdDSA)

	type pair struct {
		ch, pr []byte
		device authn.Decision // the device's check of the challenge
	}
	const origin = "https://printer.example"
	answerFor := origin // the origin the device signs its proof for
	exchange := func(enc authn.Encoding, devSigner cose.Signer, devKid did.DID, service did.DID, now time.Time) pair {
		c := authn.NewChallenge(svc.DID.WithFragment("k1"), origin, freshNonce(), now.Unix(), 30)
		cb, err := authn.SignChallenge(svc.Signer, c, enc)
		if err != nil {
			t.Fatal(err)
		}
		// The device checks the service through its node.
		got, d := authn.VerifyChallenge(t.Context(), view, origin, cb, time.Now().Unix())
		if got == nil {
			got = c // answer anyway, to see the node refuse it too
		}
		pb, err := authn.SignProof(devSigner, &authn.Proof{Device: devKid.Base(), Kid: devKid, Service: service, Origin: answerFor,
			ServiceNonce: got.Nonce, DeviceNonce: freshNonce(), IssuedAt: time.Now().Unix()}, enc)
		if err != nil {
			t.Fatal(err)
		}
		return pair{cb, pb, d}
	}
	verify := func(p pair) authn.Decision {
		d, err := h.Client.Verify(t.Context(), p.ch, p.pr)
		if err != nil {
			t.Fatal(err)
		}
		return *d
	}
	for _, enc := range []authn.Encoding{authn.COSE, authn.JWS} {
		p := exchange(enc, dev.Signer, dev.DID.WithFragment("k1"), svc.DID, time.Now())
		if !p.device.OK {
			t.Fatalf("%s: the device refuses the service: %+v", enc, p.device)
		}
		if d := verify(p); !d.OK || d.Device != dev.DID.String() {
			t.Fatalf("%s: %+v", enc, d)
		}
	}

	other := register(op.KindService, cose.AlgEdDSA)
	stranger := nodetest.NewKey(t, cose.AlgEdDSA)
	cases := []struct {
		name string
		p    func() pair
		want authn.Reason
	}{
		{"fail/wrong-key", func() pair { return exchange(authn.COSE, stranger, dev.DID.WithFragment("k1"), svc.DID, time.Now()) }, authn.FailBadSignature},
		{"fail/unknown-did", func() pair {
			ghost := did.New(h.Network, []byte("ghost"))
			return exchange(authn.COSE, stranger, ghost.WithFragment("k1"), svc.DID, time.Now())
		}, authn.FailUnknownDID},
		{"fail/expired-challenge", func() pair {
			return exchange(authn.JWS, dev.Signer, dev.DID.WithFragment("k1"), svc.DID, time.Now().Add(-time.Minute))
		}, authn.FailExpiredChallenge},
		{"fail/proof-for-another-service", func() pair {
			return exchange(authn.COSE, dev.Signer, dev.DID.WithFragment("k1"), other.DID, time.Now())
		}, authn.FailWrongService},
		{"fail/wrong-origin-proof", func() pair {
			// A proof made for another origin than the challenge names.
			answerFor = "https://relay.example"
			defer func() { answerFor = origin }()
			return exchange(authn.JWS, dev.Signer, dev.DID.WithFragment("k1"), svc.DID, time.Now())
		}, authn.FailWrongOrigin},
		{"fail/wrong-origin-proof-cose", func() pair {
			// In COSE the proof does not carry its origin: it signs it.
			answerFor = "https://relay.example"
			defer func() { answerFor = origin }()
			return exchange(authn.COSE, dev.Signer, dev.DID.WithFragment("k1"), svc.DID, time.Now())
		}, authn.FailBadSignature},
		{"fail/tampered-bytes", func() pair {
			p := exchange(authn.COSE, dev.Signer, dev.DID.WithFragment("k1"), svc.DID, time.Now())
			p.pr[len(p.pr)-3] ^= 1
			return p
		}, authn.FailBadSignature},
		{"fail/replayed-proof", func() pair {
			p := exchange(authn.JWS, dev.Signer, dev.DID.WithFragment("k1"), svc.DID, time.Now())
			if d := verify(p); !d.OK {
				t.Fatalf("first use: %+v", d)
			}
			return p
		}, authn.FailReplayedNonce},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if d := verify(c.p()); d.OK || d.Reason != c.want {
				t.Fatalf("got %+v, want %s", d, c.want)
			}
		})
	}

	// Rotate the device's key: the rotated-away key is refused.
	k2 := nodetest.NewKey(t, cose.AlgES256)
	h.MustSubmit(h.Sign(dev.Signer, dev.DID.WithFragment("k1"), op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: dev.DID.String(), Version: 2,
		Doc: op.Document{Keys: []op.Key{op.KeyFrom("k2", k2.Public())}}}}))
	if d := verify(exchange(authn.COSE, dev.Signer, dev.DID.WithFragment("k1"), svc.DID, time.Now())); d.Reason != authn.FailUnknownKey {
		t.Fatalf("rotated-away key: %+v", d)
	}
	if d := verify(exchange(authn.COSE, k2, dev.DID.WithFragment("k2"), svc.DID, time.Now())); !d.OK {
		t.Fatalf("new key: %+v", d)
	}
	// Revoke the device: refused from the block that commits the revocation on.
	if err := decide(t, h, op.TypeRevoke, dev.DID, 3); err != nil {
		t.Fatal(err)
	}
	if d := verify(exchange(authn.COSE, k2, dev.DID.WithFragment("k2"), svc.DID, time.Now())); d.Reason != authn.FailRevoked {
		t.Fatalf("revoked device: %+v", d)
	}
	// Revoke the service: its challenges are refused.
	if err := decide(t, h, op.TypeRevoke, svc.DID, 2); err != nil {
		t.Fatal(err)
	}
	fine := register(op.KindDevice, cose.AlgEdDSA)
	p := exchange(authn.JWS, fine.Signer, fine.DID.WithFragment("k1"), svc.DID, time.Now())
	if p.device.Reason != authn.FailRevoked {
		t.Fatalf("the device accepts a revoked service: %+v", p.device)
	}
	if d := verify(p); d.Reason != authn.FailRevoked {
		t.Fatalf("the node accepts a revoked service: %+v", d)
	}
}

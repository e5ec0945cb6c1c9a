package sdk_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
	"github.com/bias-iot/bias/sdk/sdktest"
	"github.com/bias-iot/bias/seal"
)

// TestSealThroughTheLedger runs on a real node: a device registers an
// X25519 key-agreement key; its DID document lists it under keyAgreement;
// the provider seals data to it with the key the node shows, and the
// device opens it, checking the provider's admin key on the ledger.
// Another device cannot open it; nothing is sealed to a revoked device.
func TestSealThroughTheLedger(t *testing.T) {
	n := sdktest.Start(t)
	ctx := t.Context()
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ka, err := op.AgreementKeyFrom("ka1", priv.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	dev, _ := n.RegisterDoc(t, op.KindDevice, cose.AlgEdDSA, func(d *op.Document) { d.KeyAgreement = []op.AgreementKey{ka} })
	other, _ := n.Register(t, op.KindDevice, cose.AlgEdDSA)

	res, err := n.Client.Resolve(ctx, dev.String(), did.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Document.KeyAgreement) != 2 || res.Document.KeyAgreement[0] != dev.String()+"#ka1" {
		t.Fatalf("resolved keyAgreement %v", res.Document.KeyAgreement)
	}

	admin, kid := n.Admin()
	secret := []byte(`{"ssid":"plant-7","psk":"9f2c..."}`)
	env, err := n.Client.Seal(ctx, admin, kid, dev.String(), secret, seal.Options{Type: "application/json"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := n.Client.Open(ctx, env, dev.WithFragment("ka1"), priv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Plaintext, secret) || got.Kid != kid {
		t.Fatalf("opened %+v", got)
	}
	if _, err := n.Client.Open(ctx, env, other.WithFragment("ka1"), priv); !errors.Is(err, seal.ErrNotForMe) {
		t.Fatalf("fail/another-device: %v", err)
	}
	if _, err := n.Client.Seal(ctx, admin, kid, other.String(), secret, seal.Options{}); !errors.Is(err, sdk.ErrNoAgreementKey) {
		t.Fatalf("fail/no-agreement-key: %v", err)
	}
	if _, err := n.Client.Seal(ctx, admin, kid, dev.String()+"#ka9", secret, seal.Options{}); !errors.Is(err, sdk.ErrNoAgreementKey) {
		t.Fatalf("fail/unknown-agreement-key: %v", err)
	}
	stranger, _, _ := cose.GenerateKey(cose.AlgEdDSA)
	forged, err := seal.Seal(stranger, kid, seal.Recipient{Key: dev.WithFragment("ka1"), Pub: ka}, secret, seal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Client.Open(ctx, forged, dev.WithFragment("ka1"), priv); !errors.Is(err, seal.ErrSender) {
		t.Fatalf("fail/not-the-providers-key: %v", err)
	}
	n.Revoke(t, dev)
	if _, err := n.Client.Seal(ctx, admin, kid, dev.String(), secret, seal.Options{}); err == nil {
		t.Fatal("fail/revoked: sealed to a revoked device")
	}
}

package keyfile

import (
	"crypto/ecdh"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/bias-iot/bias/cose"
)

func TestAgreementKeys(t *testing.T) {
	dir := t.TempDir()
	for i, c := range []ecdh.Curve{ecdh.X25519(), ecdh.P256()} {
		path := filepath.Join(dir, fmt.Sprint("ka", i))
		k, err := GenerateAgreement(path, c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := LoadAgreement(path)
		if err != nil || !back.Equal(k) {
			t.Fatalf("%v does not load back: %v", c, err)
		}
	}
	// A P-256 signing key serves as a secure element's agreement key; an
	// Ed25519 key does not; an X25519 key signs nothing.
	if _, err := Generate(filepath.Join(dir, "p256"), cose.AlgES256); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAgreement(filepath.Join(dir, "p256")); err != nil {
		t.Fatalf("P-256 signing key: %v", err)
	}
	if _, err := Generate(filepath.Join(dir, "ed"), cose.AlgEdDSA); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAgreement(filepath.Join(dir, "ed")); err == nil {
		t.Fatal("an Ed25519 key loaded as an agreement key")
	}
	if _, err := GenerateAgreement(filepath.Join(dir, "x"), ecdh.X25519()); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(filepath.Join(dir, "x")); err == nil {
		t.Fatal("an X25519 key loaded as a signer")
	}
	if err := os.Chmod(filepath.Join(dir, "x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAgreement(filepath.Join(dir, "x")); err == nil {
		t.Fatal("a key file others can read loaded")
	}
}

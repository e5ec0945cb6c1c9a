package keyfile

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"fmt"
)

// GenerateAgreement creates a key-agreement key on curve (ecdh.X25519()
// or ecdh.P256()) and saves it at path (which must not exist), in the same
// PEM PKCS #8 form as a signing key.
func GenerateAgreement(path string, curve ecdh.Curve) (*ecdh.PrivateKey, error) {
	if curve != ecdh.X25519() && curve != ecdh.P256() {
		return nil, fmt.Errorf("an agreement key is X25519 or P-256")
	}
	k, err := curve.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := save(path, k); err != nil {
		return nil, err
	}
	return k, nil
}

// LoadAgreement reads a key-agreement key: an X25519 key, or a P-256 key
// (as GenerateAgreement or `bias key new --alg p256` writes it).
func LoadAgreement(path string) (*ecdh.PrivateKey, error) {
	k, err := load(path)
	if err != nil {
		return nil, err
	}
	switch k := k.(type) {
	case *ecdh.PrivateKey:
		if k.Curve() == ecdh.X25519() || k.Curve() == ecdh.P256() {
			return k, nil
		}
	case *ecdsa.PrivateKey:
		if e, err := k.ECDH(); err == nil && e.Curve() == ecdh.P256() {
			return e, nil
		}
	}
	return nil, fmt.Errorf("key file %s: not an X25519 or P-256 key", path)
}

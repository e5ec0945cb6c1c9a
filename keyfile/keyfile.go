// Package keyfile stores private keys in files: PEM-encoded PKCS #8
// ("PRIVATE KEY"), readable by OpenSSL, written with mode 0600. Load
// refuses a file that group or others can read, as ssh does.
//
//	s, err := keyfile.Generate("device.key", cose.AlgEdDSA)
//	s, err = keyfile.Load("device.key") // a cose.Signer
package keyfile

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/bias-iot/bias/cose"
)

const pemType = "PRIVATE KEY"

// ErrExists is returned by Save when the file already exists.
var ErrExists = errors.New("key file already exists")

// Generate creates a key of alg and saves it at path (which must not exist).
func Generate(path string, alg cose.Alg) (cose.Signer, error) {
	s, priv, err := cose.GenerateKey(alg)
	if err != nil {
		return nil, err
	}
	if err := Save(path, priv); err != nil {
		return nil, err
	}
	return s, nil
}

// Save writes priv to a new file at path with mode 0600.
func Save(path string, priv crypto.Signer) error { return save(path, priv) }

// save writes a private key of any kind that PKCS #8 holds.
func save(path string, priv any) error {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%w: %s", ErrExists, path)
	}
	if err != nil {
		return err
	}
	if err := pem.Encode(f, &pem.Block{Type: pemType, Bytes: der}); err != nil {
		return errors.Join(err, f.Close())
	}
	if err := f.Sync(); err != nil {
		return errors.Join(err, f.Close())
	}
	return f.Close()
}

// Load reads a key file and returns its signer.
func Load(path string) (cose.Signer, error) {
	cs, err := LoadPrivate(path)
	if err != nil {
		return nil, err
	}
	return cose.NewSigner(cs)
}

// LoadPrivate reads a key file and returns its private key as a
// crypto.Signer (for a tls.Certificate, an X.509 CA), with Load's checks.
func LoadPrivate(path string) (crypto.Signer, error) {
	k, err := load(path)
	if err != nil {
		return nil, err
	}
	cs, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key file %s: not a signing key", path)
	}
	return cs, nil
}

// load reads a key file with Load's checks and returns its PKCS #8 key.
func load(path string) (any, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key file %s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != pemType {
		return nil, fmt.Errorf("key file %s: not a PEM %q block", path, pemType)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

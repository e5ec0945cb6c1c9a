// Package ca is a node's X.509 certificate authority for its operator
// (provider): its key and certificate in the node's home, issuance of
// short-lived device certificates from requests signed by a device's
// registered key (package x509ca holds the format and the profile), the
// index of what it issued, and OCSP answers and a CRL that follow the
// ledger's committed events.
//
//	c, _ := ca.Ensure(home, providerDID, "operator-b")  // key and certificate, made once
//	a, _ := ca.New(ca.Config{CA: c, View: resolver, Dir: ..., Network: "testnet"})
//	cert, _ := a.Issue(ctx, req)                         // req: an x509ca request
//	go a.Follow(ctx, ledger)                             // revocations within one block
package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/keyfile"
)

// Validity is a CA certificate's lifetime.
const Validity = 10 * 365 * 24 * time.Hour

// KeyPath is where a home keeps its provider's CA key (mode 0600).
func KeyPath(home string) string { return filepath.Join(home, "provider", "ca.key") }

// CertPath is where a home keeps its provider's CA certificate (PEM).
func CertPath(home string) string { return filepath.Join(home, "provider", "ca.pem") }

// CA is a provider's certificate authority: its certificate and key.
type CA struct {
	Provider string // the provider's DID
	Cert     *x509.Certificate
	DER      []byte
	Key      crypto.Signer
}

// Ensure loads the CA of home's provider, creating it (a P-256 key and a
// self-signed certificate) the first time.
func Ensure(home, provider, name string) (*CA, error) {
	if _, err := os.Stat(KeyPath(home)); err == nil {
		return Load(home, provider)
	}
	if err := create(home, provider, name); err != nil {
		return nil, err
	}
	return Load(home, provider)
}

// Load reads home's CA and checks that its certificate is the key's, a
// CA, and names provider.
func Load(home, provider string) (*CA, error) {
	key, err := keyfile.LoadPrivate(KeyPath(home))
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(CertPath(home))
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: not a PEM certificate", CertPath(home))
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", CertPath(home), err)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%s is not the certificate of %s", CertPath(home), KeyPath(home))
	}
	if !cert.IsCA || len(cert.URIs) != 1 || cert.URIs[0].String() != provider {
		return nil, fmt.Errorf("%s is not a CA certificate of %s", CertPath(home), provider)
	}
	return &CA{Provider: provider, Cert: cert, DER: blk.Bytes, Key: key}, nil
}

// create makes a P-256 CA key and its self-signed certificate, whose URI
// SAN is the provider's DID.
func create(home, provider, name string) error {
	id, err := did.ParseNoFragment(provider)
	if err != nil {
		return err
	}
	u, err := url.Parse(id.String())
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := Serial()
	if err != nil {
		return err
	}
	cn := "bias CA " + name
	if len(cn) > 56 {
		cn = cn[:56]
	}
	now := time.Now().UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, SerialNumber: id.Suffix},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(Validity),
		URIs:                  []*url.URL{u},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(KeyPath(home)), 0o700); err != nil {
		return err
	}
	if err := keyfile.Save(KeyPath(home), key); err != nil {
		return err
	}
	return writeFileAtomic(CertPath(home), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// Serial returns a random positive 128-bit serial number (RFC 5280: at
// most 20 bytes; CA/B: at least 64 bits of randomness).
func Serial() (*big.Int, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	b[0] &= 0x7f
	b[0] |= 0x40 // 16 bytes, never shorter
	return new(big.Int).SetBytes(b), nil
}

// writeFileAtomic writes a file whole or not at all: a temporary file in
// the same directory, synced, renamed over the target, and the directory
// synced.
func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

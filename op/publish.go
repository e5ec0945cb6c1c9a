package op

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"fmt"

	"github.com/bias-iot/bias/did"
)

// validate checks a publication statelessly: bounded lists, distinct key
// ids, and each certificate a CA certificate for a P-256 or Ed25519 key.
// (The parse is Go's crypto/x509, pinned by the module's Go version: a
// rule of the ledger like any other.)
func (p *Publish) validate(network string) error {
	if err := checkDID("publish.provider", p.Provider, network); err != nil {
		return err
	}
	if len(p.CA) > MaxCACerts {
		return Reject(ReasonInvalidField, fmt.Sprintf("publish.ca: at most %d certificates", MaxCACerts))
	}
	for i, der := range p.CA {
		if err := checkCA(der); err != nil {
			return Reject(ReasonInvalidField, fmt.Sprintf("publish.ca[%d]: %v", i, err))
		}
	}
	if len(p.TokenKeys) > MaxTokenKeys {
		return Reject(ReasonInvalidField, fmt.Sprintf("publish.tokenKeys: at most %d keys", MaxTokenKeys))
	}
	ids := map[string]bool{}
	for i, k := range p.TokenKeys {
		f := fmt.Sprintf("publish.tokenKeys[%d]", i)
		if err := did.ValidateFragment(k.ID); err != nil {
			return Reject(ReasonInvalidField, f+".id: "+err.Error())
		}
		if ids[k.ID] {
			return Reject(ReasonInvalidField, f+".id is not unique")
		}
		ids[k.ID] = true
		if _, err := k.Public(); err != nil {
			return Reject(ReasonInvalidField, f+": "+err.Error())
		}
	}
	return nil
}

// checkCA checks that der is one X.509 certificate of a CA (basic
// constraints CA, key usage certSign) for a P-256 or Ed25519 key.
func checkCA(der []byte) error {
	if len(der) == 0 || len(der) > MaxCertBytes {
		return fmt.Errorf("a certificate is 1 to %d bytes of DER", MaxCertBytes)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("not an X.509 certificate: %w", err)
	}
	if !c.BasicConstraintsValid || !c.IsCA || c.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fmt.Errorf("not a CA certificate (basic constraints CA and key usage keyCertSign)")
	}
	switch k := c.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("an ECDSA CA key must be P-256")
		}
	case ed25519.PublicKey:
	default:
		return fmt.Errorf("a CA key must be P-256 or Ed25519")
	}
	return nil
}

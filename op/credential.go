package op

import (
	"encoding/base64"
	"fmt"
)

// TypeCredentialStatus revokes a credential that a provider issued its
// device off the ledger (selective disclosure, docs/privacy.md).
const TypeCredentialStatus = "credential.status" //nolint:gosec // an operation type, no secret

// CredentialIDLen is the length of a credential's id: 16 random bytes in
// base64url without padding (the credential's jti).
const CredentialIDLen = 22

// CredentialStatus revokes the credential of id that Provider issued,
// signed by an admin key of the provider. The id is opaque (random, in
// the credential): the ledger learns nothing of the credential, its
// device or its values. Revocation is final.
type CredentialStatus struct {
	Provider string `cbor:"1,keyasint" json:"provider"`
	ID       string `cbor:"2,keyasint" json:"id"`
}

func (c *CredentialStatus) validate(network string) error {
	if err := checkDID("credential.provider", c.Provider, network); err != nil {
		return err
	}
	if !ValidCredentialID(c.ID) {
		return Reject(ReasonInvalidField, fmt.Sprintf("credential.id is 16 bytes in base64url without padding (%d characters)", CredentialIDLen))
	}
	return nil
}

// ValidCredentialID reports whether id is a credential id that
// credential.status can name: 16 bytes in base64url without padding. A
// verifier accepts no credential of another id, which could never be
// revoked.
func ValidCredentialID(id string) bool {
	b, err := base64.RawURLEncoding.DecodeString(id)
	return len(id) == CredentialIDLen && err == nil && len(b) == 16 && base64.RawURLEncoding.EncodeToString(b) == id
}

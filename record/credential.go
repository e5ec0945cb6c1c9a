package record

// prefixCredential keys the status of the credentials providers revoked:
// c/<provider DID>/<credential id>.
const prefixCredential = "c/"

// CredentialStatusKey is the state key of a credential's status.
func CredentialStatusKey(provider, id string) []byte {
	return []byte(prefixCredential + provider + "/" + id)
}

// CredentialStatus is a revoked credential's record: when its provider
// revoked it. A credential with no record is not revoked.
type CredentialStatus struct {
	Revoked int64 `cbor:"1,keyasint" json:"revoked"` // block time, Unix nanoseconds
	Height  int64 `cbor:"2,keyasint" json:"height"`
}

// DecodeCredentialStatus decodes a credential status record.
func DecodeCredentialStatus(b []byte) (*CredentialStatus, error) {
	return decode[CredentialStatus]("credential status", b)
}

// EventCredential is the ledger event of a revoked credential (attributes
// provider, id).
const EventCredential = "bias.credential" //nolint:gosec // an event type, no secret

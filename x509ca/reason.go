package x509ca

// Reason is the stable code of a refused certificate request (an
// append-only list: clients may branch on it).
type Reason string

// The reasons.
const (
	ReasonMalformed     Reason = "x509-malformed"      // not a request of this protocol
	ReasonOversized     Reason = "x509-oversized"      // larger than MaxRequestBytes
	ReasonWrongNetwork  Reason = "x509-wrong-network"  // the device is of another network
	ReasonWrongAudience Reason = "x509-wrong-audience" // made for another provider's CA
	ReasonUnknownDID    Reason = "x509-unknown-did"    // the device is not registered
	ReasonUnknownKey    Reason = "x509-unknown-key"    // the kid is not a current key of the device
	ReasonBadSignature  Reason = "x509-bad-signature"  // the signature does not verify with that key
	ReasonNotValidated  Reason = "x509-not-validated"  // the device is pending or rejected
	ReasonRevoked       Reason = "x509-revoked"        // the device is revoked or deactivated
	ReasonWrongKind     Reason = "x509-wrong-kind"     // a service, not a device
	ReasonStale         Reason = "x509-stale"          // iat too far from the node's clock
	ReasonReplayed      Reason = "x509-replayed"       // this request (device, jti) was already used
	ReasonBadCSR        Reason = "x509-bad-csr"        // the CSR does not parse, is oversized or its signature fails
	ReasonCSRKey        Reason = "x509-csr-key"        // the CSR's key is not the key that signed the request
	ReasonCSRNames      Reason = "x509-csr-names"      // the CSR asks for names the device does not hold
	ReasonCSRCA         Reason = "x509-csr-ca"         // the CSR asks for a CA certificate
	ReasonLifetime      Reason = "x509-lifetime"       // a lifetime longer than the CA's, or out of bounds
	ReasonNoCA          Reason = "x509-no-ca"          // this node runs no CA for that provider
	ReasonUnavailable   Reason = "x509-unavailable"    // the ledger could not be read
	ReasonTooMany       Reason = "x509-too-many"       // the device holds as many unexpired certificates of this CA as it may
)

// Reasons lists every reason, in the order of the list.
func Reasons() []Reason {
	return []Reason{
		ReasonMalformed, ReasonOversized, ReasonWrongNetwork, ReasonWrongAudience, ReasonUnknownDID,
		ReasonUnknownKey, ReasonBadSignature, ReasonNotValidated, ReasonRevoked, ReasonWrongKind,
		ReasonStale, ReasonReplayed, ReasonBadCSR, ReasonCSRKey, ReasonCSRNames, ReasonCSRCA,
		ReasonLifetime, ReasonNoCA, ReasonUnavailable, ReasonTooMany,
	}
}

// Package x509ca is the public, pure half of bias's X.509 bridge: the
// certificate request a device signs with its registered key, the stable
// reason codes of a refusal, and the certificate profile (what a node's
// CA puts in a device certificate, and which CSRs it refuses). The node's
// certificate authority (key, index, OCSP, CRL) is internal/ca; a device
// links only this package (or the sdk, which uses it).
//
// A request is a COSE_Sign1 by a current key of the device (kid = its DID
// URL), with the external AAD "bias-x509-request-v1", over
//
//	{1: aud (the issuing provider's DID), 2: iat (Unix s), 3: jti (16 bytes),
//	 4: life (seconds, 0: the CA's default), 5: csr (PKCS #10 DER, optional)}
//
// in deterministic CBOR:
//
//	req, err := x509ca.SignRequest(signer, kid, x509ca.Request{Audience: providerB, IssuedAt: now.Unix(), ID: jti})
//	r, msg, err := x509ca.DecodeRequest(req) // the node: form only; then the ledger's key verifies msg
package x509ca

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
)

// ExternalAAD separates a request's signature from every other bias
// signature (operations sign with none, authentication with its own).
var ExternalAAD = []byte("bias-x509-request-v1")

// Limits of a request.
const (
	MaxRequestBytes = 4096 // the whole COSE_Sign1
	MaxCSRBytes     = 2048 // the PKCS #10 DER inside it
	IDLen           = 16   // jti
	// MaxLifetime is the longest lifetime a CA may be configured with.
	MaxLifetime = 30 * 24 * time.Hour
	// MinLifetime is the shortest lifetime a request may ask for.
	MinLifetime = 10 * time.Second
	// DefaultLifetime is a CA's lifetime unless its operator sets one.
	DefaultLifetime = 24 * time.Hour
)

// Request is the signed content of a certificate request.
type Request struct {
	// Audience is the DID of the provider whose CA is to issue: a request
	// made for one operator's node is refused by every other's.
	Audience string `cbor:"1,keyasint"`
	// IssuedAt is when the device signed, in Unix seconds; a node
	// accepts it within its skew of its clock.
	IssuedAt int64 `cbor:"2,keyasint"`
	// ID is a fresh random value: a node accepts a (device, ID) once.
	ID []byte `cbor:"3,keyasint"`
	// Lifetime asks for a lifetime in seconds (0: the CA's default; more
	// than the CA's lifetime is refused, never cut).
	Lifetime int64 `cbor:"4,keyasint,omitempty"`
	// CSR is an optional PKCS #10 request (DER) for the signing key; the
	// certificate is always for the key that signed the request.
	CSR []byte `cbor:"5,keyasint,omitempty"`
}

// NewID returns a fresh request id.
func NewID() ([]byte, error) {
	b := make([]byte, IDLen)
	_, err := rand.Read(b)
	return b, err
}

// SignRequest signs r with s, whose key kid (a DID URL) names.
func SignRequest(s cose.Signer, kid did.DID, r Request) ([]byte, error) {
	if kid.Fragment == "" {
		return nil, fmt.Errorf("kid %s has no key fragment", kid)
	}
	b, err := op.Marshal(r)
	if err != nil {
		return nil, err
	}
	return cose.Sign1(s, []byte(kid.String()), b, ExternalAAD)
}

// Signed is a decoded request whose form has been checked; its signature
// has not (that needs the key kid names, from the ledger).
type Signed struct {
	Request Request
	Kid     did.DID
	Msg     *cose.Message
}

// Verify checks the request's signature with k.
func (s *Signed) Verify(k cose.PublicKey) error { return s.Msg.Verify(k, ExternalAAD) }

// DecodeRequest checks a request's form: size, COSE_Sign1 with alg and
// kid protected, kid the DID URL of a key, payload the deterministic CBOR
// of a Request with its fields in bounds. A refusal is an *Error with
// ReasonMalformed or ReasonOversized.
func DecodeRequest(b []byte) (*Signed, error) {
	if len(b) > MaxRequestBytes {
		return nil, Refuse(ReasonOversized, fmt.Sprintf("a request is at most %d bytes", MaxRequestBytes))
	}
	m, err := cose.Decode(b)
	if err != nil {
		return nil, Refuse(ReasonMalformed, "not a COSE_Sign1")
	}
	if m.Alg != cose.AlgEdDSA && m.Alg != cose.AlgES256 {
		return nil, Refuse(ReasonMalformed, "the algorithm is EdDSA or ES256")
	}
	if !m.KidProtected {
		return nil, Refuse(ReasonMalformed, "the kid must be in the protected header")
	}
	kid, err := did.Parse(string(m.Kid))
	if err != nil || kid.Fragment == "" {
		return nil, Refuse(ReasonMalformed, "the kid must be the DID URL of a key")
	}
	var r Request
	if err := op.Unmarshal(m.Payload, &r); err != nil {
		return nil, Refuse(ReasonMalformed, "the payload is not a request in deterministic CBOR")
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	return &Signed{Request: r, Kid: kid, Msg: m}, nil
}

func (r *Request) validate() error {
	if _, err := did.ParseNoFragment(r.Audience); err != nil {
		return Refuse(ReasonMalformed, "aud must be a provider's DID")
	}
	if r.IssuedAt <= 0 {
		return Refuse(ReasonMalformed, "iat must be a positive Unix time")
	}
	if len(r.ID) != IDLen {
		return Refuse(ReasonMalformed, fmt.Sprintf("jti must be %d bytes", IDLen))
	}
	if r.Lifetime < 0 || (r.Lifetime > 0 && r.Lifetime < int64(MinLifetime/time.Second)) {
		return Refuse(ReasonLifetime, fmt.Sprintf("life is 0 (the CA's default) or at least %d seconds", int64(MinLifetime/time.Second)))
	}
	if r.Lifetime > int64(MaxLifetime/time.Second) {
		return Refuse(ReasonLifetime, fmt.Sprintf("life is at most %d seconds", int64(MaxLifetime/time.Second)))
	}
	if len(r.CSR) > MaxCSRBytes {
		return Refuse(ReasonBadCSR, fmt.Sprintf("a CSR is at most %d bytes", MaxCSRBytes))
	}
	return nil
}

// Error is a refused request: a stable reason and a safe message.
type Error struct {
	Reason Reason
	Msg    string
}

func (e *Error) Error() string { return string(e.Reason) + ": " + e.Msg }

// Is matches any *Error with the same reason.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

// Refuse builds an *Error.
func Refuse(r Reason, msg string) *Error { return &Error{Reason: r, Msg: msg} }

// Package authn is bias's mutual authentication protocol between a device
// and a service (interface I3), pure and public: message formats in two
// encodings (COSE_Sign1 over CBOR for constrained devices, JWS for HTTP
// services) and the checks that decide an authentication, against a view
// of the ledger that the caller supplies. It reads no clock and does no
// I/O: time and randomness are inputs.
//
// The exchange:
//
//	service                                   device
//	   | -- challenge (signed by the service) --> |  checks the service
//	   | <-- proof (signed by the device) ------- |  binds the service's nonce
//	   decide: device validated, key current,
//	   challenge unexpired and unused
//
// A proof in COSE form is under 200 bytes. Signatures of each message
// type are domain-separated (COSE external AAD, JWS typ), so that no
// signature of one kind verifies as another, nor as a ledger operation.
package authn

import (
	"errors"
	"fmt"

	"github.com/bias-iot/bias/did"
)

// Sizes and limits.
const (
	NonceLen = 16
	// MaxValidity bounds how long a challenge may live.
	MaxValiditySeconds = 300
	// MaxMessage bounds an encoded message of either kind.
	MaxMessage = 2048
)

// Domain separation of signatures.
var (
	aadChallenge = []byte("bias-authn-challenge-v1")
	aadProof     = []byte("bias-authn-proof-v1")
)

// JWS types.
const (
	TypChallenge = "bias-challenge+jwt"
	TypProof     = "bias-proof+jwt"
)

// Challenge is what a service sends a device: who it is (signed with its
// registered key), a fresh nonce and a short validity.
type Challenge struct {
	Service  did.DID // the service; Kid names the signing key
	Kid      did.DID
	Network  string
	Nonce    []byte
	IssuedAt int64 // Unix seconds
	Expires  int64 // Unix seconds
}

// Proof is a device's answer: the service's nonce and its own, signed by
// the device's registered key.
type Proof struct {
	Device       did.DID // the device; Kid names the signing key
	Kid          did.DID
	Service      did.DID
	ServiceNonce []byte
	DeviceNonce  []byte
	IssuedAt     int64 // Unix seconds
}

// Encoding names a wire form.
type Encoding string

// The encodings.
const (
	COSE Encoding = "cose" // COSE_Sign1 over deterministic CBOR
	JWS  Encoding = "jws"  // compact JWS over JSON (a JWT)
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed message")

func (c *Challenge) check() error {
	if c.Kid.Base() != c.Service.Base() || c.Kid.Fragment == "" {
		return fmt.Errorf("%w: challenge kid must be a key of the service", ErrMalformed)
	}
	if c.Network != c.Service.Network {
		return fmt.Errorf("%w: challenge network differs from the service's", ErrMalformed)
	}
	if len(c.Nonce) != NonceLen {
		return fmt.Errorf("%w: challenge nonce must be %d bytes", ErrMalformed, NonceLen)
	}
	if c.Expires <= c.IssuedAt || c.Expires-c.IssuedAt > MaxValiditySeconds {
		return fmt.Errorf("%w: challenge validity must be 1 to %d seconds", ErrMalformed, MaxValiditySeconds)
	}
	return nil
}

func (p *Proof) check() error {
	if p.Kid.Base() != p.Device.Base() || p.Kid.Fragment == "" {
		return fmt.Errorf("%w: proof kid must be a key of the device", ErrMalformed)
	}
	if p.Service.Network != p.Device.Network {
		return fmt.Errorf("%w: device and service are on different networks", ErrMalformed)
	}
	if len(p.ServiceNonce) != NonceLen || len(p.DeviceNonce) != NonceLen {
		return fmt.Errorf("%w: nonces must be %d bytes", ErrMalformed, NonceLen)
	}
	return nil
}

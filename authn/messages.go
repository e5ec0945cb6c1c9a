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
//	   | -- challenge (signed by the service) --> |  checks the service, and
//	   |                                          |  that it names the origin
//	   |                                          |  the device talks to
//	   | <-- proof (signed by the device) ------- |  binds the service's nonce
//	   decide: device validated, key current,       and that origin
//	   challenge unexpired and unused, both for
//	   the service's own origin
//
// A challenge names the origin (scheme, host, port) the service is reached
// at, under its signature, and a device answers only a challenge that
// names the origin it sent its request to: a host that relays another
// service's challenge to a device gets no answer, and the proof of a
// challenge of its own origin is refused by any other service. A proof in
// COSE form is under 200 bytes. Signatures of each message
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
	aadProof     = []byte("bias-authn-proof-v2\x00") // followed by the proof's origin
)

// proofAAD is the external AAD of a COSE proof: it signs the origin that
// the proof does not carry.
func proofAAD(origin string) []byte {
	return append(append([]byte(nil), aadProof...), origin...)
}

// JWS types.
const (
	TypChallenge = "bias-challenge+jwt"
	TypProof     = "bias-proof+jwt"
)

// Challenge is what a service sends a device: who it is and where it is
// reached (signed with its registered key), a fresh nonce and a short
// validity.
type Challenge struct {
	Service did.DID // the service; Kid names the signing key
	Kid     did.DID
	Network string
	// Origin is the origin the service is reached at, in the form
	// ParseOrigin returns ("https://printer.example", "coaps://[2001:db8::1]:5700"):
	// a device answers the challenge only if it sent its request there.
	Origin   string
	Nonce    []byte
	IssuedAt int64 // Unix seconds
	Expires  int64 // Unix seconds
	// Claims names what the service asks of the device's credential
	// (none: it asks nothing, as before selective disclosure).
	Claims ClaimRequest
}

// Proof is a device's answer: the service's nonce and its own, for the
// origin it talks to, signed by the device's registered key.
type Proof struct {
	Device  did.DID // the device; Kid names the signing key
	Kid     did.DID
	Service did.DID
	// Origin is the origin the device sent its request to (the
	// challenge's, which the device checked). A JWS proof carries it; a
	// COSE proof signs it without carrying it (external AAD), so that it
	// stays under 200 bytes: its verifier supplies the origin it expects.
	Origin       string
	ServiceNonce []byte
	DeviceNonce  []byte
	IssuedAt     int64 // Unix seconds
	// Presentation is the device's credential with the disclosures it
	// presents (nil: none). The proof's signature is its key binding.
	Presentation *Presentation
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
	if err := checkOrigin(c.Origin); err != nil {
		return fmt.Errorf("%w: challenge origin: %v", ErrMalformed, err)
	}
	if len(c.Nonce) != NonceLen {
		return fmt.Errorf("%w: challenge nonce must be %d bytes", ErrMalformed, NonceLen)
	}
	if c.Expires <= c.IssuedAt || c.Expires-c.IssuedAt > MaxValiditySeconds {
		return fmt.Errorf("%w: challenge validity must be 1 to %d seconds", ErrMalformed, MaxValiditySeconds)
	}
	if err := c.Claims.Check(); err != nil {
		return fmt.Errorf("%w: challenge claims: %v", ErrMalformed, err)
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
	if err := checkOrigin(p.Origin); err != nil {
		return fmt.Errorf("%w: proof origin: %v", ErrMalformed, err)
	}
	if len(p.ServiceNonce) != NonceLen || len(p.DeviceNonce) != NonceLen {
		return fmt.Errorf("%w: nonces must be %d bytes", ErrMalformed, NonceLen)
	}
	return nil
}

// checkOrigin accepts an origin only in its normalized form, so that an
// origin has one encoding and two are compared as strings.
func checkOrigin(o string) error {
	if o == "" {
		return errors.New("missing")
	}
	n, err := ParseOrigin(o)
	if err != nil {
		return err
	}
	if n != o {
		return fmt.Errorf("%.60q is not in its normalized form", o)
	}
	return nil
}

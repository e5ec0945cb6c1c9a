package authn

import (
	"fmt"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/jws"
)

// JWTHeader is the protected header of a JWT that is not one of the
// protocol's own messages (OAuth 2.0 assertions and access tokens): the
// kid is whatever the issuer names its key with.
type JWTHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
	Kid string `json:"kid,omitempty"`
	// Crit names extensions a recipient must understand (RFC 7515
	// section 4.1.11): bias understands none, so a JWT with it is refused.
	Crit []string `json:"crit,omitempty"`
}

// JWT is a decoded compact JWS whose signature is still to be checked.
type JWT struct {
	Header JWTHeader
	Alg    cose.Alg
	input  []byte
	sig    []byte
}

// Verify reports whether k, of the header's alg, signed the JWT.
func (j *JWT) Verify(k cose.PublicKey) bool { return k.Alg() == j.Alg && k.Verify(j.input, j.sig) }

// SignJWT signs claims as a compact JWS with s, whose header names typ
// ("" for none) and kid.
func SignJWT(s cose.Signer, typ, kid string, claims any) ([]byte, error) {
	return signCompact(s, JWTHeader{Alg: s.Public().Alg().String(), Typ: typ, Kid: kid}, claims)
}

// DecodeJWT decodes a compact JWS of at most max bytes as strictly as the
// protocol's own messages: canonical base64url parts, a header and claims
// of exactly one JSON object each, every member known (claims: by a field
// of claims, a pointer to a struct) and none twice, an asymmetric alg
// (EdDSA, ES256). The caller checks typ and kid, then the signature.
func DecodeJWT(b []byte, max int, claims any) (*JWT, error) {
	return decodeJWT(b, max, claims, strictJSON)
}

// DecodeForeignJWT is DecodeJWT for a JWT another implementation made (an
// OAuth client's assertion): header members and claims that no field
// names are ignored, as RFC 7515 and RFC 7519 have it, but never a case
// variant of a known one, a member twice, or a crit header.
func DecodeForeignJWT(b []byte, max int, claims any) (*JWT, error) {
	return decodeJWT(b, max, claims, lenientJSON)
}

func decodeJWT(b []byte, max int, claims any, decode func([]byte, any) error) (*JWT, error) {
	if len(b) > max {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, max)
	}
	c, err := jws.Split(string(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	var h JWTHeader
	if err := decode(c.Header, &h); err != nil {
		return nil, fmt.Errorf("%w: JWS header: %v", ErrMalformed, err)
	}
	if h.Crit != nil {
		return nil, fmt.Errorf("%w: JWS header: crit names extensions bias does not understand", ErrMalformed)
	}
	alg, err := cose.ParseAlg(h.Alg)
	if err != nil {
		return nil, fmt.Errorf("%w: alg: %v", ErrMalformed, err)
	}
	if err := decode(c.Payload, claims); err != nil {
		return nil, fmt.Errorf("%w: JWS claims: %v", ErrMalformed, err)
	}
	return &JWT{Header: h, Alg: alg, input: []byte(c.SigningInput), sig: c.Signature}, nil
}

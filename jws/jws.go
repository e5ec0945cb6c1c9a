// Package jws splits the compact serialization of a JSON Web Signature
// (RFC 7515 section 7.1) into its three parts, each decoded from
// base64url without padding in its one encoding, so that a message has
// one form only. It checks no header member, claim or signature: its
// callers (authn's messages and tokens, sdjwt's issuer-signed JWT) do.
//
//	c, err := jws.Split(token)
//	if err != nil { ... }          // errors.Is(err, jws.ErrParts), jws.ErrEncoding
//	json.Unmarshal(c.Header, &h)   // then the alg and key the header names
//	ok := key.Verify([]byte(c.SigningInput), c.Signature)
package jws

import (
	"encoding/base64"
	"errors"
	"strings"
)

// The refusals of Split.
var (
	ErrParts    = errors.New("a compact JWS has three parts")
	ErrEncoding = errors.New("JWS parts must be base64url without padding")
)

// Compact is a compact JWS split into its decoded parts.
type Compact struct {
	Header, Payload, Signature []byte
	// SigningInput is what the signature is over: the encoded header,
	// a '.', the encoded payload (RFC 7515 section 5.1).
	SigningInput string
}

// Split splits s into its header, payload and signature: exactly three
// parts separated by '.', each canonical base64url without padding
// (Decode).
func Split(s string) (*Compact, error) {
	h, rest, ok1 := strings.Cut(s, ".")
	p, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(sig, ".") {
		return nil, ErrParts
	}
	hb, err1 := Decode(h)
	pb, err2 := Decode(p)
	sb, err3 := Decode(sig)
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, ErrEncoding
	}
	return &Compact{Header: hb, Payload: pb, Signature: sb, SigningInput: s[:len(h)+1+len(p)]}, nil
}

var b64 = base64.RawURLEncoding

// Decode decodes base64url without padding in its one encoding: the
// decoder alone would also take line breaks and other low bits in the
// last character, so that one signature had many encodings.
func Decode(s string) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err == nil && b64.EncodeToString(b) != s {
		err = errors.New("not in canonical base64url")
	}
	return b, err
}

// Package sdjwt implements Selective Disclosure for JWTs (SD-JWT, RFC
// 9901) with the two algorithms bias accepts (EdDSA, ES256) and the one
// digest algorithm it accepts (sha-256): an issuer signs a JWT whose
// selectively disclosable claims are salted digests, the holder presents
// it with the disclosures it chooses, and a verifier checks the
// issuer's signature and every digest before it sees a disclosed value.
//
//	jwt, discs, _ := sdjwt.Issue(issuer, "k1", "example+sd-jwt", claims, rand.Reader, 2)
//	pres := sdjwt.Present(jwt, discs[:1])            // "jwt~d1~"
//	p, _ := sdjwt.Parse(pres)
//	claims, err := p.Verify(issuerKey)               // claims with d1 in place
//
// Key binding (the KB-JWT) is made and checked by its caller: in bias the
// device's authentication proof is the KB-JWT (package authn), and
// SDHash gives the digest it signs.
//
// It reads no clock and does no I/O; every input is bounded.
package sdjwt

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Limits.
const (
	// MaxDisclosure bounds one encoded disclosure, in bytes.
	MaxDisclosure = 1024
	// MaxDisclosures bounds the disclosures of one SD-JWT.
	MaxDisclosures = 32
	// MaxSDJWT bounds a whole SD-JWT (with its KB-JWT), in bytes.
	MaxSDJWT = 16 << 10
	// SaltLen is the salt's length in bytes (128 bits, RFC 9901 section 9.3).
	SaltLen = 16
	// AlgSHA256 is the one _sd_alg accepted.
	AlgSHA256 = "sha-256"
)

// The refusals, wrapped by the errors of Parse and Verify.
var (
	ErrMalformed    = errors.New("sd-jwt: malformed")
	ErrOversized    = errors.New("sd-jwt: oversized")
	ErrBadSignature = errors.New("sd-jwt: the issuer's signature does not verify")
	// ErrUnreferenced is a disclosure whose digest the issuer did not sign:
	// tampered, or of another credential.
	ErrUnreferenced = errors.New("sd-jwt: a disclosure the credential does not reference")
	// ErrDuplicate is a disclosure presented twice, or a digest that occurs
	// twice in the credential.
	ErrDuplicate = errors.New("sd-jwt: a disclosure or digest twice")
	// ErrReserved is a disclosure of a reserved claim name (_sd, ...) or of
	// a name the object already holds.
	ErrReserved = errors.New("sd-jwt: a disclosure of a reserved or existing claim name")
)

var b64 = base64.RawURLEncoding

// Disclosure is one salted claim: a name and value for an object
// property, a value alone for an array element.
type Disclosure struct {
	Salt    string
	Name    string // "" for an array element
	IsArray bool
	Value   any             // decoded JSON (numbers as json.Number)
	Raw     json.RawMessage // the value's JSON as the issuer wrote it
	// Encoded is the disclosure as presented (base64url of its JSON array).
	Encoded string
}

// Digest is the base64url SHA-256 of the disclosure's encoding (RFC 9901
// section 4.2.3).
func (d *Disclosure) Digest() string { return Digest(d.Encoded) }

// Digest is the base64url SHA-256 of an encoded disclosure, or of any
// ASCII string (the sd_hash of a presentation).
func Digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return b64.EncodeToString(h[:])
}

// NewDisclosure encodes a disclosure of name (an object property) or,
// for name "", of an array element, with salt from rand.
func NewDisclosure(rand io.Reader, name string, value any, array bool) (*Disclosure, error) {
	if !array && (name == "" || name == "_sd" || name == "...") {
		return nil, fmt.Errorf("%w: %q", ErrReserved, name)
	}
	salt := make([]byte, SaltLen)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	s := b64.EncodeToString(salt)
	arr := []any{s, name, json.RawMessage(raw)}
	if array {
		arr = []any{s, json.RawMessage(raw)}
	}
	b, err := json.Marshal(arr)
	if err != nil {
		return nil, err
	}
	enc := b64.EncodeToString(b)
	if len(enc) > MaxDisclosure {
		return nil, fmt.Errorf("%w: a disclosure of more than %d bytes", ErrOversized, MaxDisclosure)
	}
	return ParseDisclosure(enc)
}

// ParseDisclosure decodes an encoded disclosure: base64url without
// padding of a JSON array of a salt (a string), a claim name (a string,
// not _sd or ...) and a value, or of a salt and a value for an array
// element.
func ParseDisclosure(enc string) (*Disclosure, error) {
	if len(enc) > MaxDisclosure {
		return nil, fmt.Errorf("%w: a disclosure of more than %d bytes", ErrOversized, MaxDisclosure)
	}
	b, err := b64.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("%w: a disclosure is base64url without padding", ErrMalformed)
	}
	if err := checkJSON(b); err != nil {
		return nil, fmt.Errorf("%w: disclosure: %v", ErrMalformed, err)
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(b, &arr); err != nil || (len(arr) != 2 && len(arr) != 3) {
		return nil, fmt.Errorf("%w: a disclosure is an array of 2 or 3 elements", ErrMalformed)
	}
	d := &Disclosure{Encoded: enc, IsArray: len(arr) == 2}
	if err := json.Unmarshal(arr[0], &d.Salt); err != nil {
		return nil, fmt.Errorf("%w: a disclosure's salt is a string", ErrMalformed)
	}
	d.Raw = arr[len(arr)-1]
	if !d.IsArray {
		if err := json.Unmarshal(arr[1], &d.Name); err != nil {
			return nil, fmt.Errorf("%w: a disclosure's claim name is a string", ErrMalformed)
		}
		if d.Name == "_sd" || d.Name == "..." {
			return nil, fmt.Errorf("%w: %q", ErrReserved, d.Name)
		}
	}
	if d.Value, err = decodeValue(d.Raw); err != nil {
		return nil, fmt.Errorf("%w: disclosure value: %v", ErrMalformed, err)
	}
	return d, nil
}

// decodeValue decodes JSON keeping numbers exact.
func decodeValue(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

// checkJSON refuses JSON with an object member twice (two parsers could
// read different claims from one signed input) or nested deeper than 8.
func checkJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := checkValue(dec, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}

func checkValue(dec *json.Decoder, depth int) error {
	if depth > 8 {
		return errors.New("nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%.100s", err.Error())
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return fmt.Errorf("%.100s", err.Error())
			}
			name, _ := k.(string)
			if seen[name] {
				return fmt.Errorf("member %.40q twice", name)
			}
			seen[name] = true
			if err := checkValue(dec, depth+1); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	case json.Delim('['):
		for dec.More() {
			if err := checkValue(dec, depth+1); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	}
	return err
}

// Package sdcwt implements Selective Disclosure CBOR Web Tokens (SD-CWT,
// draft-ietf-spice-sd-cwt) over the project's COSE_Sign1 (package cose),
// for constrained devices: an issuer signs a CWT whose disclosable claims
// are salted digests (a redacted claim key's digest in the map's
// simple(59) array, a redacted array element as tag 60 around its
// digest), the disclosures travel in the unprotected sd_claims header
// (17), and the holder presents the token with the disclosures it
// chooses, inside its key binding token (the kcwt header, 13).
//
//	tok, discs, _ := sdcwt.Issue(issuer, kid, claims, rand.Reader, 2)
//	pres, _ := sdcwt.Present(tok, discs[:1])
//	p, _ := sdcwt.Parse(pres)
//	claims, err := p.Verify(issuerKey)
//
// Only SHA-256 (sd_alg -16, the default) is accepted; decoding is
// strict (definite lengths, no duplicate map keys, bounded sizes). It
// reads no clock and does no I/O.
package sdcwt

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/fxamacker/cbor/v2"

	"github.com/bias-iot/bias/cose"
)

// Header parameters, values and markers of the draft.
const (
	HeaderKCWT     = 13  // kcwt (RFC 9528): the SD-CWT inside a key binding token
	HeaderTyp      = 16  // typ (RFC 9596)
	HeaderSDClaims = 17  // sd_claims: the disclosures
	HeaderSDAlg    = 170 // sd_alg
	TypSDCWT       = 293 // application/sd-cwt
	TypKBCWT       = 294 // application/kb+cwt
	AlgSHA256      = -16
	// TagRedactedElement wraps a redacted array element's digest.
	TagRedactedElement = 60
	// RedactedKeys is the simple value whose map entry lists the digests
	// of the map's redacted claim keys.
	RedactedKeys = cbor.SimpleValue(59)
)

// Limits.
const (
	SaltLen        = 16
	MaxDisclosure  = 512
	MaxDisclosures = 32
	MaxSDCWT       = 4096
)

// The refusals, wrapped by the errors of Parse and Verify.
var (
	ErrMalformed    = errors.New("sd-cwt: malformed")
	ErrOversized    = errors.New("sd-cwt: oversized")
	ErrBadSignature = errors.New("sd-cwt: the issuer's signature does not verify")
	ErrUnreferenced = errors.New("sd-cwt: a disclosure the token does not reference")
	ErrDuplicate    = errors.New("sd-cwt: a disclosure or digest twice")
	ErrReserved     = errors.New("sd-cwt: a disclosure of a claim key the map already holds")
)

var (
	dec cbor.DecMode
	enc cbor.EncMode
)

func init() {
	var err error
	dec, err = cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		MaxNestedLevels:  12,
		MaxArrayElements: 256,
		MaxMapPairs:      64,
		UTF8:             cbor.UTF8RejectInvalid,
		IntDec:           cbor.IntDecConvertSigned,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	if enc, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err)
	}
}

// Disclosure is a salted disclosed claim: a claim key (int64 or string)
// and value, or a value alone for an array element.
type Disclosure struct {
	Salt    []byte
	Key     any // int64 or string; nil for an array element
	IsArray bool
	Value   any
	// Encoded is the disclosure's CBOR array, the contents of its bstr.
	Encoded []byte
}

// Digest is the redacted claim hash: the SHA-256 of the disclosure as it
// travels in sd_claims, a CBOR byte string (head and contents), as the
// draft's examples compute it.
func (d *Disclosure) Digest() []byte {
	b, _ := enc.Marshal(d.Encoded) // a byte string always encodes
	h := sha256.Sum256(b)
	return h[:]
}

// NewDisclosure makes a disclosure of key (nil for an array element) and
// value with a fresh salt.
func NewDisclosure(rand io.Reader, key, value any) (*Disclosure, error) {
	salt := make([]byte, SaltLen)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return nil, err
	}
	arr := []any{salt, value}
	if key != nil {
		arr = append(arr, key)
	}
	b, err := enc.Marshal(arr)
	if err != nil {
		return nil, err
	}
	return ParseDisclosure(b)
}

// ParseDisclosure decodes a disclosure: a CBOR array of a salt (a byte
// string of 16 bytes), a value and, for a claim key, the key (an integer
// or a text string of at most 255 bytes).
func ParseDisclosure(b []byte) (*Disclosure, error) {
	if len(b) > MaxDisclosure {
		return nil, fmt.Errorf("%w: a disclosure of more than %d bytes", ErrOversized, MaxDisclosure)
	}
	var arr []cbor.RawMessage
	if err := dec.Unmarshal(b, &arr); err != nil || (len(arr) != 2 && len(arr) != 3) {
		return nil, fmt.Errorf("%w: a disclosure is an array of 2 or 3 elements", ErrMalformed)
	}
	d := &Disclosure{Encoded: b, IsArray: len(arr) == 2}
	if len(arr[0]) == 0 || arr[0][0]>>5 != 2 || dec.Unmarshal(arr[0], &d.Salt) != nil || len(d.Salt) != SaltLen {
		return nil, fmt.Errorf("%w: a disclosure's salt is a %d-byte string", ErrMalformed, SaltLen)
	}
	if err := dec.Unmarshal(arr[1], &d.Value); err != nil {
		return nil, fmt.Errorf("%w: a disclosure's value: %v", ErrMalformed, err)
	}
	if !d.IsArray {
		var err error
		if d.Key, err = claimKey(arr[2]); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func claimKey(raw cbor.RawMessage) (any, error) {
	if len(raw) > 0 && raw[0]>>5 <= 1 {
		var n int64
		if err := dec.Unmarshal(raw, &n); err == nil {
			return n, nil
		}
	}
	var s string
	if len(raw) > 0 && raw[0]>>5 == 3 && dec.Unmarshal(raw, &s) == nil && len(s) <= 255 {
		return s, nil
	}
	return nil, fmt.Errorf("%w: a claim key is an integer or a text string of at most 255 bytes", ErrMalformed)
}

// SD marks a value as disclosable where Issue meets it (a map entry, or
// an array element).
type SD struct{ Value any }

// Issue makes an SD-CWT signed by s with kid: each SD value of claims
// (whose keys are int64 or string) is redacted, with decoys decoy digests
// in each map that has a redacted key, and all the disclosures in
// sd_claims. It returns the token and its disclosures.
func Issue(s cose.Signer, kid []byte, claims map[any]any, rand io.Reader, decoys int) ([]byte, []*Disclosure, error) {
	var ds []*Disclosure
	payload, err := redact(claims, rand, decoys, &ds, 0)
	if err != nil {
		return nil, nil, err
	}
	pb, err := enc.Marshal(payload)
	if err != nil {
		return nil, nil, err
	}
	tok, err := cose.Sign1Headers(s, kid, map[int64]any{HeaderTyp: TypSDCWT, HeaderSDAlg: AlgSHA256}, sdClaims(ds), pb, nil)
	if err != nil {
		return nil, nil, err
	}
	if len(tok) > MaxSDCWT {
		return nil, nil, fmt.Errorf("%w: an SD-CWT of more than %d bytes", ErrOversized, MaxSDCWT)
	}
	return tok, ds, nil
}

func sdClaims(ds []*Disclosure) map[int64]any {
	if len(ds) == 0 {
		return nil // the draft: omitted, never empty
	}
	arr := make([]any, len(ds))
	for i, d := range ds {
		arr[i] = d.Encoded
	}
	return map[int64]any{HeaderSDClaims: arr}
}

func redact(v any, rand io.Reader, decoys int, out *[]*Disclosure, depth int) (any, error) {
	if depth > 6 {
		return nil, fmt.Errorf("%w: claims nested too deeply", ErrMalformed)
	}
	switch v := v.(type) {
	case SD:
		return nil, fmt.Errorf("%w: a disclosable value is a map entry or an array element", ErrMalformed)
	case map[any]any:
		obj := map[any]any{}
		var digests [][]byte
		for k, e := range v {
			if err := checkClaimKey(k); err != nil {
				return nil, err
			}
			sd, ok := e.(SD)
			if ok {
				e = sd.Value
			}
			inner, err := redact(e, rand, decoys, out, depth+1)
			if err != nil {
				return nil, err
			}
			if !ok {
				obj[k] = inner
				continue
			}
			d, err := NewDisclosure(rand, k, inner)
			if err != nil {
				return nil, err
			}
			*out = append(*out, d)
			digests = append(digests, d.Digest())
		}
		if len(digests) > 0 {
			for range decoys {
				salt := make([]byte, SaltLen)
				if _, err := io.ReadFull(rand, salt); err != nil {
					return nil, err
				}
				h := sha256.Sum256(salt)
				digests = append(digests, h[:])
			}
			slices.SortFunc(digests, bytes.Compare)
			obj[RedactedKeys] = digests
		}
		return obj, nil
	case []any:
		arr := make([]any, 0, len(v))
		for _, e := range v {
			sd, ok := e.(SD)
			if ok {
				e = sd.Value
			}
			inner, err := redact(e, rand, decoys, out, depth+1)
			if err != nil {
				return nil, err
			}
			if !ok {
				arr = append(arr, inner)
				continue
			}
			d, err := NewDisclosure(rand, nil, inner)
			if err != nil {
				return nil, err
			}
			*out = append(*out, d)
			arr = append(arr, cbor.Tag{Number: TagRedactedElement, Content: d.Digest()})
		}
		return arr, nil
	}
	return v, nil
}

func checkClaimKey(k any) error {
	switch k := k.(type) {
	case int64, int:
		return nil
	case string:
		if len(k) <= 255 {
			return nil
		}
	}
	return fmt.Errorf("%w: a claim key is an integer or a text string of at most 255 bytes", ErrMalformed)
}

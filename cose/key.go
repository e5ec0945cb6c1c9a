package cose

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// Alg is a COSE algorithm identifier (RFC 9053).
type Alg int64

// The algorithms bias accepts.
const (
	AlgES256 Alg = -7 // ECDSA P-256 with SHA-256, signature r‖s (64 bytes)
	AlgEdDSA Alg = -8 // Ed25519, signature 64 bytes
)

// String names the algorithm as JOSE does.
func (a Alg) String() string {
	switch a {
	case AlgES256:
		return "ES256"
	case AlgEdDSA:
		return "EdDSA"
	}
	return fmt.Sprintf("alg(%d)", int64(a))
}

// ErrUnsupportedAlg is returned for an algorithm other than EdDSA and ES256.
var ErrUnsupportedAlg = errors.New("unsupported algorithm")

// ParseAlg reads an algorithm by its JOSE name (RFC 7518, RFC 8037), as
// String writes it: "EdDSA" or "ES256", case-sensitive as JOSE is.
func ParseAlg(name string) (Alg, error) {
	for _, a := range []Alg{AlgEdDSA, AlgES256} {
		if name == a.String() {
			return a, nil
		}
	}
	return 0, fmt.Errorf("%w: %.16q; use EdDSA or ES256", ErrUnsupportedAlg, name)
}

// ErrBadKey is wrapped by every public-key parse error.
var ErrBadKey = errors.New("invalid public key")

// PublicKey is an Ed25519 or P-256 public key.
type PublicKey struct {
	alg Alg
	ed  ed25519.PublicKey
	ec  *ecdsa.PublicKey
	raw []byte // canonical bytes: Ed25519 32 bytes, P-256 SEC1 compressed 33 bytes
}

// ParsePublicKey parses the key bytes of an algorithm: 32 raw bytes for
// EdDSA; a SEC1 point for ES256, compressed (33 bytes) or uncompressed (65).
func ParsePublicKey(alg Alg, b []byte) (PublicKey, error) {
	switch alg {
	case AlgEdDSA:
		if len(b) != ed25519.PublicKeySize {
			return PublicKey{}, fmt.Errorf("%w: ed25519 key must be %d bytes", ErrBadKey, ed25519.PublicKeySize)
		}
		k := ed25519.PublicKey(append([]byte(nil), b...))
		return PublicKey{alg: alg, ed: k, raw: k}, nil
	case AlgES256:
		var x, y *big.Int
		switch len(b) {
		case 33:
			x, y = elliptic.UnmarshalCompressed(elliptic.P256(), b)
		case 65:
			// crypto/ecdh validates that the point is on the curve.
			if _, err := ecdh.P256().NewPublicKey(b); err != nil {
				return PublicKey{}, fmt.Errorf("%w: not a P-256 point", ErrBadKey)
			}
			x, y = new(big.Int).SetBytes(b[1:33]), new(big.Int).SetBytes(b[33:])
		default:
			return PublicKey{}, fmt.Errorf("%w: P-256 key must be a 33- or 65-byte SEC1 point", ErrBadKey)
		}
		if x == nil {
			return PublicKey{}, fmt.Errorf("%w: not a P-256 point", ErrBadKey)
		}
		ec := &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}
		return PublicKey{alg: alg, ec: ec, raw: elliptic.MarshalCompressed(elliptic.P256(), x, y)}, nil
	}
	return PublicKey{}, fmt.Errorf("%w: %v", ErrUnsupportedAlg, alg)
}

// PublicKeyFrom wraps a Go public key (ed25519.PublicKey or a P-256
// *ecdsa.PublicKey).
func PublicKeyFrom(k crypto.PublicKey) (PublicKey, error) {
	switch k := k.(type) {
	case ed25519.PublicKey:
		return ParsePublicKey(AlgEdDSA, k)
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return PublicKey{}, fmt.Errorf("%w: curve %s", ErrUnsupportedAlg, k.Curve.Params().Name)
		}
		return ParsePublicKey(AlgES256, elliptic.MarshalCompressed(k.Curve, k.X, k.Y))
	}
	return PublicKey{}, fmt.Errorf("%w: key type %T", ErrUnsupportedAlg, k)
}

// Alg returns the key's algorithm.
func (k PublicKey) Alg() Alg { return k.alg }

// Bytes returns the canonical encoding (Ed25519: 32 bytes; P-256: 33-byte
// compressed point). The caller must not modify it.
func (k PublicKey) Bytes() []byte { return k.raw }

// IsZero reports whether k holds no key.
func (k PublicKey) IsZero() bool { return k.raw == nil }

// Equal reports whether two keys are the same key.
func (k PublicKey) Equal(o PublicKey) bool {
	return k.alg == o.alg && string(k.raw) == string(o.raw)
}

// Crypto returns the key as a Go crypto.PublicKey.
func (k PublicKey) Crypto() crypto.PublicKey {
	if k.ed != nil {
		return k.ed
	}
	return k.ec
}

// Thumbprint returns SHA-256 over the algorithm and canonical key bytes:
// a stable name for the key.
func (k PublicKey) Thumbprint() [32]byte {
	h := sha256.New()
	h.Write([]byte(k.alg.String()))
	h.Write([]byte{0})
	h.Write(k.raw)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Verify checks a raw signature (Ed25519 64 bytes; ES256 r‖s 64 bytes) over msg.
func (k PublicKey) Verify(msg, sig []byte) bool {
	switch k.alg {
	case AlgEdDSA:
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(k.ed, msg, sig)
	case AlgES256:
		if len(sig) != 64 {
			return false
		}
		h := sha256.Sum256(msg)
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(k.ec, h[:], r, s)
	}
	return false
}

// Signer signs messages for COSE: the signature is returned in COSE's raw
// form. Any crypto.Signer (a file key, a TPM, a secure element) becomes one
// through NewSigner.
type Signer interface {
	Public() PublicKey
	SignMessage(msg []byte) ([]byte, error)
}

// NewSigner adapts a crypto.Signer holding an Ed25519 or P-256 key.
func NewSigner(s crypto.Signer) (Signer, error) {
	pub, err := PublicKeyFrom(s.Public())
	if err != nil {
		return nil, err
	}
	return &cryptoSigner{s: s, pub: pub}, nil
}

// GenerateKey creates a new private key for alg and returns it as a Signer
// together with the crypto.Signer to store.
func GenerateKey(alg Alg) (Signer, crypto.Signer, error) {
	var priv crypto.Signer
	switch alg {
	case AlgEdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		priv = k
	case AlgES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		priv = k
	default:
		return nil, nil, fmt.Errorf("%w: %v", ErrUnsupportedAlg, alg)
	}
	s, err := NewSigner(priv)
	return s, priv, err
}

type cryptoSigner struct {
	s   crypto.Signer
	pub PublicKey
}

func (c *cryptoSigner) Public() PublicKey { return c.pub }

func (c *cryptoSigner) SignMessage(msg []byte) ([]byte, error) {
	switch c.pub.alg {
	case AlgEdDSA:
		return c.s.Sign(rand.Reader, msg, crypto.Hash(0))
	case AlgES256:
		h := sha256.Sum256(msg)
		der, err := c.s.Sign(rand.Reader, h[:], crypto.SHA256)
		if err != nil {
			return nil, err
		}
		return derToRaw(der)
	}
	return nil, ErrUnsupportedAlg
}

// derToRaw converts an ASN.1 ECDSA signature to the 64-byte r‖s form.
func derToRaw(der []byte) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 {
		return nil, errors.New("signer returned a malformed ECDSA signature")
	}
	if sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > 256 || sig.S.BitLen() > 256 {
		return nil, errors.New("signer returned an out-of-range ECDSA signature")
	}
	out := make([]byte, 64)
	sig.R.FillBytes(out[:32])
	sig.S.FillBytes(out[32:])
	return out, nil
}

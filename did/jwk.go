package did

import (
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"github.com/bias-iot/bias/cose"
)

// ParseJWK reads a public JWK (RFC 7517) of a kind bias uses: OKP Ed25519
// or EC P-256. A member "alg", when present, must agree with the key.
func ParseJWK(j *JWK) (cose.PublicKey, error) {
	dec := base64.RawURLEncoding.DecodeString
	x, err := dec(j.X)
	if err != nil {
		return cose.PublicKey{}, fmt.Errorf("%w: jwk x is not base64url", cose.ErrBadKey)
	}
	var k cose.PublicKey
	switch {
	case j.Kty == "OKP" && j.Crv == "Ed25519" && j.Y == "":
		k, err = cose.ParsePublicKey(cose.AlgEdDSA, x)
	case j.Kty == "EC" && j.Crv == "P-256":
		y, yerr := dec(j.Y)
		if yerr != nil || len(x) != 32 || len(y) != 32 {
			return cose.PublicKey{}, fmt.Errorf("%w: a P-256 jwk has 32-byte x and y", cose.ErrBadKey)
		}
		point := append(append([]byte{4}, x...), y...)
		if _, err := ecdh.P256().NewPublicKey(point); err != nil {
			return cose.PublicKey{}, fmt.Errorf("%w: not a P-256 point", cose.ErrBadKey)
		}
		k, err = cose.ParsePublicKey(cose.AlgES256, point)
	default:
		return cose.PublicKey{}, fmt.Errorf("%w: jwk kty %.8q crv %.8q", cose.ErrUnsupportedAlg, j.Kty, j.Crv)
	}
	if err != nil {
		return cose.PublicKey{}, err
	}
	if j.Alg != "" && j.Alg != k.Alg().String() {
		return cose.PublicKey{}, fmt.Errorf("%w: jwk alg %.8q for a %s key", cose.ErrBadKey, j.Alg, k.Alg())
	}
	return k, nil
}

// JWKThumbprint is the JWK SHA-256 thumbprint of a public key (RFC 7638),
// base64url without padding: the "jkt" of a DPoP-bound token (RFC 9449).
func JWKThumbprint(k cose.PublicKey) (string, error) {
	j, err := PublicJWK(k)
	if err != nil {
		return "", err
	}
	// The required members, in lexicographic order, without white space.
	var s string
	switch j.Kty {
	case "OKP":
		s = `{"crv":"` + j.Crv + `","kty":"OKP","x":"` + j.X + `"}`
	case "EC":
		s = `{"crv":"` + j.Crv + `","kty":"EC","x":"` + j.X + `","y":"` + j.Y + `"}`
	}
	h := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(h[:]), nil
}

package op

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"fmt"
	"strings"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
)

// HPKE KEM identifiers (RFC 9180 section 7.1) of the key-agreement keys
// an entity may register: the KEM names the curve.
const (
	KEMP256   uint16 = 0x0010 // DHKEM(P-256, HKDF-SHA256): for secure elements
	KEMX25519 uint16 = 0x0020 // DHKEM(X25519, HKDF-SHA256)
)

// MaxAgreementKeys bounds an entity's key-agreement keys: one in use and
// one for a rotation, or one of each curve.
const MaxAgreementKeys = 2

// AgreementKey is a key-agreement key of an entity (DID Core
// keyAgreement): its provider seals data to it with HPKE (package seal).
// It never verifies a signature: its ID is distinct from every signing
// key's, and the registry looks for signers among Keys only. Pub is the
// raw key: X25519, 32 bytes; P-256, the SEC1 compressed point (33 bytes),
// one encoding per key as for signing keys.
type AgreementKey struct {
	ID  string `cbor:"1,keyasint" json:"id"`
	KEM uint16 `cbor:"2,keyasint" json:"kem"`
	Pub []byte `cbor:"3,keyasint" json:"pub"`
}

// ECDH parses the key.
func (k AgreementKey) ECDH() (*ecdh.PublicKey, error) {
	switch k.KEM {
	case KEMX25519:
		if len(k.Pub) != 32 {
			return nil, fmt.Errorf("%w: an X25519 key is 32 bytes", cose.ErrBadKey)
		}
		pub, err := ecdh.X25519().NewPublicKey(k.Pub)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", cose.ErrBadKey, err)
		}
		// A low-order point makes every shared secret zero (RFC 7748
		// section 6.1): refuse it here, not at the first sealing.
		if _, err := lowOrderProbe.ECDH(pub); err != nil {
			return nil, fmt.Errorf("%w: a low-order X25519 point", cose.ErrBadKey)
		}
		return pub, nil
	case KEMP256:
		if len(k.Pub) != 33 {
			return nil, fmt.Errorf("%w: a P-256 agreement key is a 33-byte SEC1 compressed point", cose.ErrBadKey)
		}
		pk, err := cose.ParsePublicKey(cose.AlgES256, k.Pub)
		if err != nil {
			return nil, err
		}
		return pk.Crypto().(*ecdsa.PublicKey).ECDH()
	}
	return nil, fmt.Errorf("%w: KEM 0x%04x; use 0x0020 (X25519) or 0x0010 (P-256)", cose.ErrUnsupportedAlg, k.KEM)
}

// lowOrderProbe is a fixed X25519 scalar: agreement with a low-order point
// fails whatever the scalar.
var lowOrderProbe = func() *ecdh.PrivateKey {
	k, err := ecdh.X25519().NewPrivateKey(make([]byte, 32))
	if err != nil {
		panic(err)
	}
	return k
}()

// AgreementKeyFrom makes an AgreementKey from an X25519 or P-256 public key.
func AgreementKeyFrom(id string, pub *ecdh.PublicKey) (AgreementKey, error) {
	b := pub.Bytes()
	switch pub.Curve() {
	case ecdh.X25519():
		return AgreementKey{ID: id, KEM: KEMX25519, Pub: b}, nil
	case ecdh.P256():
		return AgreementKey{ID: id, KEM: KEMP256, Pub: CompressP256(b)}, nil
	}
	return AgreementKey{}, fmt.Errorf("%w: an agreement key is X25519 or P-256", cose.ErrUnsupportedAlg)
}

// CompressP256 returns the SEC1 compressed form of an uncompressed P-256
// point (65 bytes, 0x04 || X || Y).
func CompressP256(uncompressed []byte) []byte {
	out := make([]byte, 33)
	out[0] = 2 | uncompressed[64]&1
	copy(out[1:], uncompressed[1:33])
	return out
}

// validateAgreement checks the document's key-agreement keys: at most
// MaxAgreementKeys, each id a fragment unique among the document's ids
// (ids, which it extends), each key a valid point of its KEM and none a
// signing key of the document.
func (d *Document) validateAgreement(field string, ids map[string]bool) error {
	if len(d.KeyAgreement) > MaxAgreementKeys {
		return Reject(ReasonInvalidField, fmt.Sprintf("%s.keyAgreement: at most %d keys", field, MaxAgreementKeys))
	}
	for i, k := range d.KeyAgreement {
		f := fmt.Sprintf("%s.keyAgreement[%d]", field, i)
		if err := did.ValidateFragment(k.ID); err != nil {
			return Reject(ReasonInvalidField, f+".id: "+err.Error())
		}
		if strings.HasSuffix(k.ID, did.JWKSuffix) {
			return Reject(ReasonInvalidField, f+".id must not end in "+did.JWKSuffix)
		}
		if ids[k.ID] {
			return Reject(ReasonInvalidField, f+".id is not unique (an agreement key never shares a signing key's id)")
		}
		ids[k.ID] = true
		// One key, one use (NIST SP 800-57 part 1, 5.2): a P-256 key that
		// signs for the entity does not also agree keys.
		for _, sk := range d.Keys {
			if bytes.Equal(sk.Pub, k.Pub) {
				return Reject(ReasonInvalidField, f+" is a signing key of the document (one key, one use)")
			}
		}
		if _, err := k.ECDH(); err != nil {
			if k.KEM != KEMX25519 && k.KEM != KEMP256 {
				return Reject(ReasonUnsupportedAlg, f+": "+err.Error())
			}
			return Reject(ReasonInvalidField, f+": "+err.Error())
		}
	}
	return nil
}

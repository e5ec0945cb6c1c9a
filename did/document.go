package did

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"encoding/base64"
	"fmt"

	"github.com/bias-iot/bias/cose"
)

// Media types of DID documents and resolution results.
const (
	MediaTypeJSON       = "application/did+json"
	MediaTypeLDJSON     = "application/did+ld+json"
	MediaTypeResolution = "application/did-resolution"
	// MediaTypeResolutionLD is the JSON-LD profile form of a resolution result.
	MediaTypeResolutionLD = `application/ld+json;profile="https://w3id.org/did-resolution"`
)

// Contexts of the JSON-LD representation.
var (
	ContextDIDv1      = "https://www.w3.org/ns/did/v1"
	ContextMultikey   = "https://w3id.org/security/multikey/v1"
	ContextJWS2020    = "https://w3id.org/security/suites/jws-2020/v1"
	ContextResolution = "https://w3id.org/did-resolution/v1"
	// ContextBias defines bias's terms: its document metadata, and a
	// vocabulary under which a service type a registrant chose expands
	// (https://w3id.org/bias/registrant-defined#PrintService). A node
	// serves it at /contexts/bias-v1.jsonld.
	ContextBias = "https://w3id.org/bias/v1"
)

// Verification method types.
const (
	TypeMultikey       = "Multikey"
	TypeJSONWebKey2020 = "JsonWebKey2020"
	// JWKSuffix is appended to a key's id for its JsonWebKey2020 method.
	JWKSuffix = "-jwk"
)

// Document is a DID document (W3C DID Core 1.0). Context is set only in
// the JSON-LD representation.
type Document struct {
	Context            []string             `json:"@context,omitempty"`
	ID                 string               `json:"id"`
	Controller         string               `json:"controller,omitempty"`
	AlsoKnownAs        []string             `json:"alsoKnownAs,omitempty"`
	VerificationMethod []VerificationMethod `json:"verificationMethod,omitempty"`
	Authentication     []string             `json:"authentication,omitempty"`
	AssertionMethod    []string             `json:"assertionMethod,omitempty"`
	// KeyAgreement references the key-agreement methods: keys that data
	// is encrypted to, never listed under authentication or
	// assertionMethod (they verify no signature).
	KeyAgreement []string  `json:"keyAgreement,omitempty"`
	Service      []Service `json:"service,omitempty"`
}

// VerificationMethod is a public key. Each carries exactly one key
// material: publicKeyMultibase (Multikey) or publicKeyJwk (JsonWebKey2020).
type VerificationMethod struct {
	ID                 string `json:"id"`
	Type               string `json:"type"`
	Controller         string `json:"controller"`
	PublicKeyMultibase string `json:"publicKeyMultibase,omitempty"`
	PublicKeyJwk       *JWK   `json:"publicKeyJwk,omitempty"`
}

// JWK is a public JSON Web Key (RFC 7517; OKP for Ed25519 per RFC 8037).
// It has no private members by construction.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y,omitempty"`
	Alg string `json:"alg,omitempty"`
	Kid string `json:"kid,omitempty"` // set in a JWK Set, not in a DID document
	Use string `json:"use,omitempty"`
}

// Service is a service endpoint.
type Service struct {
	ID              string `json:"id"`
	Type            string `json:"type"`
	ServiceEndpoint string `json:"serviceEndpoint"`
}

// Key is a named public key of a subject.
type Key struct {
	ID  string // fragment
	Pub cose.PublicKey
}

// AgreementKey is a named key-agreement key (X25519 or P-256) of a
// subject.
type AgreementKey struct {
	ID  string // fragment
	Pub *ecdh.PublicKey
}

// Subject is what a document is built from.
type Subject struct {
	DID         DID
	Controller  DID // the provider
	Keys        []Key
	Agreement   []AgreementKey
	Services    []Service // IDs are fragments
	AlsoKnownAs []string
}

// NewDocument builds the DID document of a subject: each key appears as a
// Multikey method (#id) and as a JsonWebKey2020 method (#id-jwk), both
// referenced from authentication and assertionMethod; each key-agreement
// key appears the same way, referenced from keyAgreement alone.
func NewDocument(s Subject) (*Document, error) {
	id := s.DID.Base().String()
	d := &Document{ID: id, AlsoKnownAs: s.AlsoKnownAs}
	if !s.Controller.IsZero() {
		d.Controller = s.Controller.Base().String()
	}
	for _, k := range s.Keys {
		mb, err := Multikey(k.Pub)
		if err != nil {
			return nil, err
		}
		jwk, err := PublicJWK(k.Pub)
		if err != nil {
			return nil, err
		}
		mk := id + "#" + k.ID
		jk := id + "#" + k.ID + JWKSuffix
		d.VerificationMethod = append(d.VerificationMethod,
			VerificationMethod{ID: mk, Type: TypeMultikey, Controller: id, PublicKeyMultibase: mb},
			VerificationMethod{ID: jk, Type: TypeJSONWebKey2020, Controller: id, PublicKeyJwk: jwk})
		d.Authentication = append(d.Authentication, mk, jk)
		d.AssertionMethod = append(d.AssertionMethod, mk, jk)
	}
	for _, k := range s.Agreement {
		mb, jwk, err := agreementMaterial(k.Pub)
		if err != nil {
			return nil, err
		}
		mk := id + "#" + k.ID
		jk := id + "#" + k.ID + JWKSuffix
		d.VerificationMethod = append(d.VerificationMethod,
			VerificationMethod{ID: mk, Type: TypeMultikey, Controller: id, PublicKeyMultibase: mb},
			VerificationMethod{ID: jk, Type: TypeJSONWebKey2020, Controller: id, PublicKeyJwk: jwk})
		d.KeyAgreement = append(d.KeyAgreement, mk, jk)
	}
	for _, sv := range s.Services {
		d.Service = append(d.Service, Service{ID: id + "#" + sv.ID, Type: sv.Type, ServiceEndpoint: sv.ServiceEndpoint})
	}
	return d, nil
}

// LD returns a copy of d in the JSON-LD representation: with the
// @context of DID Core, of both verification method types, and bias's
// (always, so that the array does not depend on the document).
func (d *Document) LD() *Document {
	c := *d
	c.Context = []string{ContextDIDv1, ContextMultikey, ContextJWS2020, ContextBias}
	return &c
}

// Multicodec prefixes (unsigned varints) of the public keys.
var (
	codecEd25519 = []byte{0xed, 0x01}
	codecP256    = []byte{0x80, 0x24} // 0x1200
	codecX25519  = []byte{0xec, 0x01} // x25519-pub
)

// agreementMaterial encodes a key-agreement key as publicKeyMultibase
// (x25519-pub, or p256-pub compressed) and as a JWK (OKP X25519, RFC
// 8037; EC P-256), without "alg": the key is used with HPKE, not JOSE.
func agreementMaterial(k *ecdh.PublicKey) (string, *JWK, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	b := k.Bytes()
	switch k.Curve() {
	case ecdh.X25519():
		return "z" + base58(append(append([]byte(nil), codecX25519...), b...)), &JWK{Kty: "OKP", Crv: "X25519", X: b64(b)}, nil
	case ecdh.P256():
		c := append([]byte{2 | b[64]&1}, b[1:33]...)
		return "z" + base58(append(append([]byte(nil), codecP256...), c...)), &JWK{Kty: "EC", Crv: "P-256", X: b64(b[1:33]), Y: b64(b[33:])}, nil
	}
	return "", nil, fmt.Errorf("%w: an agreement key is X25519 or P-256", cose.ErrUnsupportedAlg)
}

// Multikey encodes a public key as publicKeyMultibase: base58btc ('z') of
// the multicodec prefix and the key (Ed25519: 32 bytes; P-256: compressed
// point).
func Multikey(k cose.PublicKey) (string, error) {
	var prefix []byte
	switch k.Alg() {
	case cose.AlgEdDSA:
		prefix = codecEd25519
	case cose.AlgES256:
		prefix = codecP256
	default:
		return "", fmt.Errorf("%w: %v", cose.ErrUnsupportedAlg, k.Alg())
	}
	return "z" + base58(append(append([]byte(nil), prefix...), k.Bytes()...)), nil
}

// PublicJWK returns a public key as a JWK.
func PublicJWK(k cose.PublicKey) (*JWK, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	switch k.Alg() {
	case cose.AlgEdDSA:
		return &JWK{Kty: "OKP", Crv: "Ed25519", X: b64(k.Bytes()), Alg: "EdDSA"}, nil
	case cose.AlgES256:
		ec := k.Crypto().(*ecdsa.PublicKey)
		x, y := make([]byte, 32), make([]byte, 32)
		ec.X.FillBytes(x)
		ec.Y.FillBytes(y)
		return &JWK{Kty: "EC", Crv: "P-256", X: b64(x), Y: b64(y), Alg: "ES256"}, nil
	}
	return nil, fmt.Errorf("%w: %v", cose.ErrUnsupportedAlg, k.Alg())
}

const b58alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// base58 encodes b in the Bitcoin alphabet.
func base58(b []byte) string {
	zeros := 0
	for zeros < len(b) && b[zeros] == 0 {
		zeros++
	}
	// Repeated division of the big-endian number by 58.
	num := append([]byte(nil), b[zeros:]...)
	var out []byte
	for len(num) > 0 {
		var rem int
		q := num[:0]
		for _, c := range num {
			acc := rem*256 + int(c)
			d := acc / 58
			rem = acc % 58
			if len(q) > 0 || d > 0 {
				q = append(q, byte(d))
			}
		}
		out = append(out, b58alphabet[rem])
		num = q
	}
	for i := 0; i < zeros; i++ {
		out = append(out, '1')
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}

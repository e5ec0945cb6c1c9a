// Package seal seals data that a provider hands one of its entities (a
// credential, configuration, a network secret, an enrollment ticket) to
// the entity's key-agreement key with HPKE (RFC 9180, Go's crypto/hpke),
// in an envelope that the provider's admin key signs, so that the entity
// knows who sealed it. The envelope travels off the ledger (see
// docs/privacy.md, "Sealed provisioning data"): the ledger holds only
// the public key-agreement key.
//
// The envelope is a COSE_Sign1 (RFC 9052; EdDSA or ES256; kid, in the
// protected header, the DID URL of the provider's admin key) whose
// payload is the deterministic CBOR of an Envelope, format version 1. The
// HPKE suite is DHKEM(X25519, HKDF-SHA256) or DHKEM(P-256, HKDF-SHA256)
// after the recipient key, HKDF-SHA256, and AES-128-GCM (the default) or
// ChaCha20Poly1305, in Base mode; the HPKE info binds the network, the
// provider and the recipient key, and the AEAD's associated data binds
// the rest of the envelope.
//
//	env, err := seal.Seal(adminSigner, adminKid, seal.Recipient{Key: devKid, Pub: devAgreementKey}, data, seal.Options{})
//	got, err := seal.Open(env, devKid, devAgreementPriv, providerKeys)
package seal

import (
	"crypto/ecdh"
	"crypto/hpke"
	"errors"
	"fmt"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
)

// Version is the envelope format version.
const Version = 1

// Limits. The plaintext is provisioning data, not bulk transfer.
const (
	MaxPlaintext = 16 << 10
	// MaxEnvelope bounds an envelope: the plaintext, its AEAD tag, an
	// encapsulated key, the header and the signature.
	MaxEnvelope  = MaxPlaintext + 2048
	MaxTypeLen   = 64
	aeadOverhead = 16
)

// HPKE identifiers (RFC 9180 section 7) of the suites an envelope uses.
const (
	KDFHKDFSHA256        uint16 = 0x0001
	AEADAES128GCM        uint16 = 0x0001
	AEADChaCha20Poly1305 uint16 = 0x0003
)

// Errors that Open and Decode wrap; the message adds what is safe to say.
var (
	ErrOversized   = errors.New("seal: envelope or plaintext too large")
	ErrMalformed   = errors.New("seal: malformed envelope")
	ErrUnsupported = errors.New("seal: unsupported envelope version or suite")
	ErrNotForMe    = errors.New("seal: envelope is sealed to another key")
	ErrSender      = errors.New("seal: envelope not signed by a key of its provider")
	ErrOpen        = errors.New("seal: envelope does not open (wrong key, or tampered)")
)

// Envelope is the signed content of a sealed envelope.
type Envelope struct {
	// V is the format version (1).
	V uint64 `cbor:"1,keyasint"`
	// Network is the ledger the parties are on.
	Network string `cbor:"2,keyasint"`
	// From is the DID of the provider that sealed it.
	From string `cbor:"3,keyasint"`
	// To is the DID URL of the recipient's key-agreement key.
	To string `cbor:"4,keyasint"`
	// KEM, KDF and AEAD name the HPKE suite.
	KEM  uint16 `cbor:"5,keyasint"`
	KDF  uint16 `cbor:"6,keyasint"`
	AEAD uint16 `cbor:"7,keyasint"`
	// Enc is the encapsulated key; CT the ciphertext and its tag.
	Enc []byte `cbor:"8,keyasint"`
	CT  []byte `cbor:"9,keyasint"`
	// Type is the media type of the plaintext (optional).
	Type string `cbor:"10,keyasint,omitempty"`
	// Sealed is when it was sealed, Unix seconds (optional, informative:
	// the content carries its own validity).
	Sealed int64 `cbor:"11,keyasint,omitempty"`
}

// Recipient is the key an envelope is sealed to: the DID URL of an
// entity's key-agreement method and the key.
type Recipient struct {
	Key did.DID
	Pub op.AgreementKey
}

// Options are a sealing's optional parts.
type Options struct {
	// AEAD is AEADAES128GCM (0: the default) or AEADChaCha20Poly1305.
	AEAD uint16
	// Type is the plaintext's media type.
	Type string
	// Time is when it is sealed, Unix seconds (0: unsaid).
	Time int64
}

// Seal seals plaintext to the recipient and signs the envelope with s,
// an admin key of the provider whose DID URL is kid.
func Seal(s cose.Signer, kid did.DID, to Recipient, plaintext []byte, o Options) ([]byte, error) {
	if len(plaintext) > MaxPlaintext {
		return nil, fmt.Errorf("%w: plaintext of %d bytes, limit %d", ErrOversized, len(plaintext), MaxPlaintext)
	}
	if kid.Fragment == "" || to.Key.Fragment == "" || to.Key.Fragment != to.Pub.ID {
		return nil, errors.New("seal: the signer's kid and the recipient must be DID URLs of keys (the recipient's that of its key)")
	}
	if kid.Network != to.Key.Network {
		return nil, errors.New("seal: the provider and the recipient are on different networks")
	}
	if o.AEAD == 0 {
		o.AEAD = AEADAES128GCM
	}
	e := Envelope{V: Version, Network: kid.Network, From: kid.Base().String(), To: to.Key.String(),
		KEM: to.Pub.KEM, KDF: KDFHKDFSHA256, AEAD: o.AEAD, Type: o.Type, Sealed: o.Time}
	if err := e.checkHeader(); err != nil {
		return nil, err
	}
	pub, err := to.Pub.ECDH()
	if err != nil {
		return nil, fmt.Errorf("seal: recipient key: %w", err)
	}
	hpub, err := hpke.NewDHKEMPublicKey(pub)
	if err != nil {
		return nil, err
	}
	kdf, aead, err := suite(e.KDF, e.AEAD)
	if err != nil {
		return nil, err
	}
	info, aad, err := e.context()
	if err != nil {
		return nil, err
	}
	enc, sender, err := hpke.NewSender(hpub, kdf, aead, info)
	if err != nil {
		return nil, err
	}
	if e.CT, err = sender.Seal(aad, plaintext); err != nil {
		return nil, err
	}
	e.Enc = enc
	payload, err := op.Marshal(e)
	if err != nil {
		return nil, err
	}
	return cose.Sign1(s, []byte(kid.String()), payload, nil)
}

// Opened is what an envelope held.
type Opened struct {
	Envelope
	// Kid is the provider's admin key that signed it.
	Kid       did.DID
	Plaintext []byte
}

// SenderKey returns the public key that kid names, an admin key of the
// provider the envelope is from (kid.Base()), or an error if there is no
// such key: the caller reads the provider's keys from the ledger, and
// refuses a provider that is not the recipient's.
type SenderKey func(kid did.DID) (cose.PublicKey, error)

// Open checks an envelope sealed to me (the DID URL of the recipient's
// key-agreement key) and opens it with priv, that key's private part
// (an *ecdh.PrivateKey, or a secure element's ecdh.KeyExchanger): the
// envelope is for me, signed by the key of its provider that sender
// returns, and its ciphertext opens under its header.
func Open(envelope []byte, me did.DID, priv ecdh.KeyExchanger, sender SenderKey) (*Opened, error) {
	d, err := Decode(envelope)
	if err != nil {
		return nil, err
	}
	if d.To != me.String() {
		return nil, ErrNotForMe
	}
	pk, err := sender(d.Kid)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSender, err)
	}
	if err := d.msg.Verify(pk, nil); err != nil {
		return nil, fmt.Errorf("%w: the signature does not verify", ErrSender)
	}
	hpriv, err := hpke.NewDHKEMPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	if hpriv.KEM().ID() != d.KEM {
		return nil, fmt.Errorf("%w: sealed with KEM 0x%04x to a key of KEM 0x%04x", ErrOpen, d.KEM, hpriv.KEM().ID())
	}
	info, aad, err := d.context()
	if err != nil {
		return nil, err
	}
	if d.Plaintext, err = open(hpriv, d.KDF, d.AEAD, info, aad, d.Enc, d.CT); err != nil {
		return nil, err
	}
	return &d.Opened, nil
}

// open is HPKE's single-shot open (Base mode, sequence number 0).
func open(k hpke.PrivateKey, kdfID, aeadID uint16, info, aad, enc, ct []byte) ([]byte, error) {
	kdf, aead, err := suite(kdfID, aeadID)
	if err != nil {
		return nil, err
	}
	r, err := hpke.NewRecipient(enc, k, kdf, aead, info)
	if err != nil {
		return nil, ErrOpen
	}
	pt, err := r.Open(aad, ct)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// suite returns the KDF and AEAD an envelope may name.
func suite(kdfID, aeadID uint16) (hpke.KDF, hpke.AEAD, error) {
	if kdfID != KDFHKDFSHA256 {
		return nil, nil, fmt.Errorf("%w: KDF 0x%04x", ErrUnsupported, kdfID)
	}
	switch aeadID {
	case AEADAES128GCM:
		return hpke.HKDFSHA256(), hpke.AES128GCM(), nil
	case AEADChaCha20Poly1305:
		return hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), nil
	}
	return nil, nil, fmt.Errorf("%w: AEAD 0x%04x", ErrUnsupported, aeadID)
}

// context returns the HPKE info (the network, the provider, the
// recipient key, under a label) and the associated data (the rest of
// the header: the envelope without its encapsulated key and ciphertext).
func (e Envelope) context() (info, aad []byte, err error) {
	info, err = op.Marshal([]string{"bias-seal-v1", e.Network, e.From, e.To})
	if err != nil {
		return nil, nil, err
	}
	h := e
	h.Enc, h.CT = nil, nil
	aad, err = op.Marshal(h)
	return info, aad, err
}

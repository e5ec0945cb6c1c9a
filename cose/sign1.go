// Package cose implements COSE_Sign1 and COSE_Sign (RFC 9052) with the two algorithms bias
// accepts, EdDSA (Ed25519) and ES256 (ECDSA P-256), and the public keys they
// use. Decoding is strict: definite lengths only, no duplicate map keys,
// bounded sizes; a signature is checked over the protected header bytes
// exactly as received.
//
//	msg, _ := cose.Sign1(signer, []byte("did:bias:local:...#k1"), payload, nil)
//	m, err := cose.Decode(msg)
//	if err == nil { err = m.Verify(pub, nil) }
package cose

import (
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Header labels (RFC 9052 section 3.1).
const (
	labelAlg  = 1
	labelCrit = 2
	labelKid  = 4
)

// TagSign1 is the CBOR tag of a COSE_Sign1 message.
const TagSign1 = 18

// MaxMessage bounds the size of a message that Decode accepts.
const MaxMessage = 1 << 20

// Errors that callers branch on.
var (
	ErrMalformed    = errors.New("malformed COSE_Sign1")
	ErrBadSignature = errors.New("signature does not verify")
)

var (
	decMode cbor.DecMode
	encMode cbor.EncMode
)

func init() {
	var err error
	decMode, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		MaxNestedLevels:   8,
		MaxArrayElements:  1024,
		MaxMapPairs:       64,
		UTF8:              cbor.UTF8RejectInvalid,
		DefaultMapType:    nil,
		IntDec:            cbor.IntDecConvertSigned,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	encMode, err = cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
}

// Message is a decoded COSE_Sign1, or one signature of a COSE_Sign
// with the payload (DecodeAll).
type Message struct {
	// Protected is the protected header bucket as received (the bstr contents).
	Protected []byte
	Alg       Alg
	// Kid is the key id from the protected header, or else the unprotected one.
	Kid []byte
	// KidProtected tells whether Kid came from the protected header.
	KidProtected bool
	Payload      []byte
	Signature    []byte
	// Unprotected is the unprotected header bucket, each value as
	// received (SD-CWT carries its disclosures there).
	Unprotected map[int64]cbor.RawMessage
	// multi marks one signature of a COSE_Sign (DecodeAll), whose
	// Sig_structure also covers body, the message's protected header.
	multi bool
	body  []byte
}

// Multi reports whether m is one signature of a COSE_Sign.
func (m *Message) Multi() bool { return m.multi }

type sign1Array struct {
	_           struct{} `cbor:",toarray"`
	Protected   bstr
	Unprotected map[int64]cbor.RawMessage
	Payload     bstr
	Signature   bstr
}

// bstr is a []byte that decodes only from a CBOR byte string or null. A plain
// []byte would also take an array of small integers or a tagged value.
type bstr []byte

func (b *bstr) UnmarshalCBOR(data []byte) error {
	if len(data) > 0 && data[0] == 0xf6 { // null
		*b = nil
		return nil
	}
	if len(data) == 0 || data[0]>>5 != 2 {
		return errors.New("not a byte string")
	}
	var v []byte
	if err := decMode.Unmarshal(data, &v); err != nil {
		return err
	}
	*b = v
	return nil
}

// protectedHeader is the encoded protected header of a signature by s:
// its alg, and kid unless nil.
func protectedHeader(s Signer, kid []byte) ([]byte, error) {
	hdr := map[int64]any{labelAlg: int64(s.Public().Alg())}
	if kid != nil {
		hdr[labelKid] = kid
	}
	return encMode.Marshal(hdr)
}

// Sign1 builds a tagged COSE_Sign1 with alg and kid in the protected header.
func Sign1(s Signer, kid, payload, externalAAD []byte) ([]byte, error) {
	return Sign1Headers(s, kid, nil, nil, payload, externalAAD)
}

// Sign1Headers is Sign1 with more protected header parameters (beside
// alg and kid, which it sets) and unprotected ones.
func Sign1Headers(s Signer, kid []byte, protected, unprotected map[int64]any, payload, externalAAD []byte) ([]byte, error) {
	if payload == nil {
		payload = []byte{} // a nil []byte would encode as null, the detached form
	}
	hdr := map[int64]any{labelAlg: int64(s.Public().Alg())}
	for k, v := range protected {
		if k == labelAlg || k == labelKid || k == labelCrit {
			return nil, fmt.Errorf("header %d is Sign1's to set", k)
		}
		hdr[k] = v
	}
	if kid != nil {
		hdr[labelKid] = kid
	}
	unprot := map[int64]cbor.RawMessage{}
	for k, v := range unprotected {
		if _, dup := hdr[k]; dup || k == labelCrit {
			return nil, fmt.Errorf("header %d in both buckets", k)
		}
		b, err := encMode.Marshal(v)
		if err != nil {
			return nil, err
		}
		unprot[k] = b
	}
	prot, err := encMode.Marshal(hdr)
	if err != nil {
		return nil, err
	}
	tbs, err := toBeSigned(prot, externalAAD, payload)
	if err != nil {
		return nil, err
	}
	sig, err := s.SignMessage(tbs)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return encMode.Marshal(cbor.Tag{Number: TagSign1, Content: sign1Array{
		Protected: prot, Unprotected: unprot, Payload: payload, Signature: sig,
	}})
}

// Decode parses a COSE_Sign1, tagged (18) or untagged. It does not verify.
func Decode(b []byte) (*Message, error) {
	if len(b) > MaxMessage {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, MaxMessage)
	}
	body := b
	var raw cbor.RawTag
	if len(b) > 0 && b[0]>>5 == 6 { // major type 6: a tag
		if err := decMode.Unmarshal(b, &raw); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if raw.Number != TagSign1 {
			return nil, fmt.Errorf("%w: tag %d, want %d", ErrMalformed, raw.Number, TagSign1)
		}
		body = raw.Content
		if len(body) == 0 || body[0]>>5 != 4 { // the tag must hold the array itself
			return nil, fmt.Errorf("%w: tag %d does not hold an array", ErrMalformed, TagSign1)
		}
	}
	var a sign1Array
	if err := decMode.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if a.Payload == nil {
		return nil, fmt.Errorf("%w: detached payload is not supported", ErrMalformed)
	}
	if a.Signature == nil {
		return nil, fmt.Errorf("%w: missing signature", ErrMalformed)
	}
	m := &Message{Protected: a.Protected, Payload: a.Payload, Signature: a.Signature, Unprotected: a.Unprotected}
	if err := m.headers(a.Protected, a.Unprotected); err != nil {
		return nil, err
	}
	return m, nil
}

// headers reads alg and kid from a signature's header buckets.
func (m *Message) headers(protected []byte, unprotected map[int64]cbor.RawMessage) error {
	var prot map[int64]cbor.RawMessage
	if len(protected) > 0 {
		if err := decMode.Unmarshal(protected, &prot); err != nil {
			return fmt.Errorf("%w: protected header: %v", ErrMalformed, err)
		}
	}
	if _, ok := prot[labelCrit]; ok {
		return fmt.Errorf("%w: critical headers are not supported", ErrMalformed)
	}
	algRaw, ok := prot[labelAlg]
	if !ok {
		return fmt.Errorf("%w: protected header has no alg", ErrMalformed)
	}
	if _, dup := unprotected[labelAlg]; dup {
		return fmt.Errorf("%w: alg in both header buckets", ErrMalformed)
	}
	var alg int64
	if err := decMode.Unmarshal(algRaw, &alg); err != nil {
		return fmt.Errorf("%w: alg is not an integer", ErrMalformed)
	}
	m.Alg = Alg(alg)
	if k, ok := prot[labelKid]; ok {
		if _, dup := unprotected[labelKid]; dup {
			return fmt.Errorf("%w: kid in both header buckets", ErrMalformed)
		}
		if err := decMode.Unmarshal(k, (*bstr)(&m.Kid)); err != nil || m.Kid == nil {
			return fmt.Errorf("%w: kid is not a byte string", ErrMalformed)
		}
		m.KidProtected = true
	} else if k, ok := unprotected[labelKid]; ok {
		if err := decMode.Unmarshal(k, (*bstr)(&m.Kid)); err != nil || m.Kid == nil {
			return fmt.Errorf("%w: kid is not a byte string", ErrMalformed)
		}
	}
	return nil
}

// ToBeSigned returns the Sig_structure bytes that the signature covers.
func (m *Message) ToBeSigned(externalAAD []byte) ([]byte, error) {
	if m.multi {
		return signStructure(m.body, m.Protected, externalAAD, m.Payload)
	}
	return toBeSigned(m.Protected, externalAAD, m.Payload)
}

// Verify checks the signature with k, whose algorithm must match the header.
func (m *Message) Verify(k PublicKey, externalAAD []byte) error {
	if k.Alg() != m.Alg {
		return fmt.Errorf("%w: message alg %v, key alg %v", ErrBadSignature, m.Alg, k.Alg())
	}
	tbs, err := m.ToBeSigned(externalAAD)
	if err != nil {
		return err
	}
	if !k.Verify(tbs, m.Signature) {
		return ErrBadSignature
	}
	return nil
}

func toBeSigned(protected, externalAAD, payload []byte) ([]byte, error) {
	if externalAAD == nil {
		externalAAD = []byte{}
	}
	if protected == nil {
		protected = []byte{}
	}
	if payload == nil {
		payload = []byte{}
	}
	return encMode.Marshal([]any{"Signature1", protected, externalAAD, payload})
}

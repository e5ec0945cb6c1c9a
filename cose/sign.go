package cose

import (
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// COSE_Sign (RFC 9052 section 4.1): one payload, several signatures, each
// with its own protected header (alg, kid). bias uses it for an
// operation that a threshold of a provider's admin keys must sign; the
// body's own header buckets are empty (every signature's header names
// its key and algorithm).

// TagSign is the CBOR tag of a COSE_Sign message.
const TagSign = 98

// MaxSignatures bounds the signatures of a COSE_Sign that DecodeAll
// accepts.
const MaxSignatures = 16

type signArray struct {
	_           struct{} `cbor:",toarray"`
	Protected   bstr
	Unprotected map[int64]cbor.RawMessage
	Payload     bstr
	Signatures  []cbor.RawMessage
}

type signatureArray struct {
	_           struct{} `cbor:",toarray"`
	Protected   bstr
	Unprotected map[int64]cbor.RawMessage
	Signature   bstr
}

// Sign builds a tagged COSE_Sign of payload with one signature per
// signer, kids[i] in the protected header of signers[i]'s signature.
func Sign(signers []Signer, kids [][]byte, payload, externalAAD []byte) ([]byte, error) {
	if len(signers) == 0 || len(signers) != len(kids) || len(signers) > MaxSignatures {
		return nil, fmt.Errorf("cose sign: 1 to %d signers, each with a kid", MaxSignatures)
	}
	if payload == nil {
		payload = []byte{}
	}
	a := signArray{Protected: []byte{}, Unprotected: map[int64]cbor.RawMessage{}, Payload: payload, Signatures: []cbor.RawMessage{}}
	out, err := encMode.Marshal(cbor.Tag{Number: TagSign, Content: a})
	if err != nil {
		return nil, err
	}
	for i, s := range signers {
		if out, err = Cosign(out, s, kids[i], externalAAD); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Cosign adds a signature by s (its key named by kid) to the COSE_Sign
// msg, which may hold no signature yet; the signatures already there are
// kept as they are.
func Cosign(msg []byte, s Signer, kid, externalAAD []byte) ([]byte, error) {
	a, err := decodeSign(msg)
	if err != nil {
		return nil, err
	}
	if len(a.Signatures) >= MaxSignatures {
		return nil, fmt.Errorf("%w: already %d signatures", ErrMalformed, MaxSignatures)
	}
	prot, err := protectedHeader(s, kid)
	if err != nil {
		return nil, err
	}
	tbs, err := signStructure(a.Protected, prot, externalAAD, a.Payload)
	if err != nil {
		return nil, err
	}
	sig, err := s.SignMessage(tbs)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	raw, err := encMode.Marshal(signatureArray{Protected: prot, Unprotected: map[int64]cbor.RawMessage{}, Signature: sig})
	if err != nil {
		return nil, err
	}
	a.Signatures = append(a.Signatures, raw)
	return encMode.Marshal(cbor.Tag{Number: TagSign, Content: a})
}

// decodeSign parses a tagged COSE_Sign (the tag is required: it is what
// tells the two forms apart) with an empty body protected header and an
// attached payload.
func decodeSign(b []byte) (*signArray, error) {
	if len(b) > MaxMessage {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, MaxMessage)
	}
	var raw cbor.RawTag
	if err := decMode.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if raw.Number != TagSign || len(raw.Content) == 0 || raw.Content[0]>>5 != 4 {
		return nil, fmt.Errorf("%w: not a tagged COSE_Sign", ErrMalformed)
	}
	var a signArray
	if err := decMode.Unmarshal(raw.Content, &a); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if a.Payload == nil {
		return nil, fmt.Errorf("%w: detached payload is not supported", ErrMalformed)
	}
	if len(a.Protected) != 0 || len(a.Unprotected) != 0 {
		return nil, fmt.Errorf("%w: a COSE_Sign's body headers must be empty (each signature names its alg and kid)", ErrMalformed)
	}
	if a.Signatures == nil {
		return nil, fmt.Errorf("%w: missing signatures", ErrMalformed)
	}
	return &a, nil
}

// DecodeAll parses a COSE_Sign1 (tagged 18 or untagged) or a tagged
// COSE_Sign (98), and returns one Message per signature, in order; each
// verifies on its own (Verify) and carries the one payload. It does not
// verify. A COSE_Sign holds 1 to MaxSignatures signatures.
func DecodeAll(b []byte) ([]*Message, error) {
	if len(b) < 2 || b[0] != 0xd8 || b[1] != TagSign {
		m, err := Decode(b)
		if err != nil {
			return nil, err
		}
		return []*Message{m}, nil
	}
	a, err := decodeSign(b)
	if err != nil {
		return nil, err
	}
	if len(a.Signatures) == 0 || len(a.Signatures) > MaxSignatures {
		return nil, fmt.Errorf("%w: a COSE_Sign carries 1 to %d signatures", ErrMalformed, MaxSignatures)
	}
	out := make([]*Message, len(a.Signatures))
	for i, rs := range a.Signatures {
		var s signatureArray
		if err := decMode.Unmarshal(rs, &s); err != nil {
			return nil, fmt.Errorf("%w: signature %d: %v", ErrMalformed, i, err)
		}
		if s.Signature == nil {
			return nil, fmt.Errorf("%w: signature %d is missing", ErrMalformed, i)
		}
		m := &Message{Protected: s.Protected, Payload: a.Payload, Signature: s.Signature, multi: true, body: a.Protected}
		if err := m.headers(s.Protected, s.Unprotected); err != nil {
			return nil, fmt.Errorf("signature %d: %w", i, err)
		}
		out[i] = m
	}
	return out, nil
}

// signStructure is the Sig_structure of a COSE_Sign signature.
func signStructure(body, sign, externalAAD, payload []byte) ([]byte, error) {
	if externalAAD == nil {
		externalAAD = []byte{}
	}
	if body == nil {
		body = []byte{}
	}
	if sign == nil {
		return nil, errors.New("cose sign: a signature needs a protected header")
	}
	return encMode.Marshal([]any{"Signature", body, sign, externalAAD, payload})
}

package seal

import (
	"fmt"
	"unicode/utf8"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
)

// Decoded is an envelope whose form Decode checked; its signature and
// ciphertext are not checked yet (Open does).
type Decoded struct {
	Opened
	msg *cose.Message
}

// Decode parses an envelope and checks its form: size, a COSE_Sign1 by
// an EdDSA or ES256 key whose DID URL is in the protected header, a
// payload in deterministic CBOR, version 1, a suite this package opens,
// a header whose parties are DIDs of one network, the signer a key of
// the provider the envelope is from.
func Decode(envelope []byte) (*Decoded, error) {
	if len(envelope) > MaxEnvelope {
		return nil, fmt.Errorf("%w: envelope of %d bytes, limit %d", ErrOversized, len(envelope), MaxEnvelope)
	}
	m, err := cose.Decode(envelope)
	if err != nil {
		return nil, fmt.Errorf("%w: not a COSE_Sign1", ErrMalformed)
	}
	if m.Alg != cose.AlgEdDSA && m.Alg != cose.AlgES256 {
		return nil, fmt.Errorf("%w: signature algorithm %v", ErrUnsupported, m.Alg)
	}
	kid, err := did.Parse(string(m.Kid))
	if !m.KidProtected || err != nil || kid.Fragment == "" {
		return nil, fmt.Errorf("%w: the protected kid must be the DID URL of a key", ErrMalformed)
	}
	d := &Decoded{msg: m, Opened: Opened{Kid: kid}}
	if err := op.Unmarshal(m.Payload, &d.Envelope); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	if err := d.checkHeader(); err != nil {
		return nil, err
	}
	if d.From != kid.Base().String() {
		return nil, fmt.Errorf("%w: signed by a key of another DID than the sender's", ErrMalformed)
	}
	if len(d.CT) < aeadOverhead || len(d.CT) > MaxPlaintext+aeadOverhead {
		return nil, fmt.Errorf("%w: ciphertext of %d bytes", ErrOversized, len(d.CT))
	}
	if want := map[uint16]int{op.KEMX25519: 32, op.KEMP256: 65}[d.KEM]; len(d.Enc) != want {
		return nil, fmt.Errorf("%w: encapsulated key of %d bytes", ErrMalformed, len(d.Enc))
	}
	return d, nil
}

// checkHeader checks an envelope's header (all but Enc and CT).
func (e *Envelope) checkHeader() error {
	if e.V != Version {
		return fmt.Errorf("%w: version %d", ErrUnsupported, e.V)
	}
	if e.KEM != op.KEMX25519 && e.KEM != op.KEMP256 {
		return fmt.Errorf("%w: KEM 0x%04x", ErrUnsupported, e.KEM)
	}
	if _, _, err := suite(e.KDF, e.AEAD); err != nil {
		return err
	}
	if err := did.ValidateNetwork(e.Network); err != nil {
		return fmt.Errorf("%w: network", ErrMalformed)
	}
	from, err := did.ParseNoFragment(e.From)
	if err != nil || from.Network != e.Network {
		return fmt.Errorf("%w: from must be a DID of the envelope's network", ErrMalformed)
	}
	to, err := did.Parse(e.To)
	if err != nil || to.Fragment == "" || to.Network != e.Network {
		return fmt.Errorf("%w: to must be the DID URL of a key on the envelope's network", ErrMalformed)
	}
	if len(e.Type) > MaxTypeLen || !utf8.ValidString(e.Type) {
		return fmt.Errorf("%w: type of at most %d bytes of UTF-8", ErrMalformed, MaxTypeLen)
	}
	if e.Sealed < 0 {
		return fmt.Errorf("%w: negative time", ErrMalformed)
	}
	return nil
}

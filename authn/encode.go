package authn

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/jws"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdjwt"
)

// CBOR payloads: the signer's DID is the kid's; the network is the kid's.
type challengeCBOR struct {
	Nonce    []byte   `cbor:"1,keyasint"`
	IssuedAt int64    `cbor:"2,keyasint"`
	Expires  int64    `cbor:"3,keyasint"`
	Origin   string   `cbor:"4,keyasint"`
	Required []string `cbor:"5,keyasint,omitempty"`
	Optional []string `cbor:"6,keyasint,omitempty"`
}

// proofCBOR carries no origin: its signature covers it (proofAAD), and
// the verifier knows the origin it expects.
type proofCBOR struct {
	Service      []byte `cbor:"1,keyasint"` // the service DID's 20 suffix bytes
	ServiceNonce []byte `cbor:"2,keyasint"`
	DeviceNonce  []byte `cbor:"3,keyasint"`
	IssuedAt     int64  `cbor:"4,keyasint"`
}

// JWT claims.
type challengeJWT struct {
	Iss    string `json:"iss"`
	Net    string `json:"net"`
	Origin string `json:"origin"`
	Nonce  string `json:"nonce"`
	Iat    int64  `json:"iat"`
	Exp    int64  `json:"exp"`
	// Claims asked of the device's credential.
	Req []string `json:"req,omitempty"`
	Opt []string `json:"opt,omitempty"`
}

type proofJWT struct {
	Iss    string `json:"iss"`
	Aud    string `json:"aud"`
	Origin string `json:"origin"`
	Nonce  string `json:"nonce"`
	DN     string `json:"dn"`
	Iat    int64  `json:"iat"`
}

// proofKB is a proof that carries a credential: the presentation's KB-JWT
// (RFC 9901 section 4.3), whose aud is the service and nonce the
// challenge's, with the proof's other claims.
type proofKB struct {
	Iss    string `json:"iss"`
	Aud    string `json:"aud"`
	Origin string `json:"origin"`
	Nonce  string `json:"nonce"`
	DN     string `json:"dn"`
	Iat    int64  `json:"iat"`
	SDHash string `json:"sd_hash"`
}

type jwsHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

var b64 = base64.RawURLEncoding

// SignChallenge encodes and signs a challenge with the service's key.
func SignChallenge(s cose.Signer, c *Challenge, enc Encoding) ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	switch enc {
	case COSE:
		payload, err := op.Marshal(challengeCBOR{Nonce: c.Nonce, IssuedAt: c.IssuedAt, Expires: c.Expires, Origin: c.Origin, Required: c.Claims.Required, Optional: c.Claims.Optional})
		if err != nil {
			return nil, err
		}
		return cose.Sign1(s, []byte(c.Kid.String()), payload, aadChallenge)
	case JWS:
		return signJWS(s, c.Kid, TypChallenge, challengeJWT{
			Iss: c.Service.String(), Net: c.Network, Origin: c.Origin, Nonce: b64.EncodeToString(c.Nonce), Iat: c.IssuedAt, Exp: c.Expires,
			Req: c.Claims.Required, Opt: c.Claims.Optional,
		})
	}
	return nil, fmt.Errorf("unknown encoding %q", enc)
}

// SignProof encodes and signs a proof with the device's key.
func SignProof(s cose.Signer, p *Proof, enc Encoding) ([]byte, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	switch enc {
	case COSE:
		if p.Presentation != nil {
			return signKBT(s, p)
		}
		payload, err := op.Marshal(proofCBOR{Service: p.Service.SuffixBytes(), ServiceNonce: p.ServiceNonce, DeviceNonce: p.DeviceNonce, IssuedAt: p.IssuedAt})
		if err != nil {
			return nil, err
		}
		return cose.Sign1(s, []byte(p.Kid.String()), payload, proofAAD(p.Origin))
	case JWS:
		if p.Presentation != nil {
			return signKB(s, p)
		}
		return signJWS(s, p.Kid, TypProof, proofJWT{
			Iss: p.Device.String(), Aud: p.Service.String(), Origin: p.Origin, Nonce: b64.EncodeToString(p.ServiceNonce),
			DN: b64.EncodeToString(p.DeviceNonce), Iat: p.IssuedAt,
		})
	}
	return nil, fmt.Errorf("unknown encoding %q", enc)
}

// Signed is a decoded message whose signature is still to be checked
// with the key its Kid names.
type Signed struct {
	Encoding Encoding
	Kid      did.DID
	Alg      cose.Alg
	verify   func(cose.PublicKey) bool
}

// Verify checks the signature with k.
func (s *Signed) Verify(k cose.PublicKey) bool { return k.Alg() == s.Alg && s.verify(k) }

// DetectEncoding tells the two wire forms apart: a JWS is ASCII with two
// dots; an SD-JWT+KB (a JWS proof that carries a credential) has ~.
func DetectEncoding(b []byte) Encoding {
	if len(b) > 0 && b[0] == 'e' && (bytes.Count(b, []byte{'.'}) == 2 || bytes.IndexByte(b, '~') > 0) {
		return JWS
	}
	return COSE
}

// EncodeText renders a message (challenge, proof, session token) as text,
// for an HTTP header or a JSON string: a JWS as it is, a COSE message in
// base64url without padding (RFC 4648 section 5).
func EncodeText(b []byte) string {
	if DetectEncoding(b) == JWS {
		return string(b)
	}
	return b64.EncodeToString(b)
}

// DecodeText reads the text form EncodeText writes. It checks the form
// only: the message itself is decoded and verified by the caller.
func DecodeText(s string) ([]byte, error) {
	if len(s) > 4*MaxMessage {
		return nil, fmt.Errorf("%w: text form larger than %d bytes", ErrMalformed, 4*MaxMessage)
	}
	if DetectEncoding([]byte(s)) == JWS {
		return []byte(s), nil
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: a COSE message in text is base64url without padding", ErrMalformed)
	}
	return b, nil
}

// DecodeChallenge decodes a challenge in either encoding (not verified).
func DecodeChallenge(b []byte) (*Challenge, *Signed, error) {
	if len(b) > MaxMessage {
		return nil, nil, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, MaxMessage)
	}
	var c Challenge
	var s *Signed
	if DetectEncoding(b) == JWS {
		var claims challengeJWT
		var err error
		if s, err = decodeJWS(b, TypChallenge, &claims); err != nil {
			return nil, nil, err
		}
		svc, err := did.ParseNoFragment(claims.Iss)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: iss: %v", ErrMalformed, err)
		}
		nonce, err := b64.DecodeString(claims.Nonce)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: nonce", ErrMalformed)
		}
		c = Challenge{Service: svc, Kid: s.Kid, Network: claims.Net, Origin: claims.Origin, Nonce: nonce, IssuedAt: claims.Iat, Expires: claims.Exp,
			Claims: ClaimRequest{Required: claims.Req, Optional: claims.Opt}}
	} else {
		m, kid, err := decodeCOSE(b)
		if err != nil {
			return nil, nil, err
		}
		var pl challengeCBOR
		if err := op.Unmarshal(m.Payload, &pl); err != nil {
			return nil, nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
		}
		c = Challenge{Service: kid.Base(), Kid: kid, Network: kid.Network, Origin: pl.Origin, Nonce: pl.Nonce, IssuedAt: pl.IssuedAt, Expires: pl.Expires,
			Claims: ClaimRequest{Required: pl.Required, Optional: pl.Optional}}
		s = &Signed{Encoding: COSE, Kid: kid, Alg: m.Alg, verify: func(k cose.PublicKey) bool { return m.Verify(k, aadChallenge) == nil }}
	}
	if err := c.check(); err != nil {
		return nil, nil, err
	}
	return &c, s, nil
}

// DecodeProof decodes a proof in either encoding (not verified). origin is
// the origin the verifier expects the proof to be made for (its own, or
// that of the challenge the proof answers): a COSE proof does not carry
// its origin, and is decoded as made for this one (its signature covers
// it: a proof made for another origin does not verify); a JWS proof
// carries its own, which the caller compares with origin.
func DecodeProof(b []byte, origin string) (*Proof, *Signed, error) {
	if len(b) > MaxPresentation {
		return nil, nil, fmt.Errorf("%w: %w: larger than %d bytes", ErrMalformed, sdjwt.ErrOversized, MaxPresentation)
	}
	var p Proof
	var s *Signed
	if DetectEncoding(b) == JWS && bytes.IndexByte(b, '~') >= 0 {
		var err error
		if p, s, err = decodeKB(b); err != nil {
			return nil, nil, err
		}
	} else if DetectEncoding(b) == COSE && len(b) > MaxMessage && !isKBT(b) {
		return nil, nil, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, MaxMessage)
	} else if len(b) > MaxMessage && DetectEncoding(b) == JWS {
		return nil, nil, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, MaxMessage)
	} else if DetectEncoding(b) == JWS {
		var claims proofJWT
		var err error
		if s, err = decodeJWS(b, TypProof, &claims); err != nil {
			return nil, nil, err
		}
		dev, err1 := did.ParseNoFragment(claims.Iss)
		svc, err2 := did.ParseNoFragment(claims.Aud)
		sn, err3 := b64.DecodeString(claims.Nonce)
		dn, err4 := b64.DecodeString(claims.DN)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			return nil, nil, fmt.Errorf("%w: iss, aud, nonce or dn", ErrMalformed)
		}
		p = Proof{Device: dev, Kid: s.Kid, Service: svc, Origin: claims.Origin, ServiceNonce: sn, DeviceNonce: dn, IssuedAt: claims.Iat}
	} else {
		m, kid, err := decodeCOSE(b)
		if err != nil {
			return nil, nil, err
		}
		if kcwt, err := kbtOf(m); err != nil {
			return nil, nil, err
		} else if kcwt != nil {
			if p, err = decodeKBT(m, kid, kcwt, origin); err != nil {
				return nil, nil, err
			}
			aad := proofAAD(origin)
			s = &Signed{Encoding: COSE, Kid: kid, Alg: m.Alg, verify: func(k cose.PublicKey) bool { return m.Verify(k, aad) == nil }}
			if err := p.check(); err != nil {
				return nil, nil, err
			}
			return &p, s, nil
		}
		var pl proofCBOR
		if err := op.Unmarshal(m.Payload, &pl); err != nil {
			return nil, nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
		}
		svc, err := did.FromSuffixBytes(kid.Network, pl.Service)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: service: %v", ErrMalformed, err)
		}
		p = Proof{Device: kid.Base(), Kid: kid, Service: svc, Origin: origin, ServiceNonce: pl.ServiceNonce, DeviceNonce: pl.DeviceNonce, IssuedAt: pl.IssuedAt}
		aad := proofAAD(origin)
		s = &Signed{Encoding: COSE, Kid: kid, Alg: m.Alg, verify: func(k cose.PublicKey) bool { return m.Verify(k, aad) == nil }}
	}
	if err := p.check(); err != nil {
		return nil, nil, err
	}
	return &p, s, nil
}

func decodeCOSE(b []byte) (*cose.Message, did.DID, error) {
	m, err := cose.Decode(b)
	if err != nil {
		return nil, did.DID{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if m.Alg != cose.AlgEdDSA && m.Alg != cose.AlgES256 {
		return nil, did.DID{}, fmt.Errorf("%w: algorithm %v", ErrMalformed, m.Alg)
	}
	if !m.KidProtected {
		return nil, did.DID{}, fmt.Errorf("%w: kid must be protected", ErrMalformed)
	}
	kid, err := did.Parse(string(m.Kid))
	if err != nil || kid.Fragment == "" {
		return nil, did.DID{}, fmt.Errorf("%w: kid must be the DID URL of a key", ErrMalformed)
	}
	return m, kid, nil
}

func signJWS(s cose.Signer, kid did.DID, typ string, claims any) ([]byte, error) {
	return signCompact(s, jwsHeader{Alg: s.Public().Alg().String(), Kid: kid.String(), Typ: typ}, claims)
}

// signCompact signs a compact JWS of a header and claims.
func signCompact(s cose.Signer, header, claims any) ([]byte, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return nil, err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return nil, err
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	sig, err := s.SignMessage([]byte(input))
	if err != nil {
		return nil, err
	}
	return []byte(input + "." + b64.EncodeToString(sig)), nil
}

func decodeJWS(b []byte, typ string, claims any) (*Signed, error) {
	c, err := jws.Split(string(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	var h jwsHeader
	if err := strictJSON(c.Header, &h); err != nil {
		return nil, fmt.Errorf("%w: JWS header: %v", ErrMalformed, err)
	}
	if h.Typ != typ {
		return nil, fmt.Errorf("%w: typ %.40q, want %s", ErrMalformed, h.Typ, typ)
	}
	alg, err := cose.ParseAlg(h.Alg)
	if err != nil {
		return nil, fmt.Errorf("%w: alg: %v", ErrMalformed, err)
	}
	kid, err := did.Parse(h.Kid)
	if err != nil || kid.Fragment == "" {
		return nil, fmt.Errorf("%w: kid must be the DID URL of a key", ErrMalformed)
	}
	if err := strictJSON(c.Payload, claims); err != nil {
		return nil, fmt.Errorf("%w: JWS claims: %v", ErrMalformed, err)
	}
	input, sig := []byte(c.SigningInput), c.Signature
	return &Signed{Encoding: JWS, Kid: kid, Alg: alg, verify: func(k cose.PublicKey) bool { return k.Verify(input, sig) }}, nil
}

// signKB signs a proof that carries a credential: the SD-JWT+KB whose
// KB-JWT is the proof.
func signKB(s cose.Signer, p *Proof) ([]byte, error) {
	prefix := sdjwt.Present(p.Presentation.JWT, p.Presentation.Disclosures)
	if len(prefix) > MaxPresentation-MaxMessage {
		return nil, fmt.Errorf("%w: a presentation of more than %d bytes", sdjwt.ErrOversized, MaxPresentation-MaxMessage)
	}
	kb, err := signJWS(s, p.Kid, TypKB, proofKB{
		Iss: p.Device.String(), Aud: p.Service.String(), Origin: p.Origin, Nonce: b64.EncodeToString(p.ServiceNonce),
		DN: b64.EncodeToString(p.DeviceNonce), Iat: p.IssuedAt, SDHash: sdjwt.Digest(prefix),
	})
	if err != nil {
		return nil, err
	}
	return append([]byte(prefix), kb...), nil
}

// decodeKB decodes an SD-JWT+KB proof: the presentation, and its KB-JWT,
// which must sign the presentation's sd_hash (not verified yet).
func decodeKB(b []byte) (Proof, *Signed, error) {
	sd, err := sdjwt.Parse(string(b))
	if err != nil {
		return Proof{}, nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if sd.KB == "" || len(sd.KB) > MaxMessage {
		return Proof{}, nil, fmt.Errorf("%w: a proof with a credential ends with its KB-JWT", ErrMalformed)
	}
	var claims proofKB
	s, err := decodeJWS([]byte(sd.KB), TypKB, &claims)
	if err != nil {
		return Proof{}, nil, err
	}
	if claims.SDHash != sd.SDHash() {
		return Proof{}, nil, fmt.Errorf("%w: %w: the proof's sd_hash is not of this presentation", ErrMalformed, sdjwt.ErrUnreferenced)
	}
	dev, err1 := did.ParseNoFragment(claims.Iss)
	svc, err2 := did.ParseNoFragment(claims.Aud)
	sn, err3 := b64.DecodeString(claims.Nonce)
	dn, err4 := b64.DecodeString(claims.DN)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return Proof{}, nil, fmt.Errorf("%w: iss, aud, nonce or dn", ErrMalformed)
	}
	pres := &Presentation{JWT: sd.IssuerJWT, Disclosures: sd.Disclosures, parsed: sd}
	return Proof{Device: dev, Kid: s.Kid, Service: svc, Origin: claims.Origin, ServiceNonce: sn, DeviceNonce: dn, IssuedAt: claims.Iat, Presentation: pres}, s, nil
}

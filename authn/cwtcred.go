package authn

import (
	"fmt"
	"io"

	"github.com/fxamacker/cbor/v2"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/sdcwt"
)

// COSE devices present an SD-CWT (draft-ietf-spice-sd-cwt): their proof
// is the SD-KBT, a COSE_Sign1 whose protected header carries typ 294
// (application/kb+cwt) and, in kcwt (13), the SD-CWT with the
// disclosures chosen in its unprotected sd_claims; its payload holds aud
// (3, the service's DID), iat (6), cnonce (39, the challenge's nonce) and
// the device's nonce (private claim -65537); its external AAD signs the
// origin, as a plain COSE proof's does. The one signature covers the
// whole SD-CWT, disclosures included.

// kbtPayload is the payload of a proof that carries an SD-CWT.
type kbtPayload struct {
	Aud         string `cbor:"3,keyasint"`
	Iat         int64  `cbor:"6,keyasint"`
	CNonce      []byte `cbor:"39,keyasint"`
	DeviceNonce []byte `cbor:"-65537,keyasint"`
}

// CWT claim keys of a bias SD-CWT credential (RFC 8392).
type cwtCredentialClaims struct {
	Iss string `cbor:"1,keyasint"`
	Sub string `cbor:"2,keyasint"`
	Exp int64  `cbor:"4,keyasint"`
	Iat int64  `cbor:"6,keyasint"`
	Cti []byte `cbor:"7,keyasint"`
}

// IssueCredentialCWT is IssueCredential for a COSE device: an SD-CWT
// signed with the provider's token key kid, iss, sub, iat, exp and cti
// (16 random bytes: the id its status is revoked by, in base64url) in
// the clear, each attribute a redacted claim (text key) with decoys. It
// returns the SD-CWT with all its disclosures, and the id.
func IssueCredentialCWT(s cose.Signer, kid string, provider, device did.DID, attrs map[string]string, now, ttl int64, rand io.Reader) ([]byte, string, error) {
	if ttl < 1 || ttl > MaxCredentialSeconds {
		return nil, "", fmt.Errorf("a credential lives 1 to %d seconds", MaxCredentialSeconds)
	}
	if len(attrs) == 0 || len(attrs) > sdcwt.MaxDisclosures-4 {
		return nil, "", fmt.Errorf("a credential holds 1 to %d attributes", sdcwt.MaxDisclosures-4)
	}
	cti := make([]byte, 16)
	if _, err := io.ReadFull(rand, cti); err != nil {
		return nil, "", err
	}
	claims := map[any]any{int64(1): provider.Base().String(), int64(2): device.Base().String(), int64(4): now + ttl, int64(6): now, int64(7): cti}
	for k, v := range attrs {
		if err := (ClaimRequest{Required: []string{k}}).Check(); err != nil {
			return nil, "", err
		}
		claims[k] = sdcwt.SD{Value: v}
	}
	tok, _, err := sdcwt.Issue(s, []byte(kid), claims, rand, 2)
	if err != nil {
		return nil, "", err
	}
	return tok, b64.EncodeToString(cti), nil
}

// ParseCredentialCWT reads an SD-CWT credential with its disclosures.
func ParseCredentialCWT(b []byte) (*Credential, error) {
	p, err := sdcwt.Parse(b)
	if err != nil {
		return nil, err
	}
	return &Credential{CWT: b, CWTDisclosures: p.Disclosures}, nil
}

// isKBT reports, before the size check, whether a COSE message is a
// proof that carries an SD-CWT.
func isKBT(b []byte) bool {
	if len(b) > MaxPresentation {
		return false
	}
	m, err := cose.Decode(b)
	if err != nil {
		return false
	}
	k, err := kbtOf(m)
	return err == nil && k != nil
}

// kbtOf returns the SD-CWT a proof's protected kcwt header carries (nil
// for a plain proof); a typ of 294 without one, or the reverse, is
// malformed.
func kbtOf(m *cose.Message) ([]byte, error) {
	var prot map[int64]cbor.RawMessage
	if err := cwtDec.Unmarshal(m.Protected, &prot); err != nil {
		return nil, fmt.Errorf("%w: protected header: %v", ErrMalformed, err)
	}
	raw, ok := prot[sdcwt.HeaderKCWT]
	var typ int64
	typed := cwtDec.Unmarshal(prot[sdcwt.HeaderTyp], &typ) == nil && typ == sdcwt.TypKBCWT
	if ok != typed {
		return nil, fmt.Errorf("%w: a proof with a credential has typ 294 and kcwt", ErrMalformed)
	}
	if len(m.Unprotected) != 0 {
		return nil, fmt.Errorf("%w: a proof has no unprotected header", ErrMalformed)
	}
	return raw, nil
}

// signKBT signs a COSE proof that carries an SD-CWT presentation.
func signKBT(s cose.Signer, p *Proof) ([]byte, error) {
	pres := p.Presentation
	if pres.CWT == nil {
		return nil, fmt.Errorf("a COSE proof carries an SD-CWT credential")
	}
	payload, err := cwtEnc.Marshal(kbtPayload{Aud: p.Service.String(), Iat: p.IssuedAt, CNonce: p.ServiceNonce, DeviceNonce: p.DeviceNonce})
	if err != nil {
		return nil, err
	}
	return cose.Sign1Headers(s, []byte(p.Kid.String()), map[int64]any{sdcwt.HeaderTyp: sdcwt.TypKBCWT, sdcwt.HeaderKCWT: cbor.RawMessage(pres.CWT)}, nil, payload, proofAAD(p.Origin))
}

// decodeKBT decodes the proof of an SD-KBT and the SD-CWT it carries.
func decodeKBT(m *cose.Message, kid did.DID, kcwt []byte, origin string) (Proof, error) {
	sd, err := sdcwt.Parse(kcwt)
	if err != nil {
		return Proof{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	var pl kbtPayload
	if err := cwtDec.Unmarshal(m.Payload, &pl); err != nil {
		return Proof{}, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	svc, err := did.ParseNoFragment(pl.Aud)
	if err != nil {
		return Proof{}, fmt.Errorf("%w: aud: %v", ErrMalformed, err)
	}
	return Proof{Device: kid.Base(), Kid: kid, Service: svc, Origin: origin, ServiceNonce: pl.CNonce, DeviceNonce: pl.DeviceNonce, IssuedAt: pl.Iat,
		Presentation: &Presentation{CWT: kcwt, cwt: sd}}, nil
}

var cwtEnc, _ = cbor.CoreDetEncOptions().EncMode()

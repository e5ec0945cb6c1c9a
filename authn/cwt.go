package authn

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
)

// CWT claim keys (RFC 8392) and the cnf kid member (RFC 8747).
const (
	cwtIss = 1
	cwtSub = 2
	cwtAud = 3
	cwtExp = 4
	cwtNbf = 5
	cwtIat = 6
	cwtCti = 7
	cwtCnf = 8
	cnfKid = 3
)

var cwtDec, _ = cbor.DecOptions{
	DupMapKey:   cbor.DupMapKeyEnforcedAPF,
	IndefLength: cbor.IndefLengthForbidden,
	MaxMapPairs: 32, MaxArrayElements: 64, MaxNestedLevels: 4,
	UTF8: cbor.UTF8RejectInvalid,
}.DecMode()

// IssueTokenCWT issues a session token as a CWT (RFC 8392): a COSE_Sign1
// over the same claims as IssueToken's JWT, for constrained devices.
func IssueTokenCWT(s cose.Signer, kid did.DID, d Decision, aud []did.DID, now, ttl int64, cti []byte) ([]byte, error) {
	if !d.OK || d.Device == "" {
		return nil, fmt.Errorf("a token follows an accepted decision")
	}
	if ttl < 1 || ttl > MaxTokenSeconds {
		return nil, fmt.Errorf("token life must be 1 to %d seconds", MaxTokenSeconds)
	}
	claims := map[int]any{cwtIss: kid.Base().String(), cwtSub: d.Device, cwtAud: audiences(kid, aud, d), cwtExp: now + ttl, cwtIat: now, cwtCti: cti}
	if d.Kid != "" {
		claims[cwtCnf] = map[int]any{cnfKid: []byte(d.Kid)}
	}
	payload, err := op.Marshal(claims)
	if err != nil {
		return nil, err
	}
	return cose.Sign1(s, []byte(kid.String()), payload, nil)
}

// DecodeCWTClaims decodes a CWT claims set. aud may be a string or an
// array (RFC 8392 section 3.1.3); unknown claims are ignored.
func DecodeCWTClaims(payload []byte) (*TokenClaims, error) {
	var m map[int64]cbor.RawMessage
	if err := cwtDec.Unmarshal(payload, &m); err != nil {
		return nil, fmt.Errorf("%w: CWT claims: %v", ErrMalformed, err)
	}
	var c TokenClaims
	str := func(k int64, dst *string) error {
		if raw, ok := m[k]; ok {
			return cwtDec.Unmarshal(raw, dst)
		}
		return nil
	}
	num := func(k int64, dst *int64) error {
		if raw, ok := m[k]; ok {
			return cwtDec.Unmarshal(raw, dst)
		}
		return nil
	}
	var errs []error
	errs = append(errs, str(cwtIss, &c.Iss), str(cwtSub, &c.Sub), num(cwtExp, &c.Exp), num(cwtIat, &c.Iat))
	if raw, ok := m[cwtAud]; ok {
		var one string
		if cwtDec.Unmarshal(raw, &one) == nil {
			c.Aud = []string{one}
		} else {
			errs = append(errs, cwtDec.Unmarshal(raw, &c.Aud))
		}
	}
	if raw, ok := m[cwtCti]; ok {
		var cti []byte
		errs = append(errs, cwtDec.Unmarshal(raw, &cti))
		c.Jti = base64.RawURLEncoding.EncodeToString(cti)
	}
	if raw, ok := m[cwtCnf]; ok {
		var cnf map[int64]cbor.RawMessage
		errs = append(errs, cwtDec.Unmarshal(raw, &cnf))
		if k, ok := cnf[cnfKid]; ok {
			var kid []byte
			errs = append(errs, cwtDec.Unmarshal(k, &kid))
			c.Cnf = &Cnf{Kid: string(kid)}
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("%w: CWT claims: %v", ErrMalformed, err)
		}
	}
	return &c, nil
}

// VerifyTokenCWT accepts a CWT session token as VerifyToken does a JWT.
func VerifyTokenCWT(ctx context.Context, v View, token []byte, audience did.DID, now int64) (*TokenClaims, Decision) {
	if len(token) > 2*MaxMessage {
		return nil, deny(FailMalformed, "token larger than %d bytes", 2*MaxMessage)
	}
	m, kid, err := decodeCOSE(token)
	if err != nil {
		return nil, deny(FailMalformed, "%v", err)
	}
	c, err := DecodeCWTClaims(m.Payload)
	if err != nil {
		return nil, deny(FailMalformed, "%v", err)
	}
	s := &Signed{Encoding: COSE, Kid: kid, Alg: m.Alg, verify: func(k cose.PublicKey) bool { return m.Verify(k, nil) == nil }}
	return checkToken(ctx, v, s, c, audience, now)
}

// checkToken is what VerifyToken and VerifyTokenCWT share.
func checkToken(ctx context.Context, v View, s *Signed, c *TokenClaims, audience did.DID, now int64) (*TokenClaims, Decision) {
	if s.Kid.Base().String() != c.Iss {
		return nil, deny(FailMalformed, "the token's kid is not a key of its issuer")
	}
	issuer, d := signer(ctx, v, s, op.KindService)
	if !d.OK {
		return nil, d
	}
	fed := Federated(ctx, v, issuer, audience, c.Aud)
	if !fed.OK {
		return nil, fed
	}
	// The verifier holds the issuer to the protocol's bounds, whatever
	// the issuer signed: iat present, a life of at most MaxTokenSeconds.
	if c.Iat <= 0 || c.Exp <= c.Iat || c.Exp-c.Iat > MaxTokenSeconds {
		return nil, deny(FailMalformed, "a session token has an iat and a life of 1 to %d seconds (iat %d, exp %d)", MaxTokenSeconds, c.Iat, c.Exp)
	}
	if now >= c.Exp || c.Iat > now+clockSkew {
		return nil, deny(FailExpiredToken, "the token is valid from %d to %d; now %d", c.Iat, c.Exp, now)
	}
	dev, err := did.ParseNoFragment(c.Sub)
	if err != nil {
		return nil, deny(FailMalformed, "sub: %v", err)
	}
	// The subject is a device: a service authenticates with its own key.
	if _, d := Standing(ctx, v, dev, op.KindDevice); !d.OK {
		return nil, d
	}
	return c, Decision{OK: true, Reason: OK, Device: c.Sub, Service: audience.Base().String(), Encoding: s.Encoding, At: now, Contract: fed.Contract}
}

package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
)

// AssertionClaims are the claims of an RFC 7523 assertion (a device's
// jwt-bearer grant, section 2.1, or a service's private_key_jwt client
// authentication, section 2.2) that bias reads; other claims are ignored
// (RFC 7523 section 3: the JWT may contain them).
type AssertionClaims struct {
	Iss string      `json:"iss"`
	Sub string      `json:"sub"`
	Aud Audience    `json:"aud"`
	Exp NumericDate `json:"exp"`
	Iat NumericDate `json:"iat,omitempty"`
	Nbf NumericDate `json:"nbf,omitempty"`
	Jti string      `json:"jti"`
}

// NumericDate is a JWT time (RFC 7519 section 2): seconds since the
// epoch, which may have a fraction; bias reads it to the second.
type NumericDate int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *NumericDate) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil || f < 0 || f > 1<<40 {
		return errors.New("a NumericDate is a number of seconds since 1970")
	}
	*n = NumericDate(int64(f))
	return nil
}

// Audience is a JWT's aud: one string or an array of them (RFC 7519
// section 4.1.3), at most 4.
type Audience []string

// UnmarshalJSON implements json.Unmarshaler.
func (a *Audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = Audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud is a string or an array of strings")
	}
	if len(many) > 4 {
		return errors.New("aud holds at most 4 values")
	}
	*a = many
	return nil
}

// DecodeAssertion decodes an assertion (at most MaxJWTBytes) without
// checking its signature, as another implementation may make it (header
// members and claims bias does not read are ignored; no crit): typ absent
// or "JWT" in any case (a media type); the kid, if any, the DID URL of a
// key, else the signer is sub and the key is found by trying its keys
// (the returned DID then has no fragment).
func DecodeAssertion(b []byte) (*authn.JWT, *AssertionClaims, did.DID, error) {
	var c AssertionClaims
	j, err := authn.DecodeForeignJWT(b, MaxJWTBytes, &c)
	if err != nil {
		return nil, nil, did.DID{}, err
	}
	if j.Header.Typ != "" && !strings.EqualFold(j.Header.Typ, "JWT") {
		return nil, nil, did.DID{}, errors.New("typ must be JWT or absent")
	}
	if j.Header.Kid == "" {
		sub, err := did.ParseNoFragment(c.Sub)
		if err != nil {
			return nil, nil, did.DID{}, errors.New("without a kid, sub must be the signer's DID")
		}
		return j, &c, sub, nil
	}
	kid, err := did.Parse(j.Header.Kid)
	if err != nil || kid.Fragment == "" {
		return nil, nil, did.DID{}, errors.New("kid must be the DID URL of the signer's registered key")
	}
	return j, &c, kid, nil
}

// assertion checks an assertion of an entity of kind (a device's grant,
// a service's client authentication) at now: the form (DecodeAssertion),
// iss and sub the signer's DID, aud naming the token endpoint (or the
// issuer, or the introspection endpoint), fresh (iat at most clockSkew ahead, exp after now and at most
// MaxAssertionLife after iat, nbf passed), the signer validated, the kid
// a current key of it that signed; and then its jti not seen before
// (kept until exp, per signer: only a verified signature spends). A
// refusal is code (invalid_grant or invalid_client) with its cause.
func (s *Server) assertion(ctx context.Context, raw string, kind, code string, now int64) (*authn.Entity, *Error) {
	e, _, spend, err := s.checkAssertion(ctx, raw, kind, code, now)
	if err != nil {
		return nil, err
	}
	if err := spend(); err != nil {
		return nil, err
	}
	return e, nil
}

// checkAssertion is assertion without spending the jti: spend does, once
// every other check of the request has passed (a request refused for its
// DPoP proof or its scope leaves the assertion unused).
func (s *Server) checkAssertion(ctx context.Context, raw string, kind, code string, now int64) (*authn.Entity, cose.PublicKey, func() *Error, *Error) {
	no := func(format string, args ...any) (*authn.Entity, cose.PublicKey, func() *Error, *Error) {
		return nil, cose.PublicKey{}, nil, refuse(code, format, args...)
	}
	if len(raw) > MaxJWTBytes {
		return no("the assertion is larger than %d bytes", MaxJWTBytes)
	}
	j, c, kid, err := DecodeAssertion([]byte(raw))
	if err != nil {
		return no("malformed assertion: %v", err)
	}
	self := kid.Base().String()
	switch {
	case c.Iss != self || c.Sub != self:
		return no("iss and sub must be the DID of the key's owner")
	case c.Jti == "" || len(c.Jti) > 128:
		return no("jti must be 1 to 128 characters")
	case !slices.Contains(c.Aud, s.token) && !slices.Contains(c.Aud, s.issuer) && !slices.Contains(c.Aud, s.issuer+PathIntrospect):
		return no("the assertion is for another audience; name %s", s.token)
	case c.Iat != 0 && (c.Exp <= c.Iat || int64(c.Exp-c.Iat) > MaxAssertionLife):
		return no("an assertion lives 1 to %d seconds", MaxAssertionLife)
	case int64(c.Exp) > now+clockSkew+MaxAssertionLife:
		// Without iat the expiry alone bounds the life (RFC 7523 section
		// 3: iat is optional), as the replay cache must keep the jti.
		return no("an assertion expires at most %d seconds from now", MaxAssertionLife)
	case int64(c.Iat) > now+clockSkew || (c.Nbf != 0 && int64(c.Nbf) > now+clockSkew):
		return no("the assertion is dated in the future")
	case now >= int64(c.Exp):
		return no("the assertion expired")
	}
	e, d := authn.Standing(ctx, s.c.Ledger, kid, kind)
	if d.Reason == authn.FailUnavailable {
		return nil, cose.PublicKey{}, nil, unavailable(errors.New(d.Detail))
	}
	if !d.OK {
		return no("%s: %s", d.Reason, d.Detail)
	}
	var pk cose.PublicKey
	for _, k := range e.Keys {
		if kid.Fragment != "" && k.ID != kid.Fragment {
			continue
		}
		p, err := k.Public()
		if err != nil {
			continue
		}
		if kid.Fragment != "" || j.Verify(p) {
			pk = p
			break
		}
	}
	if pk.IsZero() {
		if kid.Fragment == "" {
			return no("no current key of %s signed the assertion", self)
		}
		return no("%s is not a current key of %s", kid.Fragment, self)
	}
	if !j.Verify(pk) {
		return no("the signature does not verify with %s", kid)
	}
	spend := func() *Error {
		if !s.c.Spent.Spend(kid.Base(), []byte("oauth-assertion\x00"+c.Jti), int64(c.Exp)+1, now) {
			return refuse(code, "this assertion (jti) was used before")
		}
		return nil
	}
	return e, pk, spend, nil
}

// MarshalJSON implements json.Marshaler: one audience as a string.
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

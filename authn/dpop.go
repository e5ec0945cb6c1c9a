package authn

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/jws"
)

// DPoP (RFC 9449): a session token is bound to the device's key, and each
// request that carries it also carries a proof, signed by that key, of the
// method and URL it is for, of when it was made and of the token itself.
// A token that leaks (to a host, a log, a proxy) is of no use without the
// device's key.

// TypDPoP is the JWS typ of a DPoP proof.
const TypDPoP = "dpop+jwt"

// DPoPWindow bounds how far a DPoP proof's iat may lie from the
// verifier's clock, either way.
const DPoPWindow = 60

// DPoPClaims are a DPoP proof's claims.
type DPoPClaims struct {
	Jti string `json:"jti"`
	Htm string `json:"htm"`
	Htu string `json:"htu"`
	Iat int64  `json:"iat"`
	Ath string `json:"ath,omitempty"` // base64url SHA-256 of the access (session) token; none at a token endpoint
}

type dpopHeader struct {
	Typ string   `json:"typ"`
	Alg string   `json:"alg"`
	JWK *did.JWK `json:"jwk"`
}

// HTU is a request's URL as a DPoP proof names it: scheme, host and path,
// without query and fragment (RFC 9449 section 4.2).
func HTU(u *url.URL) string {
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	// The origin as challenges name it (default port elided, host
	// normalized), so that https://p.example:443/x and https://p.example/x
	// are one URL on both sides.
	if o, err := OriginOf(u); err == nil {
		return o + path
	}
	v := url.URL{Scheme: strings.ToLower(u.Scheme), Host: strings.ToLower(u.Host), Path: path}
	return v.String()
}

func tokenHash(token []byte) string {
	h := sha256.Sum256(token)
	return b64.EncodeToString(h[:])
}

// SignDPoP makes the DPoP proof of a request (method, htu as HTU gives it)
// that carries token, signed by the device's key s, at now, with jti from
// the caller's randomness. A nil token makes a proof without ath, as an
// OAuth 2.0 token request carries (RFC 9449 section 4.2).
func SignDPoP(s cose.Signer, method, htu string, token []byte, now int64, jti []byte) ([]byte, error) {
	j, err := did.PublicJWK(s.Public())
	if err != nil {
		return nil, err
	}
	h := dpopHeader{Typ: TypDPoP, Alg: s.Public().Alg().String(), JWK: &did.JWK{Kty: j.Kty, Crv: j.Crv, X: j.X, Y: j.Y}}
	c := DPoPClaims{Jti: b64.EncodeToString(jti), Htm: method, Htu: htu, Iat: now}
	if token != nil {
		c.Ath = tokenHash(token)
	}
	return signCompact(s, h, c)
}

// VerifyDPoP checks the DPoP proof of a request (method, htu as HTU gives
// it) that carries token, at now: typ, an asymmetric alg (EdDSA, ES256),
// a public jwk whose key verifies the signature, htm, htu, iat within
// DPoPWindow and ath (none for a nil token: a token request). It returns
// the claims and the key; the caller binds the key to the token (Bound)
// and refuses a jti seen before.
func VerifyDPoP(proof []byte, method, htu string, token []byte, now int64) (*DPoPClaims, cose.PublicKey, error) {
	bad := func(format string, args ...any) (*DPoPClaims, cose.PublicKey, error) {
		return nil, cose.PublicKey{}, fmt.Errorf("%w: DPoP proof: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	if len(proof) > MaxMessage {
		return bad("larger than %d bytes", MaxMessage)
	}
	parts, err := jws.Split(string(proof))
	if err != nil {
		return bad("%v", err)
	}
	var h dpopHeader
	if err := strictJSON(parts.Header, &h); err != nil {
		return bad("header: %v", err)
	}
	if h.Typ != TypDPoP || h.JWK == nil {
		return bad("typ must be %s, with a jwk", TypDPoP)
	}
	alg, err := cose.ParseAlg(h.Alg)
	if err != nil {
		return bad("alg: %v", err)
	}
	key, err := did.ParseJWK(h.JWK)
	if err != nil || key.Alg() != alg {
		return bad("jwk is not a public %s key", alg)
	}
	if !key.Verify([]byte(parts.SigningInput), parts.Signature) {
		return bad("the signature does not verify with its jwk")
	}
	var c DPoPClaims
	if err := strictJSON(parts.Payload, &c); err != nil {
		return bad("claims: %v", err)
	}
	switch {
	case c.Jti == "" || len(c.Jti) > 64:
		return bad("jti must be 1 to 64 characters")
	case c.Htm != method:
		return bad("for method %.16q, not %s", c.Htm, method)
	case c.Htu != htu:
		return bad("for %.200q, not %s", c.Htu, htu)
	case c.Iat < now-DPoPWindow || c.Iat > now+DPoPWindow:
		return bad("made at %d; now %d", c.Iat, now)
	case token == nil && c.Ath != "":
		return bad("carries ath where no token is presented")
	case token != nil && c.Ath != tokenHash(token):
		return bad("for another token")
	}
	return &c, key, nil
}

// Bound checks that the key of a DPoP proof is the one a session token is
// bound to: its cnf.jkt thumbprint, when the token has one, and the
// device's current key that cnf.kid names (device, from the ledger).
func Bound(c *TokenClaims, device *Entity, key cose.PublicKey) Decision {
	if c.Cnf == nil || c.Cnf.Kid == "" {
		return deny(FailUnboundToken, "the token names no key of its device (cnf)")
	}
	kid, err := did.Parse(c.Cnf.Kid)
	if err != nil || kid.Base().String() != device.DID {
		return deny(FailUnboundToken, "cnf.kid is not a key of the token's device")
	}
	if c.Cnf.Jkt != "" {
		if jkt, err := did.JWKThumbprint(key); err != nil || jkt != c.Cnf.Jkt {
			return deny(FailBadDPoP, "the DPoP key is not the one the token is bound to (cnf.jkt)")
		}
	}
	for _, k := range device.Keys {
		if k.ID != kid.Fragment {
			continue
		}
		if pk, err := k.Public(); err == nil && pk.Equal(key) {
			return Decision{OK: true, Reason: OK}
		}
	}
	return deny(FailBadDPoP, "the DPoP key is not %s, a current key of the device", c.Cnf.Kid)
}

// VerifyBoundToken accepts a session token presented with the DPoP proof
// of a request (method, htu) at service audience: the token as
// VerifyToken accepts it, the proof as VerifyDPoP checks it, its key the
// one the token is bound to (Bound), and its jti not seen before (spent,
// kept until the proof's window has passed).
func VerifyBoundToken(ctx context.Context, v View, spent SpentSet, token, proof []byte, method, htu string, audience did.DID, now int64) (*TokenClaims, Decision) {
	c, d := VerifyToken(ctx, v, token, audience, now)
	if !d.OK {
		return nil, d
	}
	fail := func(f Decision) (*TokenClaims, Decision) {
		f.Device, f.Service, f.At = d.Device, d.Service, now
		return nil, f
	}
	if len(proof) == 0 {
		return fail(deny(FailUnboundToken, "a session token comes with a DPoP proof (RFC 9449)"))
	}
	pc, key, err := VerifyDPoP(proof, method, htu, token, now)
	if err != nil {
		return fail(deny(FailBadDPoP, "%v", err))
	}
	sub, err := did.ParseNoFragment(c.Sub)
	if err != nil {
		return fail(deny(FailMalformed, "sub: %v", err))
	}
	dev, err := v.Entity(ctx, sub)
	if err != nil || dev == nil {
		return fail(deny(FailUnavailable, "the ledger view failed"))
	}
	if b := Bound(c, dev, key); !b.OK {
		return fail(b)
	}
	if !spent.Spend(audience, []byte("dpop\x00"+pc.Jti), pc.Iat+DPoPWindow+1, now) {
		return fail(deny(FailBadDPoP, "this DPoP proof was used before"))
	}
	return c, d
}

// PeekToken reads a session token's iss and aud without verifying them:
// for the holder of a token, to decide which services to present it to
// (the services verify it).
func PeekToken(token []byte) (string, []string, error) {
	parts := strings.Split(string(token), ".")
	if len(parts) != 3 {
		return "", nil, fmt.Errorf("%w: a compact JWS has three parts", ErrMalformed)
	}
	b, err := jws.Decode(parts[1])
	if err != nil {
		return "", nil, fmt.Errorf("%w: claims are not base64url", ErrMalformed)
	}
	var c struct {
		Iss string   `json:"iss"`
		Aud []string `json:"aud"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return "", nil, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	return c.Iss, c.Aud, nil
}

package authn

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
)

// TypToken is the JWS typ of a session token: a plain JWT, so that any
// JWT library verifies it with the JWK Set a node publishes for the
// issuer (GET /v1/entities/{did}/jwks).
const TypToken = "JWT"

// MaxTokenSeconds bounds a session token's life.
const MaxTokenSeconds = 3600

// TokenClaims are a session token's claims (RFC 7519, RFC 7800 cnf).
type TokenClaims struct {
	Iss string   `json:"iss"` // the service that authenticated the device
	Sub string   `json:"sub"` // the device
	Aud []string `json:"aud"` // the services, and the access contracts whose services, accept the decision
	Iat int64    `json:"iat"`
	Exp int64    `json:"exp"`
	Jti string   `json:"jti"`
	Cnf *Cnf     `json:"cnf,omitempty"`
}

// Cnf names the key the device proved possession of (RFC 7800): its DID
// URL, and (RFC 9449) its JWK thumbprint, to which DPoP proofs are bound.
type Cnf struct {
	Kid string `json:"kid"`
	Jkt string `json:"jkt,omitempty"`
}

// IssueToken issues a session token after an accepted decision: signed by
// the issuing service's registered key kid, for the services in aud
// (default the issuer) and the access contracts that made the decision
// (d.Contract), valid ttl seconds from now; jti comes from the caller's
// randomness. Its cnf names the device key that proved possession
// (d.Kid); IssueBoundToken adds that key's thumbprint for DPoP.
func IssueToken(s cose.Signer, kid did.DID, d Decision, aud []did.DID, now, ttl int64, jti []byte) ([]byte, error) {
	return issueToken(s, kid, d, "", aud, now, ttl, jti)
}

// IssueBoundToken is IssueToken for a token bound to the device's key
// (cnf.jkt, RFC 9449): a service accepts it only with a DPoP proof of
// that key with each request.
func IssueBoundToken(s cose.Signer, kid did.DID, d Decision, device cose.PublicKey, aud []did.DID, now, ttl int64, jti []byte) ([]byte, error) {
	jkt, err := did.JWKThumbprint(device)
	if err != nil {
		return nil, err
	}
	return issueToken(s, kid, d, jkt, aud, now, ttl, jti)
}

func issueToken(s cose.Signer, kid did.DID, d Decision, jkt string, aud []did.DID, now, ttl int64, jti []byte) ([]byte, error) {
	if !d.OK || d.Device == "" {
		return nil, fmt.Errorf("a token follows an accepted decision")
	}
	if ttl < 1 || ttl > MaxTokenSeconds {
		return nil, fmt.Errorf("token life must be 1 to %d seconds", MaxTokenSeconds)
	}
	c := TokenClaims{Iss: kid.Base().String(), Sub: d.Device, Iat: now, Exp: now + ttl, Jti: base64.RawURLEncoding.EncodeToString(jti)}
	if d.Kid != "" {
		c.Cnf = &Cnf{Kid: d.Kid, Jkt: jkt}
	}
	c.Aud = audiences(kid, aud, d)
	return signJWS(s, kid, TypToken, c)
}

// VerifyToken accepts a session token at service audience: signed by a
// current key of a validated issuing service, naming audience, unexpired,
// and its device still validated now (a token dies with a revocation).
func VerifyToken(ctx context.Context, v View, token []byte, audience did.DID, now int64) (*TokenClaims, Decision) {
	if len(token) > 2*MaxMessage {
		return nil, deny(FailMalformed, "token larger than %d bytes", 2*MaxMessage)
	}
	var c TokenClaims
	s, err := decodeJWS(token, TypToken, &c)
	if err != nil {
		return nil, deny(FailMalformed, "%v", err)
	}
	return checkToken(ctx, v, s, &c, audience, now)
}

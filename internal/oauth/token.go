package oauth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// TypAccessToken is the JWS typ of an access token (RFC 9068 section 2.1).
const TypAccessToken = "at+jwt"

// AccessClaims are an access token's claims (RFC 9068 section 2.2, with
// cnf of RFC 9449 section 6.1).
type AccessClaims struct {
	Iss      string `json:"iss"`
	Sub      string `json:"sub"` // the device's DID
	Aud      string `json:"aud"` // the resource: the service's DID
	ClientID string `json:"client_id"`
	Scope    string `json:"scope,omitempty"`
	Exp      int64  `json:"exp"`
	Iat      int64  `json:"iat"`
	AuthTime int64  `json:"auth_time"`
	Jti      string `json:"jti"`
	Cnf      *JKT   `json:"cnf,omitempty"`
}

// JKT binds a token to a key by its RFC 7638 thumbprint (RFC 9449).
type JKT struct {
	Jkt string `json:"jkt"`
}

// IDClaims are an OpenID Connect ID token's claims (Core 1.0 section 2).
type IDClaims struct {
	Iss      string `json:"iss"`
	Sub      string `json:"sub"`
	Aud      string `json:"aud"` // the client
	Exp      int64  `json:"exp"`
	Iat      int64  `json:"iat"`
	AuthTime int64  `json:"auth_time"`
	Provider string `json:"bias_provider"` // the device's provider
}

// TokenResponse is a successful token response (RFC 6749 section 5.1,
// RFC 8693 section 2.2.1).
type TokenResponse struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type,omitempty"`
	TokenType       string `json:"token_type"` // Bearer or DPoP
	ExpiresIn       int64  `json:"expires_in"`
	Scope           string `json:"scope,omitempty"`
	IDToken         string `json:"id_token,omitempty"`
}

// ScopeOpenID asks for an ID token; no contract decides it.
const ScopeOpenID = "openid"

// subject is who a grant authenticated: the device, the key it proved
// (for DPoP), and a resource the grant itself names (the proof grant's
// service).
type subject struct {
	device   *authn.Entity
	key      cose.PublicKey
	resource string
	grant    string // short name, for the contracts' request input
	// jktWanted is the thumbprint a session token is bound to: the
	// exchange's DPoP proof must be of that key.
	jktWanted string
}

// Token decides a token request at now (Unix seconds): the grant
// authenticates a device, the client (if it authenticates) is a
// validated service, the resource is a validated service that this
// operator may issue for, the resource's access contracts allow the
// device for each requested scope; then an access token (DPoP-bound if
// the request carries a DPoP proof of a current key of the device) and,
// for scope openid, an ID token. A refusal is an *Error with its RFC
// error code; no token is issued.
func (s *Server) Token(ctx context.Context, r *TokenRequest, now int64) (*TokenResponse, *Error) {
	// What costs nothing is checked before anything is spent (a client's
	// or a device's jti, a challenge).
	switch r.GrantType {
	case GrantJWTBearer, GrantProof, GrantExchange:
	default:
		return nil, refuse(ErrUnsupportedGrantType, "grant_type %.80q is not supported; use %s, %s or %s", r.GrantType, GrantJWTBearer, GrantExchange, GrantProof)
	}
	scopes, e := parseScope(r.Scope)
	if e != nil {
		return nil, e
	}
	if r.Resource != "" || r.GrantType != GrantProof {
		if _, err := did.ParseNoFragment(r.Resource); err != nil {
			return nil, refuse(ErrInvalidTarget, "resource (the DID of the service the token is for) is required")
		}
	}
	clientID, e := s.client(ctx, r, now)
	if e != nil {
		return nil, e
	}
	var sub *subject
	spend := func() *Error { return nil }
	switch r.GrantType {
	case GrantJWTBearer:
		if r.Assertion == "" {
			return nil, refuse(ErrInvalidRequest, "assertion is required")
		}
		dev, key, sp, e := s.checkAssertion(ctx, r.Assertion, op.KindDevice, ErrInvalidGrant, now)
		if e != nil {
			return nil, e
		}
		sub, spend = &subject{device: dev, key: key, grant: "jwt-bearer"}, sp
	case GrantProof:
		sub, e = s.proofGrant(ctx, r, now)
	default: // GrantExchange
		sub, e = s.exchangeGrant(ctx, r, now)
	}
	if e != nil {
		return nil, e
	}
	if clientID == "" {
		clientID = sub.device.DID // the device is its own client
	}
	if r.ClientID != "" && r.ClientID != clientID {
		return nil, refuse(ErrInvalidClient, "client_id is not the authenticated client")
	}
	resource := r.Resource
	if resource == "" {
		resource = sub.resource
	}
	if sub.resource != "" && resource != sub.resource {
		return nil, refuse(ErrInvalidTarget, "the proof was made for %s", sub.resource)
	}
	svc, e := s.target(ctx, resource)
	if e != nil {
		return nil, e
	}
	if e := s.decide(ctx, sub, svc, clientID, scopes, now); e != nil {
		return nil, e
	}
	// DPoP (RFC 9449): a proof of a current key of the device binds the token.
	var jkt string
	if r.DPoP != "" {
		if jkt, e = s.dpop(sub.device, r.DPoP, now); e != nil {
			return nil, e
		}
	} else if r.GrantType == GrantExchange {
		return nil, refuse(ErrInvalidDPoPProof, "a session token is exchanged with a DPoP proof of the device's key")
	}
	// The device's assertion is spent last: a request refused above
	// leaves it for a corrected one.
	if e := spend(); e != nil {
		return nil, e
	}
	return s.issue(sub, svc, clientID, scopes, jkt, now, r.GrantType == GrantExchange)
}

// client authenticates the client by private_key_jwt (RFC 7523 section
// 2.2, OIDC Core section 9), when the request names an assertion: a
// validated service on the ledger, its assertion signed by its
// registered key. It returns the service's DID, or "" for none.
func (s *Server) client(ctx context.Context, r *TokenRequest, now int64) (string, *Error) {
	if r.ClientAssertionType == "" && r.ClientAssertion == "" {
		return "", nil
	}
	if r.ClientAssertionType != ClientAssertionType || r.ClientAssertion == "" {
		return "", refuse(ErrInvalidClient, "client authentication is private_key_jwt: client_assertion_type %s and client_assertion", ClientAssertionType)
	}
	svc, e := s.assertion(ctx, r.ClientAssertion, op.KindService, ErrInvalidClient, now)
	if e != nil {
		return "", e
	}
	return svc.DID, nil
}

// proofGrant authenticates a device by a challenge of a service and the
// device's proof (POST /v1/authn/verify, as a token request): the token
// is for that service.
func (s *Server) proofGrant(ctx context.Context, r *TokenRequest, now int64) (*subject, *Error) {
	if r.Challenge == "" || r.Proof == "" {
		return nil, refuse(ErrInvalidRequest, "challenge and proof are required")
	}
	if len(r.Challenge) > MaxJWTBytes || len(r.Proof) > MaxJWTBytes {
		return nil, refuse(ErrInvalidGrant, "the challenge or proof is larger than %d bytes", MaxJWTBytes)
	}
	ch, err1 := authn.DecodeText(r.Challenge)
	pr, err2 := authn.DecodeText(r.Proof)
	if err1 != nil || err2 != nil {
		return nil, refuse(ErrInvalidGrant, "challenge and proof must be compact JWS or base64url COSE_Sign1")
	}
	d, err := s.c.Access.Verify(ctx, ch, pr, map[string]string{"grant_type": "proof"}, now)
	if err != nil {
		return nil, unavailable(err)
	}
	if !d.OK {
		return nil, refuse(ErrInvalidGrant, "%s: %s", d.Reason, d.Detail)
	}
	return s.standing(ctx, d.Device, d.Kid, d.Service, "proof")
}

// exchangeGrant accepts a bias session token (RFC 8693): as a service
// that the token's audience names (or that shares a contract with its
// issuer, authn.Federated) would accept it, with the resource as that
// service; the request must carry a DPoP proof of the key the token
// names (checked in Token, bound here).
func (s *Server) exchangeGrant(ctx context.Context, r *TokenRequest, now int64) (*subject, *Error) {
	if r.SubjectToken == "" || r.SubjectTokenType != TokenTypeJWT {
		return nil, refuse(ErrInvalidRequest, "subject_token and subject_token_type %s (a bias session token) are required", TokenTypeJWT)
	}
	if r.RequestedTokenType != "" && r.RequestedTokenType != TokenTypeAccess {
		return nil, refuse(ErrInvalidRequest, "requested_token_type must be %s", TokenTypeAccess)
	}
	if len(r.SubjectToken) > MaxJWTBytes {
		return nil, refuse(ErrInvalidGrant, "the subject token is larger than %d bytes", MaxJWTBytes)
	}
	res, err := did.ParseNoFragment(r.Resource)
	if err != nil {
		return nil, refuse(ErrInvalidTarget, "resource must be the DID of a service")
	}
	c, d := authn.VerifyToken(ctx, s.c.Ledger, []byte(r.SubjectToken), res, now)
	if d.Reason == authn.FailUnavailable {
		return nil, unavailable(errors.New(d.Detail))
	}
	if !d.OK {
		return nil, refuse(ErrInvalidGrant, "the session token: %s: %s", d.Reason, d.Detail)
	}
	if c.Cnf == nil || c.Cnf.Kid == "" {
		return nil, refuse(ErrInvalidGrant, "the session token names no key of its device (cnf)")
	}
	sub, e := s.standing(ctx, c.Sub, c.Cnf.Kid, "", "token-exchange")
	if e != nil {
		return nil, e
	}
	sub.jktWanted = c.Cnf.Jkt
	return sub, nil
}

// standing reads the authenticated device and the key it proved.
func (s *Server) standing(ctx context.Context, device, kid, resource, grant string) (*subject, *Error) {
	id, err := did.Parse(kid)
	if err != nil || id.Base().String() != device {
		return nil, refuse(ErrInvalidGrant, "the key is not the device's")
	}
	dev, d := authn.Standing(ctx, s.c.Ledger, id, op.KindDevice)
	if d.Reason == authn.FailUnavailable {
		return nil, unavailable(errors.New(d.Detail))
	}
	if !d.OK {
		return nil, refuse(ErrInvalidGrant, "%s: %s", d.Reason, d.Detail)
	}
	for _, k := range dev.Keys {
		if k.ID == id.Fragment {
			if pk, err := k.Public(); err == nil {
				return &subject{device: dev, key: pk, resource: resource, grant: grant}, nil
			}
		}
	}
	return nil, refuse(ErrInvalidGrant, "%s is not a current key of the device", id.Fragment)
}

// target checks the resource (RFC 8707): the DID of a validated service
// of this network that this operator may issue tokens for: one of its own
// services, or one bound to an access contract whose owner admits this
// operator (owner, or one of its binders), as authn.Federated admits the
// services of other providers.
func (s *Server) target(ctx context.Context, resource string) (*authn.Entity, *Error) {
	if resource == "" {
		return nil, refuse(ErrInvalidTarget, "resource (the DID of the service the token is for) is required")
	}
	id, err := did.ParseNoFragment(resource)
	if err != nil || id.Network != s.c.Provider.Network {
		return nil, refuse(ErrInvalidTarget, "resource must be the DID of a service of network %s", s.c.Provider.Network)
	}
	svc, d := authn.Standing(ctx, s.c.Ledger, id, op.KindService)
	if d.Reason == authn.FailUnavailable {
		return nil, unavailable(errors.New(d.Detail))
	}
	if !d.OK {
		return nil, refuse(ErrInvalidTarget, "the resource: %s: %s", d.Reason, d.Detail)
	}
	me := s.c.Provider.Base().String()
	ok, err := MayIssue(ctx, s.c.Ledger, svc, me)
	if err != nil {
		return nil, unavailable(err)
	}
	if ok {
		return svc, nil
	}
	return nil, refuse(ErrInvalidTarget, "this operator (%s) issues no tokens for %s: it is of another provider and binds no access contract that admits this one", me, resource)
}

// MayIssue reports whether the operator provider may issue tokens for the
// service svc: svc is one of its services, or bound to an access contract
// whose owner admits it (the owner, or one of its binders). The token
// endpoint and introspection both hold tokens to it.
func MayIssue(ctx context.Context, l Ledger, svc *authn.Entity, provider string) (bool, error) {
	if svc.Provider == provider {
		return true, nil
	}
	for _, ref := range svc.Access {
		c, err := l.Contract(ctx, ref)
		if err != nil {
			return false, err
		}
		if c != nil && c.Kind == op.ContractAccess && c.Admits(provider) {
			return true, nil
		}
	}
	return false, nil
}

// decide runs the resource's access contracts for the device, once per
// requested scope (request input {"scope", "grant_type", "client_id"}),
// or once without a scope: a refused scope is invalid_scope, a refusal
// without one invalid_target; a device no longer validated invalid_grant.
func (s *Server) decide(ctx context.Context, sub *subject, svc *authn.Entity, clientID string, scopes []string, now int64) *Error {
	run := func(scope string) *Error {
		req := sdk.AccessRequest{Device: sub.device.DID, Service: svc.DID, Context: map[string]string{"grant_type": sub.grant, "client_id": clientID}}
		if scope != "" {
			req.Context["scope"] = scope
		}
		d, err := s.c.Access.Access(ctx, req, now)
		switch {
		case err != nil:
			return unavailable(err)
		case d.OK:
			return nil
		case d.Reason == authn.FailContractDenied && scope != "":
			return refuse(ErrInvalidScope, "scope %s: %s", scope, d.Detail)
		case d.Reason == authn.FailContractDenied:
			return refuse(ErrInvalidTarget, "the resource's access contracts refuse the device: %s", d.Detail)
		default:
			return refuse(ErrInvalidGrant, "%s: %s", d.Reason, d.Detail)
		}
	}
	asked := 0
	for _, sc := range scopes {
		if sc == ScopeOpenID {
			continue
		}
		asked++
		if e := run(sc); e != nil {
			return e
		}
	}
	if asked == 0 {
		return run("")
	}
	return nil
}

// dpop checks a token request's DPoP proof (RFC 9449 section 4.3): for
// POST at the token endpoint, fresh, of a current key of the device, its
// jti not seen before. It returns the key's thumbprint.
func (s *Server) dpop(dev *authn.Entity, proof string, now int64) (string, *Error) {
	if len(proof) > MaxJWTBytes {
		return "", refuse(ErrInvalidDPoPProof, "the DPoP proof is larger than %d bytes", MaxJWTBytes)
	}
	pc, key, err := authn.VerifyDPoP([]byte(proof), http.MethodPost, s.token, nil, now)
	if err != nil {
		return "", refuse(ErrInvalidDPoPProof, "%v", err)
	}
	held := false
	for _, k := range dev.Keys {
		if pk, err := k.Public(); err == nil && pk.Equal(key) {
			held = true
		}
	}
	if !held {
		return "", refuse(ErrInvalidDPoPProof, "the DPoP key is not a current key of the device")
	}
	jkt, err := did.JWKThumbprint(key)
	if err != nil {
		return "", refuse(ErrInvalidDPoPProof, "the DPoP key has no thumbprint")
	}
	id, err := did.ParseNoFragment(dev.DID)
	if err != nil {
		return "", refuse(ErrInvalidGrant, "the device's DID")
	}
	if !s.c.Spent.Spend(id, []byte("oauth-dpop\x00"+pc.Jti), pc.Iat+authn.DPoPWindow+1, now) {
		return "", refuse(ErrInvalidDPoPProof, "this DPoP proof was used before")
	}
	return jkt, nil
}

// issue signs the access token (and the ID token for scope openid).
func (s *Server) issue(sub *subject, svc *authn.Entity, clientID string, scopes []string, jkt string, now int64, exchanged bool) (*TokenResponse, *Error) {
	if sub.jktWanted != "" && jkt != sub.jktWanted {
		return nil, refuse(ErrInvalidDPoPProof, "the DPoP key is not the one the session token is bound to")
	}
	jti := make([]byte, 16)
	if _, err := io.ReadFull(s.c.Rand, jti); err != nil {
		return nil, &Error{Code: ErrUnavailable, Description: "no randomness", Status: http.StatusServiceUnavailable, Cause: err}
	}
	scope := strings.Join(scopes, " ")
	at := AccessClaims{Iss: s.issuer, Sub: sub.device.DID, Aud: svc.DID, ClientID: clientID, Scope: scope,
		Iat: now, Exp: now + s.lifetime, AuthTime: now, Jti: base64.RawURLEncoding.EncodeToString(jti)}
	out := &TokenResponse{TokenType: "Bearer", ExpiresIn: s.lifetime, Scope: scope}
	if jkt != "" {
		at.Cnf, out.TokenType = &JKT{Jkt: jkt}, "DPoP"
	}
	tok, err := authn.SignJWT(s.c.Key, TypAccessToken, s.kid, at)
	if err != nil {
		return nil, &Error{Code: ErrUnavailable, Description: "could not sign", Status: http.StatusServiceUnavailable, Cause: err}
	}
	out.AccessToken = string(tok)
	if exchanged {
		out.IssuedTokenType = TokenTypeAccess
	}
	if slices.Contains(scopes, ScopeOpenID) {
		id, err := authn.SignJWT(s.c.Key, "JWT", s.kid, IDClaims{Iss: s.issuer, Sub: sub.device.DID, Aud: clientID,
			Iat: now, Exp: now + s.lifetime, AuthTime: now, Provider: sub.device.Provider})
		if err != nil {
			return nil, &Error{Code: ErrUnavailable, Description: "could not sign", Status: http.StatusServiceUnavailable, Cause: fmt.Errorf("id token: %w", err)}
		}
		out.IDToken = string(id)
	}
	return out, nil
}

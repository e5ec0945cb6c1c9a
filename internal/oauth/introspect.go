package oauth

import (
	"context"
	"errors"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
)

// Introspection is an introspection response (RFC 7662 section 2.2): an
// inactive token shows nothing but active false.
type Introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	TokenType string `json:"token_type,omitempty"` // Bearer or DPoP
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	Sub       string `json:"sub,omitempty"`
	Aud       string `json:"aud,omitempty"`
	Iss       string `json:"iss,omitempty"`
	Jti       string `json:"jti,omitempty"`
	Cnf       *JKT   `json:"cnf,omitempty"`
	// provider is the operator whose token key signed (the kid's DID).
	provider string
}

// Introspect answers whether an access token of any operator is active at
// now, from the ledger: signed by a token key that its operator (the
// provider its kid names) publishes, unexpired, its device still
// validated, its resource still a validated service that the operator may
// issue for (MayIssue). A device revoked
// in the last committed block makes its tokens inactive at once. The
// reason for an inactive answer is returned for the log only.
//
// The token's iss is shown only when this node can vouch for it: a token
// of its own operator must name this server's issuer (else it is
// inactive); another operator's issuer URL is on no ledger, so its iss is
// not shown (RFC 7662 makes iss optional): the signing provider is what
// the kid proves, not the URL a token claims.
func (s *Server) Introspect(ctx context.Context, token string, now int64) (*Introspection, error) {
	out, err := Introspect(ctx, s.c.Ledger, token, now)
	return s.vouch(out), err
}

// vouch applies the rule of iss above to an answer of Introspect.
func (s *Server) vouch(out *Introspection) *Introspection {
	if out == nil || !out.Active {
		return out
	}
	if out.provider != s.c.Provider.String() {
		out.Iss = ""
		return out
	}
	if out.Iss != s.issuer {
		return &Introspection{}
	}
	return out
}

// IntrospectFor answers r for the resource server that authenticates
// with a client assertion (private_key_jwt, as at the token endpoint: a
// validated service, its assertion for the token endpoint, the issuer or
// the introspection endpoint, used once), for that service alone: a token
// for another audience is inactive to it (RFC 7662 section 4). A request
// without client authentication is refused (invalid_client) unless the
// server is configured to answer anonymous introspection, as Introspect
// does.
func (s *Server) IntrospectFor(ctx context.Context, r *IntrospectRequest, now int64) (*Introspection, *Error) {
	client := ""
	if r.ClientAssertionType == "" && r.ClientAssertion == "" && !s.c.AnonymousIntrospection {
		return nil, refuse(ErrInvalidClient, "introspection requires client authentication (RFC 7662 section 2.1): a validated service's private_key_jwt (client_assertion_type %s and client_assertion)", ClientAssertionType)
	}
	if r.ClientAssertionType != "" || r.ClientAssertion != "" {
		if r.ClientAssertionType != ClientAssertionType || r.ClientAssertion == "" {
			return nil, refuse(ErrInvalidClient, "client authentication is private_key_jwt: client_assertion_type %s and client_assertion", ClientAssertionType)
		}
		svc, e := s.assertion(ctx, r.ClientAssertion, op.KindService, ErrInvalidClient, now)
		if e != nil {
			return nil, e
		}
		client = svc.DID
	}
	out, err := Introspect(ctx, s.c.Ledger, r.Token, now)
	if out == nil {
		return nil, unavailable(err)
	}
	out = s.vouch(out)
	if client != "" && out.Active && out.Aud != client {
		return &Introspection{}, nil
	}
	return out, nil
}

// errInactive explains an inactive token (for the log, never sent).
var errInactive = errors.New("inactive")

// Introspect is Server.Introspect for a node that acts for no operator.
func Introspect(ctx context.Context, l Ledger, token string, now int64) (*Introspection, error) {
	no := func(why string) (*Introspection, error) {
		return &Introspection{}, errors.Join(errInactive, errors.New(why))
	}
	c, kid, j, err := DecodeAccessToken([]byte(token))
	if err != nil {
		return no(err.Error())
	}
	p, err := l.Provider(ctx, kid.Base().String())
	if err != nil {
		return nil, err
	}
	if p == nil {
		return no("the kid names no provider")
	}
	k, ok := p.TokenKey(kid.Fragment)
	if !ok {
		return no("the provider does not publish the kid")
	}
	pk, err := k.Public()
	if err != nil || !j.Verify(pk) {
		return no("the signature does not verify")
	}
	if now >= c.Exp || c.Iat > now+clockSkew {
		return no("expired")
	}
	if c.Exp-c.Iat > MaxLifetime {
		return no("the token lives longer than any operator may let it")
	}
	var svc, dev *authn.Entity
	for _, x := range []struct{ id, kind string }{{c.Sub, op.KindDevice}, {c.Aud, op.KindService}} {
		id, err := did.ParseNoFragment(x.id)
		if err != nil {
			return no("sub or aud is not a DID")
		}
		e, d := authn.Standing(ctx, l, id, x.kind)
		if d.Reason == authn.FailUnavailable {
			return nil, errors.New(d.Detail)
		}
		if !d.OK {
			return no(string(d.Reason) + ": " + d.Detail)
		}
		if x.kind == op.KindDevice {
			dev = e
		}
		svc = e
	}
	// A token bound to a key the device no longer holds (rotated out,
	// perhaps after a compromise) is over with the key.
	if c.Cnf != nil && !holdsKey(dev, c.Cnf.Jkt) {
		return no("the device no longer holds the key the token is bound to")
	}
	// The operator must have been entitled to issue for the resource, as
	// its token endpoint decides: a token it signed beyond that is not
	// active anywhere.
	ok, err = MayIssue(ctx, l, svc, p.DID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return no("the issuer may not issue tokens for the resource")
	}
	out := &Introspection{Active: true, Scope: c.Scope, ClientID: c.ClientID, TokenType: "Bearer", Exp: c.Exp, Iat: c.Iat,
		Sub: c.Sub, Aud: c.Aud, Iss: c.Iss, Jti: c.Jti, Cnf: c.Cnf, provider: p.DID}
	if c.Cnf != nil {
		out.TokenType = "DPoP"
	}
	return out, nil
}

// holdsKey reports whether one of e's current keys has the JWK
// thumbprint jkt.
func holdsKey(e *authn.Entity, jkt string) bool {
	if e == nil {
		return false
	}
	for _, k := range e.Keys {
		pk, err := k.Public()
		if err != nil {
			continue
		}
		if t, err := did.JWKThumbprint(pk); err == nil && t == jkt {
			return true
		}
	}
	return false
}

// DecodeAccessToken decodes an access token (at most MaxJWTBytes, typ
// at+jwt, kid a provider's DID URL, strict claims) without checking its
// signature.
func DecodeAccessToken(b []byte) (*AccessClaims, did.DID, *authn.JWT, error) {
	var c AccessClaims
	j, err := authn.DecodeJWT(b, MaxJWTBytes, &c)
	if err != nil {
		return nil, did.DID{}, nil, err
	}
	if j.Header.Typ != TypAccessToken {
		return nil, did.DID{}, nil, errors.New("typ must be " + TypAccessToken)
	}
	kid, err := did.Parse(j.Header.Kid)
	if err != nil || kid.Fragment == "" {
		return nil, did.DID{}, nil, errors.New("kid must be a provider's DID URL")
	}
	return &c, kid, j, nil
}

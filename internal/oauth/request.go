package oauth

import (
	"net/url"
	"strings"
)

// Grant types.
//
//nolint:gosec // names of grant types, no credentials
const (
	GrantJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"     // RFC 7523
	GrantExchange  = "urn:ietf:params:oauth:grant-type:token-exchange" // RFC 8693
	GrantProof     = "urn:bias:params:oauth:grant-type:proof"          // a bias challenge and its proof
)

// Token types and the client assertion type.
//
//nolint:gosec // names of token types, no credentials
const (
	TokenTypeJWT        = "urn:ietf:params:oauth:token-type:jwt"
	TokenTypeAccess     = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypeIDToken    = "urn:ietf:params:oauth:token-type:id_token"
	ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" // RFC 7523 section 2.2
)

// Bounds of a request.
const (
	MaxRequestBytes = 16 << 10 // a token or introspection request's body
	MaxJWTBytes     = 4096     // an assertion, a client assertion, a subject token, a DPoP proof, an access token
	MaxScopes       = 8
	MaxScopeLen     = 64
)

// TokenRequest is a token request's parameters (RFC 6749 section 4.5 and
// the grants' RFCs), with the DPoP header of the request.
type TokenRequest struct {
	GrantType           string
	Assertion           string // jwt-bearer
	Challenge, Proof    string // the bias proof grant (compact JWS or base64url COSE_Sign1)
	SubjectToken        string // token exchange: a bias session token
	SubjectTokenType    string
	RequestedTokenType  string
	Resource            string // RFC 8707: the DID of the service the token is for
	Scope               string
	ClientID            string
	ClientAssertionType string
	ClientAssertion     string
	DPoP                string // the DPoP header (RFC 9449)
}

// tokenParams are the parameters read; others are ignored (RFC 6749
// section 3.2).
var tokenParams = []string{"grant_type", "assertion", "challenge", "proof", "subject_token", "subject_token_type",
	"requested_token_type", "resource", "scope", "client_id", "client_assertion_type", "client_assertion", "audience", "actor_token", "actor_token_type"}

// ParseTokenRequest decodes a token request's body
// (application/x-www-form-urlencoded) and its DPoP header: each parameter
// at most once (RFC 6749 section 3.2), at most one resource, the body at
// most MaxRequestBytes. Each JWT parameter is bounded when it is checked
// (an oversized assertion is invalid_grant).
func ParseTokenRequest(body []byte, dpop []string) (*TokenRequest, *Error) {
	v, e := parseForm(body, tokenParams)
	if e != nil {
		return nil, e
	}
	if len(v["resource"]) > 1 {
		// RFC 8707 section 2: a token is for one service here, and a
		// request for several is a target the server will not serve.
		return nil, refuse(ErrInvalidTarget, "name one resource: a token is for one service")
	}
	if len(dpop) > 1 {
		return nil, refuse(ErrInvalidDPoPProof, "at most one DPoP header")
	}
	if v.Get("actor_token") != "" || v.Get("actor_token_type") != "" {
		// RFC 8693 delegation: bias issues for the subject alone, and
		// does not pretend to have honoured an actor.
		return nil, refuse(ErrInvalidRequest, "actor_token is not supported: bias issues tokens for the subject itself (no delegation)")
	}
	if v.Get("audience") != "" {
		return nil, refuse(ErrInvalidTarget, "name the service with resource (its DID), not audience")
	}
	r := &TokenRequest{
		GrantType: v.Get("grant_type"), Assertion: v.Get("assertion"), Challenge: v.Get("challenge"), Proof: v.Get("proof"),
		SubjectToken: v.Get("subject_token"), SubjectTokenType: v.Get("subject_token_type"), RequestedTokenType: v.Get("requested_token_type"),
		Resource: v.Get("resource"), Scope: v.Get("scope"), ClientID: v.Get("client_id"),
		ClientAssertionType: v.Get("client_assertion_type"), ClientAssertion: v.Get("client_assertion"),
	}
	if len(dpop) == 1 {
		r.DPoP = dpop[0]
	}
	if r.GrantType == "" {
		return nil, refuse(ErrInvalidRequest, "grant_type is required")
	}
	return r, nil
}

// IntrospectRequest is an introspection request (RFC 7662 section 2.1).
type IntrospectRequest struct {
	Token, TokenTypeHint string
	// A resource server registered on the ledger may authenticate
	// (private_key_jwt): it then learns only of the tokens for it.
	ClientAssertionType, ClientAssertion string
}

// ParseIntrospectRequest decodes an introspection request's body.
func ParseIntrospectRequest(body []byte) (*IntrospectRequest, *Error) {
	v, e := parseForm(body, []string{"token", "token_type_hint", "client_assertion_type", "client_assertion"})
	if e != nil {
		return nil, e
	}
	if v.Get("token") == "" {
		return nil, refuse(ErrInvalidRequest, "token is required")
	}
	return &IntrospectRequest{Token: v.Get("token"), TokenTypeHint: v.Get("token_type_hint"),
		ClientAssertionType: v.Get("client_assertion_type"), ClientAssertion: v.Get("client_assertion")}, nil
}

// parseForm decodes a form body, each of the known parameters at most
// once and none empty-named twice.
func parseForm(body []byte, known []string) (url.Values, *Error) {
	if len(body) > MaxRequestBytes {
		return nil, refuse(ErrInvalidRequest, "the request is larger than %d bytes", MaxRequestBytes)
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, refuse(ErrInvalidRequest, "the body is not application/x-www-form-urlencoded")
	}
	for _, k := range known {
		if len(v[k]) > 1 && k != "resource" {
			return nil, refuse(ErrInvalidRequest, "parameter %s more than once", k)
		}
	}
	return v, nil
}

// parseScope splits a scope parameter (RFC 6749 section 3.3): at most
// MaxScopes distinct tokens of at most MaxScopeLen characters of
// %x21 / %x23-5B / %x5D-7E, separated by single spaces.
func parseScope(s string) ([]string, *Error) {
	if s == "" {
		return nil, nil
	}
	out := strings.Split(s, " ")
	if len(out) > MaxScopes {
		return nil, refuse(ErrInvalidScope, "at most %d scopes", MaxScopes)
	}
	seen := map[string]bool{}
	for _, t := range out {
		if t == "" || len(t) > MaxScopeLen || seen[t] {
			return nil, refuse(ErrInvalidScope, "scopes are distinct tokens of 1 to %d characters, separated by single spaces", MaxScopeLen)
		}
		seen[t] = true
		for i := 0; i < len(t); i++ {
			if c := t[i]; c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
				return nil, refuse(ErrInvalidScope, "a scope token holds only printable ASCII without space, quote or backslash")
			}
		}
	}
	return out, nil
}

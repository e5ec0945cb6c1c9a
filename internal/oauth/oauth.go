// Package oauth is a node's OAuth 2.0 authorization server, for the
// operator (provider) the node acts for: it decides token requests
// (RFC 6749) of devices that prove themselves with what they already
// have (an RFC 7523 assertion signed by their registered key, a bias
// challenge and its proof, or a bias session token, RFC 8693), issues
// RFC 9068 access tokens (optionally DPoP-bound, RFC 9449) and OpenID
// Connect ID tokens signed by the operator's token key, and answers
// introspection (RFC 7662) of any operator's tokens from the ledger.
//
// Decisions are pure: the ledger state, the access contracts, the clock
// (now), the randomness and the replay cache are inputs, so that every
// refusal has a test. HTTP is internal/api's.
//
//	as, _ := oauth.New(oauth.Config{Issuer: "https://id.op-b.example", Provider: p, Key: k, KeyID: "oauth-1",
//		Ledger: resolver, Access: decider, Spent: authn.NewMemorySpentSet(1 << 20), Rand: rand.Reader})
//	resp, oerr := as.Token(ctx, req, time.Now().Unix()) // oerr: an RFC 6749 section 5.2 error
package oauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/record"
	"github.com/bias-iot/bias/sdk"
)

// Ledger is what the authorization server reads of the ledger: entities
// and contracts (authn.View) and providers (their published token keys).
type Ledger interface {
	authn.View
	Provider(ctx context.Context, id string) (*record.Provider, error)
}

// Access runs the access contracts of a service for a device (with a
// request context), and decides a challenge with its proof: the node's
// access decisions (internal/access).
type Access interface {
	Access(ctx context.Context, req sdk.AccessRequest, now int64) (authn.Decision, error)
	Verify(ctx context.Context, challenge, proof []byte, request map[string]string, now int64) (authn.Decision, error)
}

// Paths of the endpoints under the issuer URL.
//
//nolint:gosec // paths, no credentials
const (
	PathToken      = "/oauth/token"
	PathIntrospect = "/oauth/introspect"
	PathAuthorize  = "/oauth/authorize"
	PathMetadata   = "/.well-known/oauth-authorization-server"
	PathOIDC       = "/.well-known/openid-configuration"
)

// JWKSPath is the path of a provider's JWK Set (its published token keys),
// which any node serves from the ledger.
func JWKSPath(provider string) string { return "/v1/providers/" + provider + "/jwks" }

// Lifetimes (seconds).
const (
	DefaultLifetime  = 300  // access and ID tokens
	MaxLifetime      = 3600 // what an operator may configure
	MaxAssertionLife = 300  // exp - iat of an assertion
	clockSkew        = 30   // how far ahead of our clock a message may be dated
)

// Config configures an authorization server.
type Config struct {
	// Issuer is the operator's issuer URL (RFC 8414): https, or http on a
	// loopback host; no query or fragment. The endpoints are under it.
	Issuer string
	// Provider is the operator the node acts for.
	Provider did.DID
	// Key signs the tokens; KeyID is its id in the provider's
	// publication (a DID fragment). Its JWK kid is Provider#KeyID.
	Key   cose.Signer
	KeyID string
	// Lifetime of access and ID tokens in seconds (0: DefaultLifetime).
	Lifetime int64
	Ledger   Ledger
	Access   Access
	// Spent keeps the jti of accepted assertions and DPoP proofs until
	// they expire, per signer (bounded; only a verified signature adds).
	Spent authn.SpentSet
	Rand  io.Reader
	// AnonymousIntrospection answers introspection requests that carry
	// no client authentication. Off by default: RFC 7662 section 2.1
	// wants the endpoint protected against token scanning, so a resource
	// server authenticates (private_key_jwt) and learns only of the
	// tokens for it.
	AnonymousIntrospection bool
}

// Server is an authorization server. It is safe for concurrent use.
type Server struct {
	c        Config
	issuer   string
	token    string // the token endpoint URL: the audience of assertions, the htu of DPoP proofs
	kid      string
	lifetime int64
}

// New checks c and returns its server.
func New(c Config) (*Server, error) {
	if err := CheckIssuer(c.Issuer); err != nil {
		return nil, err
	}
	if c.Provider.IsZero() || c.Key == nil || did.ValidateFragment(c.KeyID) != nil || c.Ledger == nil || c.Access == nil || c.Spent == nil || c.Rand == nil {
		return nil, errors.New("oauth: provider, key, key id, ledger, access, spent set and randomness are required")
	}
	if c.Lifetime == 0 {
		c.Lifetime = DefaultLifetime
	}
	if c.Lifetime < 1 || c.Lifetime > MaxLifetime {
		return nil, fmt.Errorf("oauth: token lifetime must be 1 to %d seconds", MaxLifetime)
	}
	iss := strings.TrimSuffix(c.Issuer, "/")
	return &Server{c: c, issuer: iss, token: iss + PathToken, kid: c.Provider.Base().WithFragment(c.KeyID).String(), lifetime: c.Lifetime}, nil
}

// CheckIssuer checks an issuer URL (RFC 8414 section 2): https (or http
// on a loopback host, for a node on one machine), a host, no query, no
// fragment, at most 256 bytes.
func CheckIssuer(s string) error {
	u, err := url.Parse(s)
	if err != nil || len(s) > 256 || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.HasSuffix(u.Path, "/") {
		return fmt.Errorf("oauth: issuer %.80q must be an https URL with a host and no query, fragment or trailing slash", s)
	}
	switch h := u.Hostname(); {
	case u.Scheme == "https":
	case u.Scheme == "http" && (h == "localhost" || strings.HasPrefix(h, "127.") || h == "::1"):
	default:
		return fmt.Errorf("oauth: issuer %.80q must be https (http only on a loopback host)", s)
	}
	// In the form DPoP proofs name it (authn.HTU: host in lower case, no
	// default port), so that the token endpoint's exact comparison of htu
	// meets what clients normalize to.
	if o, err := authn.OriginOf(u); err != nil || o != u.Scheme+"://"+u.Host {
		return fmt.Errorf("oauth: issuer %.80q must be canonical: scheme and host in lower case, no default port", s)
	}
	return nil
}

// Issuer is the server's issuer URL.
func (s *Server) Issuer() string { return s.issuer }

// MetadataPathFor reports whether path is where RFC 8414 section 3 puts
// the metadata of an issuer with a path component: the well-known suffix
// inserted between the host and the issuer's path
// (https://id.example/tenant: /.well-known/oauth-authorization-server/tenant).
// An issuer without a path has its metadata at PathMetadata alone.
func (s *Server) MetadataPathFor(path string) bool {
	u, err := url.Parse(s.issuer)
	return err == nil && u.Path != "" && path == PathMetadata+u.Path
}

// TokenEndpoint is the token endpoint's URL.
func (s *Server) TokenEndpoint() string { return s.token }

// Provider is the operator the server acts for.
func (s *Server) Provider() did.DID { return s.c.Provider }

// KeyID is the id of the server's token key in the provider's publication.
func (s *Server) KeyID() string { return s.c.KeyID }

// Error codes (RFC 6749 section 5.2, RFC 8707, RFC 9449, RFC 6749
// section 4.1.2.1).
const (
	ErrInvalidRequest       = "invalid_request"
	ErrInvalidClient        = "invalid_client"
	ErrInvalidGrant         = "invalid_grant"
	ErrUnauthorizedClient   = "unauthorized_client"
	ErrUnsupportedGrantType = "unsupported_grant_type"
	ErrInvalidScope         = "invalid_scope"
	ErrInvalidTarget        = "invalid_target"
	ErrInvalidDPoPProof     = "invalid_dpop_proof"
	ErrUnavailable          = "temporarily_unavailable"
	ErrUnsupportedResponse  = "unsupported_response_type"
)

// Error is a refusal: an RFC 6749 error code, a description that is safe
// to send (it never holds key material or the ledger's internals), and
// the HTTP status. Cause is for the log.
type Error struct {
	Code        string
	Description string
	Status      int
	Cause       error
	// Scheme is the HTTP authentication scheme the client tried in its
	// Authorization header, which a 401 answer names in WWW-Authenticate
	// (RFC 6749 section 5.2).
	Scheme string
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }
func (e *Error) Unwrap() error { return e.Cause }

func refuse(code, format string, args ...any) *Error {
	st := http.StatusBadRequest
	switch code {
	case ErrInvalidClient:
		st = http.StatusUnauthorized
	case ErrUnavailable:
		st = http.StatusServiceUnavailable
	}
	d := fmt.Sprintf(format, args...)
	if len(d) > 300 {
		d = d[:300]
	}
	return &Error{Code: code, Description: d, Status: st}
}

// CheckAuthorization refuses a request that authenticates with an
// Authorization header (client_secret_basic, a bearer token, or any
// other scheme): bias has no client secrets, and a client that tried a
// scheme must hear that its credentials were not accepted (RFC 6749
// section 5.2: 401 with WWW-Authenticate naming the scheme), not be
// served as if it had sent none. Clients authenticate with
// private_key_jwt in the body.
func CheckAuthorization(header string) *Error {
	if header == "" {
		return nil
	}
	scheme, _, _ := strings.Cut(header, " ")
	if !isToken(scheme) {
		scheme = "Basic"
	}
	e := refuse(ErrInvalidClient, "the Authorization header (%.20s) is not a client authentication this server accepts: send private_key_jwt (client_assertion_type %s and client_assertion) in the body", scheme, ClientAssertionType)
	e.Scheme = scheme
	return e
}

// isToken reports whether s is an HTTP token (RFC 9110 section 5.6.2) of
// at most 20 characters: what may name a scheme in WWW-Authenticate.
func isToken(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func unavailable(err error) *Error {
	e := refuse(ErrUnavailable, "the ledger does not answer; retry")
	e.Cause = err
	return e
}

package sdk

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/record"
)

// Service is the service side of bias authentication: it issues
// challenges signed with its registered key and decides the proofs that
// answer them, against its node's view of the ledger.
//
//	svc := &sdk.Service{Signer: key, Kid: id.WithFragment("k1"), View: sdk.View{C: client}, URL: "https://printer.example"}
//	http.Handle("/print", svc.Middleware(printHandler))
type Service struct {
	Signer   cose.Signer
	Kid      did.DID // the service's key
	View     authn.View
	Encoding authn.Encoding // of the challenges it issues; default JWS
	TTL      time.Duration  // challenge validity; default 60 s
	Now      func() time.Time
	// TokenTTL, when set, makes Middleware issue a session token (a JWT,
	// header Bias-Token) after each accepted proof, for Audience (the
	// services named; default itself) and for the access contracts that
	// decided at the Node: every service bound to one of them accepts
	// the token without a challenge.
	TokenTTL time.Duration
	Audience []did.DID
	// Allow, when set, decides conditional access after the device is
	// authenticated (until provider contracts decide on the ledger): an
	// error refuses with fail/contract-denied and its message.
	Allow func(ctx context.Context, device *authn.Entity, d authn.Decision) error
	// Node, when set, decides each proof at that node (POST
	// /v1/authn/verify) instead of locally, so that the access contracts
	// the service binds on the ledger apply; Context gives them the
	// request's context (operation, area...).
	Node    *Client
	Context func(r *http.Request) map[string]string

	// URL is the service's public base URL (scheme and host; a path is
	// ignored), as devices reach it: http, https, coap or coaps. Required:
	// its origin is signed into every challenge, and a device answers only
	// a challenge of the origin it talks to (so that no other host can
	// relay this service's challenge and use the device's proof here); the
	// DPoP proofs that come with session tokens must name it. It is never
	// taken from a request's Host header (the sender's word, not the
	// service's). Read once, at the first challenge or proof.
	URL string
	// Asks is what the service's challenges ask of a device's credential
	// (selective disclosure), by level: Challenge asks Asks[0];
	// ChallengeAt(n) asks Asks[n] (a later challenge may ask more). The
	// decision's Disclosed holds what the device disclosed, verified.
	Asks []authn.ClaimRequest

	once     sync.Once
	origin   string // of URL
	issuer   *authn.Issuer
	dpopSeen *authn.MemorySpentSet // the DPoP proofs' jti, for their window
	fault    error                 // set when the issuer could not be made
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// ErrNoURL is the fault of a service without a URL (or with one that has
// no origin): it can issue no challenge.
var ErrNoURL = errors.New("sdk.Service.URL must be the service's base URL (http, https, coap or coaps): its challenges name its origin")

// init makes the service's challenge issuer once (concurrent first
// requests share it): for the origin of its URL, with a MAC key of its
// own, so that its challenges are stateless until answered and bound to
// this instance.
func (s *Service) init() error {
	s.once.Do(func() {
		u, err := url.Parse(s.URL)
		if err == nil {
			s.origin, err = authn.OriginOf(u)
		}
		if s.URL == "" || err != nil {
			s.fault = ErrNoURL
			return
		}
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			s.fault = err
			return
		}
		s.issuer = authn.NewIssuer(s.Kid, s.origin, key, authn.NewMemorySpentSet(1<<20))
		if err := s.issuer.Ask(s.Asks...); err != nil {
			s.fault = err
			return
		}
		s.dpopSeen = authn.NewMemorySpentSet(1 << 20)
	})
	return s.fault
}

func (s *Service) ttl() int64 {
	if s.TTL == 0 {
		return 60
	}
	return int64(s.TTL / time.Second)
}

func (s *Service) encoding() authn.Encoding {
	if s.Encoding == "" {
		return authn.JWS
	}
	return s.Encoding
}

// Challenge issues a new signed challenge. It keeps nothing: anonymous
// requests for challenges cost a signature and no memory (authn.Issuer).
func (s *Service) Challenge() ([]byte, error) { return s.ChallengeAt(0) }

// ChallengeAt issues a challenge that asks what Asks[level] asks.
func (s *Service) ChallengeAt(level int) ([]byte, error) {
	if err := s.init(); err != nil {
		return nil, err
	}
	c, err := s.issuer.NewAt(s.now().Unix(), s.ttl(), level)
	if err != nil {
		return nil, err
	}
	return authn.SignChallenge(s.Signer, c, s.encoding())
}

// verifyAtNode has the node decide the proof, with the challenge it
// answers (signed again: the challenge itself is not kept); the nonce is
// spent here once the node accepted, so that a forged proof naming an
// observed nonce spends nothing.
func (s *Service) verifyAtNode(ctx context.Context, proof []byte, request map[string]string) authn.Decision {
	if err := s.init(); err != nil {
		return authn.Decision{Reason: authn.FailUnavailable, Detail: "the service has no challenge key"}
	}
	p, _, err := authn.DecodeProof(proof, s.origin)
	if err != nil {
		return authn.Decision{Reason: authn.FailMalformed, Detail: err.Error()}
	}
	now := s.now().Unix()
	c, d := s.issuer.Check(p.ServiceNonce, now)
	if !d.OK {
		return d
	}
	ch, err := authn.SignChallenge(s.Signer, c, s.encoding())
	if err != nil {
		return authn.Decision{Reason: authn.FailUnavailable, Detail: "the service could not sign"}
	}
	dec, err := s.Node.VerifyIn(ctx, ch, proof, request)
	if err != nil {
		return authn.Decision{Reason: authn.FailUnavailable, Detail: "the node did not answer"}
	}
	if !dec.OK {
		return *dec
	}
	if _, d := s.issuer.Spend(p.ServiceNonce, now); !d.OK {
		d.Device, d.Service, d.At = dec.Device, dec.Service, now
		return d
	}
	return *dec
}

// Verify decides a proof that answers one of this service's challenges.
func (s *Service) Verify(ctx context.Context, proof []byte) authn.Decision {
	if err := s.init(); err != nil {
		return authn.Decision{Reason: authn.FailUnavailable, Detail: "the service has no challenge key"}
	}
	d := authn.VerifyProof(ctx, s.View, s.issuer, s.Kid.Base(), s.origin, proof, s.now().Unix())
	return s.allow(ctx, d)
}

func (s *Service) allow(ctx context.Context, d authn.Decision) authn.Decision {
	if !d.OK || s.Allow == nil {
		return d
	}
	id, err := did.ParseNoFragment(d.Device)
	if err != nil {
		return d
	}
	e, err := s.View.Entity(ctx, id)
	if err != nil || e == nil {
		d.OK, d.Reason, d.Detail = false, authn.FailUnavailable, "the ledger view failed"
		return d
	}
	if err := s.Allow(ctx, e, d); err != nil {
		d.OK, d.Reason, d.Detail = false, authn.FailContractDenied, err.Error()
	}
	return d
}

type decisionKey struct{}

// DecisionFrom returns the authentication decision that Middleware put in
// the request's context.
func DecisionFrom(ctx context.Context) (authn.Decision, bool) {
	d, ok := ctx.Value(decisionKey{}).(authn.Decision)
	return d, ok
}

// AuthScheme is the HTTP authentication scheme of bias.
const AuthScheme = "Bias"

// Middleware protects next: a request without a proof gets 401 with a
// challenge (WWW-Authenticate: Bias challenge="..."); a request with
// Authorization: Bias proof="..." reaches next when the proof is accepted,
// with the decision in its context, and gets 401 with the reason otherwise.
//
// A request with Authorization: DPoP <session token> and its DPoP proof
// (RFC 9449: signed by the device's key, for this method and URL) is
// accepted without a challenge when the token is for this service, bound
// to that key, and its device is still validated (one registration, many
// services). A token presented as Bearer, without a proof, is refused: a
// token that leaked is of no use without the device's key.
func (s *Service) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if _, ok := strings.CutPrefix(auth, "Bearer "); ok {
			s.challenge(w, string(authn.FailUnboundToken))
			return
		}
		if tok, ok := strings.CutPrefix(auth, "DPoP "); ok {
			d := s.acceptToken(r, []byte(tok))
			if !d.OK {
				s.challenge(w, string(d.Reason))
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), decisionKey{}, d)))
			return
		}
		proof, ok := proofFrom(auth)
		if !ok {
			s.challenge(w, "")
			return
		}
		var d authn.Decision
		if s.Node != nil {
			var request map[string]string
			if s.Context != nil {
				request = s.Context(r)
			}
			d = s.allow(r.Context(), s.verifyAtNode(r.Context(), proof, request))
		} else {
			d = s.Verify(r.Context(), proof)
		}
		if !d.OK {
			s.challenge(w, string(d.Reason))
			return
		}
		if s.TokenTTL > 0 {
			if tok, err := s.issueToken(r.Context(), d); err == nil {
				w.Header().Set(TokenHeader, string(tok))
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), decisionKey{}, d)))
	})
}

// acceptToken decides a session token presented with its DPoP proof.
func (s *Service) acceptToken(r *http.Request, tok []byte) authn.Decision {
	if err := s.init(); err != nil {
		return authn.Decision{Reason: authn.FailUnavailable, Detail: "the service has no replay set"}
	}
	htu, ok := s.htu(r)
	if !ok {
		// The URL a DPoP proof names is checked against the service's
		// own, never against the request's Host: a party that holds the
		// device's proofs for its own URL would send them with its Host.
		return authn.Decision{Reason: authn.FailBadDPoP, Detail: "this service accepts no session token: it has no URL (sdk.Service.URL) to check DPoP proofs against"}
	}
	c, d := authn.VerifyBoundToken(r.Context(), s.View, s.dpopSeen, tok, []byte(r.Header.Get("DPoP")), r.Method, htu, s.Kid.Base(), s.now().Unix())
	if d.OK && s.Node != nil {
		// The issuer's decision stands for the device's authentication;
		// this service's own contracts decide its access, with itself
		// and this request as inputs.
		req := AccessRequest{Device: d.Device, Service: s.Kid.Base().String()}
		if c.Iss != req.Service { // the node decides again on another issuer's tokens
			req.Issuer, req.Audience = c.Iss, c.Aud
		}
		d = s.accessAtNode(r, d, req)
	}
	return s.allow(r.Context(), d)
}

// htu is the URL of a request as this service is reached: URL's scheme
// and host when set, else the request's, and its path.
func (s *Service) htu(r *http.Request) (string, bool) {
	base, err := url.Parse(s.URL)
	if s.URL == "" || err != nil || base.Host == "" {
		return "", false
	}
	// The path as the client sent it (a handler mounted under a prefix
	// sees it stripped in r.URL).
	p, err := url.ParseRequestURI(r.RequestURI)
	if err != nil || r.RequestURI == "" {
		p = r.URL
	}
	return authn.HTU(&url.URL{Scheme: base.Scheme, Host: base.Host, Path: p.Path, RawPath: p.RawPath}), true
}

// issueToken issues the session token of an accepted decision, bound to
// the key the device proved possession of.
func (s *Service) issueToken(ctx context.Context, d authn.Decision) ([]byte, error) {
	kid, err := did.Parse(d.Kid)
	if err != nil {
		return nil, err
	}
	dev, err := s.View.Entity(ctx, kid.Base())
	if err != nil {
		return nil, fmt.Errorf("the device's record: %w", err)
	}
	if dev == nil {
		return nil, errors.New("the device is not registered")
	}
	k, ok := record.FindKey(dev.Keys, kid.Fragment)
	if !ok {
		return nil, fmt.Errorf("%s is not a current key", d.Kid)
	}
	pk, err := k.Public()
	if err != nil {
		return nil, err
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return nil, err
	}
	return authn.IssueBoundToken(s.Signer, s.Kid, d, pk, s.Audience, s.now().Unix(), int64(s.TokenTTL/time.Second), jti)
}

// accessAtNode runs the service's access contracts at its node for the
// device of an accepted token.
func (s *Service) accessAtNode(r *http.Request, d authn.Decision, req AccessRequest) authn.Decision {
	if s.Context != nil {
		req.Context = s.Context(r)
	}
	a, err := s.Node.Access(r.Context(), req)
	if err != nil {
		return authn.Decision{Reason: authn.FailUnavailable, Detail: "the node did not decide access", Device: d.Device, Service: d.Service, At: d.At}
	}
	if !a.OK {
		return *a
	}
	d.Contract = a.Contract
	return d
}

// TokenHeader carries a session token in a response.
const TokenHeader = "Bias-Token"

func (s *Service) challenge(w http.ResponseWriter, reason string) {
	c, err := s.Challenge()
	if err != nil {
		http.Error(w, "cannot issue a challenge", http.StatusServiceUnavailable)
		return
	}
	v := AuthScheme + ` challenge="` + authn.EncodeText(c) + `"`
	if reason != "" {
		v += `, error="` + reason + `"`
	}
	w.Header().Set("WWW-Authenticate", v)
	http.Error(w, "bias authentication required"+map[bool]string{true: ": " + reason, false: ""}[reason != ""], http.StatusUnauthorized)
}

// param extracts name="value" from an auth header of scheme Bias.
func param(h, name string) (string, bool) {
	rest, ok := strings.CutPrefix(h, AuthScheme+" ")
	if !ok {
		return "", false
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && k == name {
			return strings.Trim(v, `"`), true
		}
	}
	return "", false
}

func proofFrom(h string) ([]byte, bool) {
	v, ok := param(h, "proof")
	if !ok {
		return nil, false
	}
	b, err := authn.DecodeText(v)
	return b, err == nil
}

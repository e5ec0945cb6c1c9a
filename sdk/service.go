package sdk

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
)

// Service is the service side of bias authentication: it issues
// challenges signed with its registered key and decides the proofs that
// answer them, against its node's view of the ledger.
//
//	svc := &sdk.Service{Signer: key, Kid: id.WithFragment("k1"), View: sdk.View{C: client}}
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

	issued issuedSet // challenge bytes by nonce, for Node

	storeOnce sync.Once
	store     *authn.ChallengeStore
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// init makes the challenge store once: concurrent first requests share it.
func (s *Service) init() {
	s.storeOnce.Do(func() { s.store = authn.NewChallengeStore(1 << 16) })
}

// Challenge issues a new signed challenge.
func (s *Service) Challenge() ([]byte, error) {
	s.init()
	nonce := make([]byte, authn.NonceLen)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	ttl := s.TTL
	if ttl == 0 {
		ttl = time.Minute
	}
	now := s.now().Unix()
	c := authn.NewChallenge(s.Kid, nonce, now, int64(ttl/time.Second))
	if !s.store.Add(c, now) {
		return nil, fmt.Errorf("too many open challenges")
	}
	enc := s.Encoding
	if enc == "" {
		enc = authn.JWS
	}
	b, err := authn.SignChallenge(s.Signer, c, enc)
	if err == nil && s.Node != nil {
		s.issued.put(string(nonce), b)
	}
	return b, err
}

// verifyAtNode has the node decide the proof with the challenge it
// answers; the local store still spends the nonce once.
func (s *Service) verifyAtNode(ctx context.Context, proof []byte, request map[string]string) authn.Decision {
	p, _, err := authn.DecodeProof(proof)
	if err != nil {
		return authn.Decision{Reason: authn.FailMalformed, Detail: err.Error()}
	}
	v, ok := s.issued.take(string(p.ServiceNonce))
	if !ok {
		return authn.Decision{Reason: authn.FailUnknownChallenge, Detail: "no challenge with this nonce was issued here"}
	}
	if _, spent := s.store.Spend(p.ServiceNonce, s.now().Unix()); spent {
		return authn.Decision{Reason: authn.FailReplayedNonce}
	}
	d, err := s.Node.VerifyIn(ctx, v, proof, request)
	if err != nil {
		return authn.Decision{Reason: authn.FailUnavailable, Detail: "the node did not answer"}
	}
	return *d
}

// Verify decides a proof that answers one of this service's challenges.
func (s *Service) Verify(ctx context.Context, proof []byte) authn.Decision {
	s.init()
	d := authn.VerifyProof(ctx, s.View, s.store, s.Kid.Base(), proof, s.now().Unix())
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
// A request with Authorization: Bearer <session token> is accepted without
// a challenge when the token is for this service and its device is still
// validated (one registration, many services).
func (s *Service) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if tok, ok := strings.CutPrefix(auth, "Bearer "); ok {
			c, d := authn.VerifyToken(r.Context(), s.View, []byte(tok), s.Kid.Base(), s.now().Unix())
			if d.OK && s.Node != nil {
				// The issuer's decision stands for the device's
				// authentication; this service's own contracts decide
				// its access, with itself and this request as inputs.
				req := AccessRequest{Device: d.Device, Service: s.Kid.Base().String()}
				if c.Iss != req.Service { // the node decides again on another issuer's tokens
					req.Issuer, req.Audience = c.Iss, c.Aud
				}
				d = s.accessAtNode(r, d, req)
			}
			d = s.allow(r.Context(), d)
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
			jti := make([]byte, 16)
			rand.Read(jti)
			if tok, err := authn.IssueToken(s.Signer, s.Kid, d, s.Audience, s.now().Unix(), int64(s.TokenTTL/time.Second), jti); err == nil {
				w.Header().Set(TokenHeader, string(tok))
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), decisionKey{}, d)))
	})
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

// issuedSet keeps the bytes of the last maxIssued challenges issued (the
// oldest go first): unanswered challenges cannot grow it without bound.
type issuedSet struct {
	mu    sync.Mutex
	m     map[string][]byte
	order []string
}

const maxIssued = 1 << 16

func (s *issuedSet) put(nonce string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	for len(s.order) >= maxIssued {
		delete(s.m, s.order[0])
		s.order = s.order[1:]
	}
	s.m[nonce] = b
	s.order = append(s.order, nonce)
}

func (s *issuedSet) take(nonce string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[nonce]
	delete(s.m, nonce) // its place in order is dropped when it comes up
	return b, ok
}

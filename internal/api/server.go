// Package api is the node's HTTP API: one route table, handlers that
// return errors, one renderer that maps them to a status code, a stable
// reason code and a safe message. Operations come in as application/cose
// bytes; records go out as JSON views (package sdk).
package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	_ "embed"

	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/access"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/metrics"
	"github.com/bias-iot/bias/internal/oauth"
	"github.com/bias-iot/bias/internal/resolver"
	"github.com/bias-iot/bias/lightclient"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

//go:embed openapi.yaml
var openAPI []byte

// Prechecker checks an operation against the committed state before it is
// submitted, concurrently: a rejection is an *op.Error.
type Prechecker interface {
	Precheck(tx []byte) error
}

// Config is what the API serves: a ledger (submissions, headers, status,
// blocks), the resolver of its state and the access decisions.
type Config struct {
	Ledger   ledger.Ledger
	Resolver *resolver.Resolver
	Access   *access.Decider
	// Precheck checks each submission first, on the request's goroutine
	// (so that signature checks run in parallel); nil: only its form.
	Precheck Prechecker
	Log      *slog.Logger
	// Event streams (GET /v1/events, /v1/authn/events): at most
	// MaxStreams open at once, MaxStreamsPerClient per client address; a
	// stream replays at most the last MaxReplayBlocks blocks. Zero: the
	// defaults (DefaultMaxStreams...).
	MaxStreams, MaxStreamsPerClient, MaxReplayBlocks int
	// SubmitTimeout is how long a submission waits for its block before
	// the API answers 504 timeout (0: DefaultSubmitTimeout).
	SubmitTimeout time.Duration
	// OAuth is the node's authorization server (nil: the node acts for no
	// provider; it still serves JWK Sets and introspection).
	OAuth *oauth.Server
	// X509 is the node's certificate authority (x509.go); nil: none.
	X509 X509
	// Metrics receives the API's metrics and is served at /metrics; nil:
	// none (and /metrics is 404).
	Metrics *metrics.Metrics
}

// DefaultSubmitTimeout is how long a submission waits for its block
// unless Config.SubmitTimeout says otherwise.
const DefaultSubmitTimeout = 30 * time.Second

// Server serves the API.
type Server struct {
	l             ledger.Ledger
	res           *resolver.Resolver
	acc           *access.Decider
	pre           Prechecker
	network       string
	log           *slog.Logger
	submitTimeout time.Duration
	decisions     *decisionLog
	heavy         chan struct{} // a slot per large submission under way
	paging        chan struct{} // a slot per page of event history being read
	streams       *streamLimiter
	maxReplay     int
	oauth         *oauth.Server
	x509          X509
	metrics       *metrics.Metrics
}

// New returns the API of c.
func New(c Config) *Server {
	or := func(v, d int) int {
		if v > 0 {
			return v
		}
		return d
	}
	s := &Server{l: c.Ledger, res: c.Resolver, acc: c.Access, pre: c.Precheck, network: c.Resolver.Network(), log: c.Log,
		submitTimeout: DefaultSubmitTimeout, decisions: newDecisionLog(10000), heavy: make(chan struct{}, 2), paging: make(chan struct{}, 2),
		streams:   newStreamLimiter(or(c.MaxStreams, DefaultMaxStreams), or(c.MaxStreamsPerClient, DefaultMaxStreamsPerClient)),
		maxReplay: or(c.MaxReplayBlocks, DefaultMaxReplayBlocks), x509: c.X509}
	s.oauth, s.metrics = c.OAuth, c.Metrics
	if c.SubmitTimeout > 0 {
		s.submitTimeout = c.SubmitTimeout
	}
	return s
}

// Handler returns the route table.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, h func(http.ResponseWriter, *http.Request) error) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := h(w, r); err != nil {
				s.renderError(w, r, err)
			}
		})
	}
	route("POST /v1/operations", s.submit)
	route("GET /v1/operations/{hash}", s.operation)
	route("GET /v1/operations/{hash}/inclusion", s.inclusion) // inclusion.go
	route("GET /v1/entities/{did}", s.entity)
	route("GET /v1/entities/{did}/versions/{version}", s.entityVersion)
	route("GET /v1/providers", s.providers)
	route("GET /v1/providers/{did}", s.provider)
	route("GET /v1/gov", s.governance)
	route("GET /v1/gov/proposals", s.proposals)
	route("GET /v1/gov/proposals/{id}", s.proposal)
	route("GET /v1/status", s.status)
	route("GET /v1/version", s.version)
	route("GET /v1/blocks/{height}", s.header)
	route("GET /v1/blocks/{height}/signed", s.signedHeader)
	route("GET /v1/openapi.yaml", s.openAPIDocument)
	route("GET /healthz", s.healthz)
	route("GET /livez", s.livez)
	route("GET /readyz", s.readyz)
	metricsHandler := s.metrics.Handler()
	route("GET /metrics", func(w http.ResponseWriter, r *http.Request) error {
		if s.metrics == nil {
			return fail(ReasonNotFound, "metrics are off on this node")
		}
		metricsHandler.ServeHTTP(w, r)
		return nil
	})
	route("GET /1.0/identifiers/{did...}", s.resolveHTTP)
	route("GET /1.0/identify", s.identify)
	route("OPTIONS /1.0/identifiers/{did...}", s.preflight)
	route("OPTIONS /1.0/identify", s.preflight)
	route("GET /contexts/{name}", s.jsonLDContext)
	route("POST /v1/authn/verify", s.verify)
	route("POST /v1/authn/access", s.accessOnly)
	route("GET /v1/events", s.events)
	route("GET /v1/events/history", s.eventHistory)
	route("GET /v1/authn/events", s.decisionEvents)
	route("GET /v1/entities/{did}/jwks", s.jwks)
	route("GET /v1/providers/{did}/contracts", s.contracts)
	route("GET /v1/providers/{did}/contracts/{name}", s.contractRecord)
	route("POST /v1/contracts/dry-run", s.dryRun)
	route("GET /.well-known/oauth-authorization-server", s.oauthMetadata) // oauth.PathMetadata
	route("GET /.well-known/openid-configuration", s.oauthMetadata)       // oauth.PathOIDC
	route("POST /oauth/token", s.oauthToken)                              // oauth.PathToken
	route("POST /oauth/introspect", s.oauthIntrospect)                    // oauth.PathIntrospect
	route("GET /oauth/authorize", s.oauthAuthorize)                       // oauth.PathAuthorize

	route("GET /.well-known/oauth-authorization-server/{path...}", s.oauthMetadataAt) // RFC 8414 section 3
	route("GET /v1/providers/{did}/jwks", s.providerJWKS)
	route("GET /v1/providers/{did}/credentials/{id}", s.credentialStatus) // authn.go
	route("POST /v1/x509/issue", s.x509Issue)
	route("GET /v1/x509/ca/{provider}", s.x509CA)
	route("GET /v1/x509/crl/{provider}", s.x509CRL)
	route("POST /v1/x509/ocsp/{provider}", s.x509OCSP)
	route("GET /v1/x509/ocsp/{provider}/{request...}", s.x509OCSP)
	// No route: 404, or 405 with Allow when the path exists with other
	// methods (as the mux decides), both in the one error format.
	return s.observe(mux, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, ocspPrefix) {
			// Base64 in the path may hold "//": the mux would redirect to
			// a cleaned path, which OCSP clients do not follow.
			if err := s.x509OCSP(w, r); err != nil {
				s.renderError(w, r, err)
			}
			return
		}
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		probe := &statusProbe{header: http.Header{}}
		mux.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", probe.header.Get("Allow"))
			s.renderError(w, r, fail(ReasonMethodNotAllowed, "method not allowed here; see Allow"))
			return
		}
		s.renderError(w, r, fail(ReasonNotFound, "no such route"))
	}))
}

// statusProbe records the status and headers the mux would answer with.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(code int)        { p.status = code }

// Error is what a client sees of a failure.
type Error struct {
	Status int
	Reason string
	Msg    string
	Hash   string
	Proof  *sdk.ProofView // a proof of absence, for a 404 asked with proof=true
	From   int64          // the height to look an operation up from (a 504, a lookup's 404)
	First  int64          // the first block the node holds (a 410 pruned)
	Err    error          // the cause, for the log only
}

func (e *Error) Error() string { return e.Reason + ": " + e.Msg }
func (e *Error) Unwrap() error { return e.Err }

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Reason: string(op.ReasonInternal), Msg: "internal error", Err: err}
	}
	noteReason(r.Context(), e.Reason)
	if e.Status >= 500 && e.Status != http.StatusServiceUnavailable && e.Status != http.StatusGatewayTimeout {
		s.log.Error("request failed", "request_id", RequestIDOf(r.Context()), "method", r.Method, "path", r.URL.Path, "reason", e.Reason, "err", e.Err)
	}
	if e.Status == http.StatusServiceUnavailable || e.Status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.Status, sdk.ErrorBody{Reason: e.Reason, Message: e.Msg, Hash: e.Hash, Proof: e.Proof, From: e.From, First: e.First})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// submit takes an operation; with metrics on, it counts it by type,
// result and reason.
func (s *Server) submit(w http.ResponseWriter, r *http.Request) error {
	if s.metrics == nil {
		return s.submitOp(w, r, nil)
	}
	var tx []byte
	err := s.submitOp(w, r, &tx)
	reason := string(op.ReasonOK)
	if err != nil {
		reason = string(op.ReasonInternal)
		var e *Error
		if errors.As(err, &e) {
			reason = e.Reason
		}
	}
	s.metrics.Submitted(op.PeekType(tx), err == nil, reason)
	return err
}

// submitOp is submit; it leaves the operation's bytes in *got when got
// is not nil.
func (s *Server) submitOp(w http.ResponseWriter, r *http.Request, got *[]byte) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != sdk.MediaTypeCOSE {
		return fail(ReasonUnsupportedMedia, "send the operation as "+sdk.MediaTypeCOSE)
	}
	tx, err := readBody(r, op.MaxEnrollBytes+1)
	if err != nil {
		return rejection(op.ReasonMalformed, "could not read the body")
	}
	if got != nil {
		*got = tx
	}
	// An operation larger than a single entity's (a bulk enrollment, or
	// junk) is checked by at most a few requests at a time: the work
	// before its signature is known good stays bounded. The slot is held
	// for the check alone, never while a body arrives or a block is
	// awaited.
	heavy := len(tx) > op.MaxOpBytes
	if heavy {
		select {
		case s.heavy <- struct{}{}:
		default:
			return fail(ReasonTooManyRequests, "too many large operations at once; retry later")
		}
	}
	// Reject what would fail before it reaches the ledger; the
	// application checks everything again.
	sum := sha256.Sum256(tx)
	hash := hex.EncodeToString(sum[:])
	check := func(tx []byte) error { _, err := op.Decode(tx); return err }
	if s.pre != nil {
		check = s.pre.Precheck
	}
	err = check(tx)
	if heavy {
		<-s.heavy
	}
	if err != nil {
		var oe *op.Error
		if !errors.As(err, &oe) {
			return err
		}
		if oe.Reason == op.ReasonReplayed {
			return s.appliedOr(w, r, tx, hash, withHash(rejection(oe.Reason, oe.Msg), hash))
		}
		return withHash(rejection(oe.Reason, oe.Msg), hash)
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.submitTimeout)
	defer cancel()
	res, err := s.l.Submit(ctx, tx)
	switch {
	case errors.Is(err, ledger.ErrDuplicate):
		return withHash(rejection(op.ReasonReplayed, "this operation was already submitted (it may still be pending)"), hash)
	case errors.Is(err, ledger.ErrFull):
		return withHash(rejection(op.ReasonMempoolFull, "the node is overloaded; retry later"), hash)
	case errors.Is(err, context.DeadlineExceeded):
		return s.timedOut(r.Context(), hash, "not committed within "+s.submitTimeout.String())
	case errors.Is(err, ledger.ErrDropped):
		return s.timedOut(r.Context(), hash, "no block took it while the ledger waited (submitting the same bytes again is safe)")
	case errors.Is(err, context.Canceled):
		return withHash(fail(ReasonCanceled, "the client went away"), hash)
	case err != nil:
		return &Error{Status: http.StatusInternalServerError, Reason: string(op.ReasonInternal), Msg: "the ledger failed", Err: err}
	}
	if res.Code != 0 {
		refused := withHash(rejection(op.ReasonFromCode(res.Code), res.Log), hash)
		if op.ReasonFromCode(res.Code) == op.ReasonReplayed {
			return s.appliedOr(w, r, tx, hash, refused)
		}
		return refused
	}
	writeJSON(w, http.StatusOK, committed(res, hash))
	return nil
}

// timedOut is the 504 of a submission not committed in time: it may
// still commit. Its body names the operation's hash and the height to
// look it up from (GET /v1/operations/{hash}?from=): it was not in a
// block when the wait ended (one block earlier, should the wait and the
// commit have crossed).
func (s *Server) timedOut(ctx context.Context, hash, why string) error {
	e := withHash(rejection(op.ReasonTimeout, why+"; it may still commit: look it up with GET /v1/operations/"+hash), hash)
	if st, err := s.l.Status(ctx); err == nil {
		e.From = max(st.Height-1, 1)
		e.Msg += "?from=" + strconv.FormatInt(e.From, 10)
	}
	return e
}

// readBody reads at most limit bytes of r's body, into one buffer of the
// size the request declares (no growing copies of a large body).
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength < 0 || r.ContentLength > limit {
		return io.ReadAll(io.LimitReader(r.Body, limit))
	}
	buf := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(r.Body, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// appliedOr answers a submission refused as a replay with the result of
// the operation it is, when that applied (a relay's re-encoding of the
// sender's operation may have landed first): the sender learns that its
// operation is in, at the height and version it made. Else refused.
func (s *Server) appliedOr(w http.ResponseWriter, r *http.Request, tx []byte, hash string, refused *Error) error {
	signed, err := op.Decode(tx)
	if err != nil {
		return refused
	}
	rd, err := s.res.Applied(r.Context(), signed)
	if err != nil {
		// The refusal stands; the failed read is the node's to know of.
		s.log.Warn("replayed operation: reading what it applied failed", "hash", hash, "err", err)
		return refused
	}
	if rd == nil {
		return refused
	}
	e := rd.Record
	writeJSON(w, http.StatusOK, sdk.SubmitResult{Status: "committed", Reason: string(op.ReasonOK), Hash: hash, Height: e.UpdatedHeight,
		DID: e.DID, Version: e.Version, EntityStatus: e.Status})
	return nil
}

// withHash names the operation an error is about.
func withHash(e *Error, hash string) *Error {
	e.Hash = hash
	return e
}

func (s *Server) parseDID(r *http.Request) (string, error) {
	d, err := did.ParseNoFragment(r.PathValue("did"))
	if err != nil {
		return "", fail(ReasonInvalidDID, err.Error())
	}
	if d.Network != s.network {
		return "", rejection(op.ReasonWrongNetwork, "this node serves network "+s.network)
	}
	return d.String(), nil
}

// readFailed maps a failed read of the state to what the client sees: a
// refused query is the request's fault, anything else the node's.
func readFailed(err error) error {
	var qe *resolver.QueryError
	if errors.As(err, &qe) {
		return &Error{Status: http.StatusBadRequest, Reason: qe.Reason, Msg: qe.Msg}
	}
	return err
}

// positive parses a positive integer parameter.
func positive[T int64 | uint64](v, name string) (T, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, rejection(op.ReasonInvalidField, name+" must be a positive integer")
	}
	return T(n), nil
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) error {
	st, err := s.l.Status(r.Context())
	if err != nil {
		return err
	}
	out := sdk.StatusView{
		Network: st.Network, NodeID: st.NodeID, Height: st.Height, AppHash: hex.EncodeToString(st.AppHash),
		Time: st.Time, CatchingUp: st.CatchingUp, Validators: []sdk.ValidatorView{},
	}
	for _, v := range st.Validators {
		out.Validators = append(out.Validators, sdk.ValidatorView{Address: v.Address, PubKey: v.PubKey, Power: v.Power})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) header(w http.ResponseWriter, r *http.Request) error {
	height, err := positive[int64](r.PathValue("height"), "height")
	if err != nil {
		return err
	}
	h, err := s.l.Header(r.Context(), height)
	if errors.Is(err, ledger.ErrNotFound) {
		return fail(ReasonNotFound, fmt.Sprintf("no block %d yet", height))
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sdk.HeaderView{Network: h.Network, Height: h.Height, Time: h.Time, AppHash: hex.EncodeToString(h.AppHash)})
	return nil
}

// SignedHeaders is what a ledger engine offers a light client: a block's
// header with the commit that decided it (lightclient checks it against
// the validator set it trusts).
type SignedHeaders interface {
	SignedHeader(ctx context.Context, height int64) (*lightclient.SignedHeader, error)
}

func (s *Server) signedHeader(w http.ResponseWriter, r *http.Request) error {
	height, err := positive[int64](r.PathValue("height"), "height")
	if err != nil {
		return err
	}
	sh, ok := s.l.(SignedHeaders)
	if !ok {
		return fail(ReasonNotImplemented, "this ledger engine has no signed headers")
	}
	out, err := sh.SignedHeader(r.Context(), height)
	if errors.Is(err, ledger.ErrNotFound) {
		return fail(ReasonNotFound, fmt.Sprintf("no block %d yet", height))
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// Package api is the node's HTTP API: one route table, handlers that
// return errors, one renderer that maps them to a status code, a stable
// reason code and a safe message. Operations come in as application/cose
// bytes; records go out as JSON views (package sdk).
package api

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"time"

	_ "embed"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/registry"
	"github.com/bias-iot/bias/lightclient"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/proof"
	"github.com/bias-iot/bias/sdk"
)

//go:embed openapi.yaml
var openAPI []byte

// Prechecker checks an operation against the committed state before it is
// submitted, concurrently: a rejection is an *op.Error.
type Prechecker interface {
	Precheck(tx []byte) error
}

// Server serves the API over a ledger.
type Server struct {
	l             ledger.Ledger
	pre           Prechecker
	network       string
	log           *slog.Logger
	submitTimeout time.Duration
	spent         *authn.MemorySpentSet
	decisions     *decisionLog
	programs      programCache
}

// New returns the API of network over l. Each submission goes through
// pre first (on the request's goroutine, so that signature checks run in
// parallel); with a nil pre, only its form is checked.
func New(l ledger.Ledger, pre Prechecker, network string, log *slog.Logger) *Server {
	return &Server{l: l, pre: pre, network: network, log: log, submitTimeout: 30 * time.Second, spent: authn.NewMemorySpentSet(1 << 20), decisions: newDecisionLog(10000)}
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
	route("GET /v1/entities/{did}", s.entity)
	route("GET /v1/entities/{did}/versions/{version}", s.entityVersion)
	route("GET /v1/providers", s.providers)
	route("GET /v1/providers/{did}", s.provider)
	route("GET /v1/status", s.status)
	route("GET /v1/blocks/{height}", s.header)
	route("GET /v1/blocks/{height}/signed", s.signedHeader)
	route("GET /v1/openapi.yaml", func(w http.ResponseWriter, _ *http.Request) error {
		w.Header().Set("Content-Type", "application/yaml")
		_, err := w.Write(openAPI)
		return err
	})
	route("GET /healthz", s.healthz)
	route("GET /1.0/identifiers/{did}", s.resolveHTTP)
	route("GET /1.0/identify", s.identify)
	route("POST /v1/authn/verify", s.verify)
	route("POST /v1/authn/access", s.accessOnly)
	route("GET /v1/events", s.events)
	route("GET /v1/authn/events", s.decisionEvents)
	route("GET /v1/entities/{did}/jwks", s.jwks)
	route("GET /v1/providers/{did}/contracts", s.contracts)
	route("GET /v1/providers/{did}/contracts/{name}", s.contractRecord)
	route("POST /v1/contracts/dry-run", s.dryRun)
	// No route: 404, or 405 with Allow when the path exists with other
	// methods (as the mux decides), both in the one error format.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		probe := &statusProbe{header: http.Header{}}
		mux.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", probe.header.Get("Allow"))
			s.renderError(w, r, &Error{Status: http.StatusMethodNotAllowed, Reason: "method-not-allowed", Msg: "method not allowed here; see Allow"})
			return
		}
		s.renderError(w, r, &Error{Status: http.StatusNotFound, Reason: "not-found", Msg: "no such route"})
	})
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
	Err    error          // the cause, for the log only
}

func (e *Error) Error() string { return e.Reason + ": " + e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// statusOf maps an operation's rejection reason to an HTTP status.
func statusOf(r op.Reason) int {
	switch r {
	case op.ReasonMalformed, op.ReasonInvalidField, op.ReasonUnsupportedAlg, op.ReasonWrongNetwork:
		return http.StatusBadRequest
	case op.ReasonOversized:
		return http.StatusRequestEntityTooLarge
	case op.ReasonBadSignature, op.ReasonUnknownSigner:
		return http.StatusUnauthorized
	case op.ReasonUnauthorized:
		return http.StatusForbidden
	case op.ReasonUnknownEntity, op.ReasonUnknownProvider:
		return http.StatusNotFound
	case op.ReasonReplayed, op.ReasonStaleVersion, op.ReasonInvalidTransition, op.ReasonAliasTaken:
		return http.StatusConflict
	case op.ReasonBadTicket, op.ReasonBadContract:
		return http.StatusUnprocessableEntity
	case op.ReasonMempoolFull:
		return http.StatusServiceUnavailable
	case op.ReasonTimeout:
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Reason: string(op.ReasonInternal), Msg: "internal error", Err: err}
	}
	if e.Status >= 500 && e.Status != http.StatusServiceUnavailable && e.Status != http.StatusGatewayTimeout {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "reason", e.Reason, "err", e.Err)
	}
	if e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.Status, sdk.ErrorBody{Reason: e.Reason, Message: e.Msg, Hash: e.Hash, Proof: e.Proof})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func rejection(r op.Reason, msg, hash string) *Error {
	return &Error{Status: statusOf(r), Reason: string(r), Msg: msg, Hash: hash}
}

func (s *Server) submit(w http.ResponseWriter, r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != sdk.MediaTypeCOSE {
		return &Error{Status: http.StatusUnsupportedMediaType, Reason: string(op.ReasonMalformed), Msg: "send the operation as " + sdk.MediaTypeCOSE}
	}
	tx, err := io.ReadAll(io.LimitReader(r.Body, op.MaxEnrollBytes+1))
	if err != nil {
		return &Error{Status: http.StatusBadRequest, Reason: string(op.ReasonMalformed), Msg: "could not read the body"}
	}
	// Reject what would fail before it reaches the ledger; the
	// application checks everything again.
	sum := sha256.Sum256(tx)
	hash := hex.EncodeToString(sum[:])
	check := func(tx []byte) error { _, err := op.Decode(tx); return err }
	if s.pre != nil {
		check = s.pre.Precheck
	}
	if err := check(tx); err != nil {
		var oe *op.Error
		if !errors.As(err, &oe) {
			return err
		}
		return rejection(oe.Reason, oe.Msg, hash)
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.submitTimeout)
	defer cancel()
	res, err := s.l.Submit(ctx, tx)
	switch {
	case errors.Is(err, ledger.ErrDuplicate):
		return rejection(op.ReasonReplayed, "this operation was already submitted (it may still be pending)", hash)
	case errors.Is(err, ledger.ErrFull):
		return rejection(op.ReasonMempoolFull, "the node is overloaded; retry later", hash)
	case errors.Is(err, context.DeadlineExceeded):
		return rejection(op.ReasonTimeout, "not committed within "+s.submitTimeout.String()+"; it may still commit", hash)
	case errors.Is(err, context.Canceled):
		return &Error{Status: 499, Reason: "canceled", Msg: "the client went away", Hash: hash}
	case err != nil:
		return &Error{Status: http.StatusInternalServerError, Reason: string(op.ReasonInternal), Msg: "the ledger failed", Err: err}
	}
	if res.Code != 0 {
		return rejection(op.ReasonFromCode(res.Code), res.Log, hash)
	}
	out := sdk.SubmitResult{Status: "committed", Reason: string(op.ReasonOK), Hash: hash, Height: res.Height}
	var rr registry.Result
	if err := op.Unmarshal(res.Data, &rr); err == nil {
		out.DID, out.Version, out.EntityStatus, out.Count = rr.DID, rr.Version, rr.Status, rr.Count
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) parseDID(r *http.Request) (string, error) {
	d, err := did.ParseNoFragment(r.PathValue("did"))
	if err != nil {
		return "", &Error{Status: http.StatusBadRequest, Reason: "invalid-did", Msg: err.Error()}
	}
	if d.Network != s.network {
		return "", &Error{Status: http.StatusNotFound, Reason: string(op.ReasonWrongNetwork), Msg: "this node serves network " + s.network}
	}
	return d.String(), nil
}

func (s *Server) query(ctx context.Context, key []byte, height int64, prove bool) (*ledger.QueryResult, error) {
	q, err := s.l.Query(ctx, ledger.Query{Path: registry.QueryKey, Data: key, Height: height, Prove: prove})
	if err != nil {
		return nil, err
	}
	if q.Code != 0 {
		return nil, &Error{Status: http.StatusBadRequest, Reason: q.Reason, Msg: q.Log}
	}
	return q, nil
}

func (s *Server) entity(w http.ResponseWriter, r *http.Request) error {
	id, err := s.parseDID(r)
	if err != nil {
		return err
	}
	var height int64
	if h := r.URL.Query().Get("height"); h != "" {
		if height, err = strconv.ParseInt(h, 10, 64); err != nil || height < 1 {
			return &Error{Status: http.StatusBadRequest, Reason: string(op.ReasonInvalidField), Msg: "height must be a positive integer"}
		}
	}
	prove := r.URL.Query().Get("proof") == "true"
	q, err := s.query(r.Context(), registry.EntityKey(id), height, prove)
	if err != nil {
		return err
	}
	var pv *sdk.ProofView
	if prove {
		pv = &sdk.ProofView{Height: q.Height, Key: q.Key, Value: q.Value, Proof: q.Proof, AppHashHeight: q.Height + 1}
		if hdr := s.provingHeader(r.Context(), q); hdr != nil {
			pv.AppHash, pv.AppHashHeight = hex.EncodeToString(hdr.AppHash), hdr.Height
		}
	}
	if q.Value == nil {
		// With proof=true the 404 carries the proof that the key is absent.
		return &Error{Status: http.StatusNotFound, Reason: string(op.ReasonUnknownEntity), Msg: id + " is not registered", Proof: pv}
	}
	view, err := EntityView(q.Value, q.Height)
	if err != nil {
		return err
	}
	view.Proof = pv
	writeJSON(w, http.StatusOK, view)
	return nil
}

// provingHeader finds a header whose app hash the proof of q verifies
// against. The header of block H+1 commits to the state after block H; if
// that block is not made yet, the header of H itself does when block H
// changed nothing (an empty block), and otherwise block H+1 follows within
// moments (a block that changes the state is always followed by one).
func (s *Server) provingHeader(ctx context.Context, q *ledger.QueryResult) *ledger.Header {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if h, err := s.l.Header(ctx, q.Height); err == nil && proof.Verify(h.AppHash, q.Key, q.Value, q.Proof) == nil {
		return h
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if h, err := s.l.Header(ctx, q.Height+1); err == nil {
			return h
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (s *Server) entityVersion(w http.ResponseWriter, r *http.Request) error {
	id, err := s.parseDID(r)
	if err != nil {
		return err
	}
	v, err := strconv.ParseUint(r.PathValue("version"), 10, 64)
	if err != nil || v < 1 {
		return &Error{Status: http.StatusBadRequest, Reason: string(op.ReasonInvalidField), Msg: "version must be a positive integer"}
	}
	q, err := s.query(r.Context(), registry.HistoryKey(id, v), 0, false)
	if err != nil {
		return err
	}
	if q.Value == nil {
		// Not replaced yet: the current record, if it is version v.
		if q, err = s.query(r.Context(), registry.EntityKey(id), q.Height, false); err != nil {
			return err
		}
		var e registry.Entity
		if q.Value != nil && (op.Unmarshal(q.Value, &e) != nil || e.Version != v) {
			q.Value = nil
		}
	}
	if q.Value == nil {
		return &Error{Status: http.StatusNotFound, Reason: string(op.ReasonUnknownEntity), Msg: fmt.Sprintf("%s has no version %d", id, v)}
	}
	view, err := EntityView(q.Value, q.Height)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

func (s *Server) provider(w http.ResponseWriter, r *http.Request) error {
	id, err := s.parseDID(r)
	if err != nil {
		return err
	}
	q, err := s.query(r.Context(), registry.ProviderKey(id), 0, false)
	if err != nil {
		return err
	}
	if q.Value == nil {
		return &Error{Status: http.StatusNotFound, Reason: string(op.ReasonUnknownProvider), Msg: id + " is not a provider"}
	}
	view, err := providerView(q.Value)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

func (s *Server) providers(w http.ResponseWriter, r *http.Request) error {
	q, err := s.l.Query(r.Context(), ledger.Query{Path: registry.QueryPrefix, Data: registry.ProviderPrefix()})
	if err != nil {
		return err
	}
	var list registry.PrefixList
	if err := op.Unmarshal(q.Value, &list); err != nil {
		return err
	}
	out := []sdk.ProviderView{}
	for _, kv := range list.Items {
		v, err := providerView(kv.Value)
		if err != nil {
			return err
		}
		out = append(out, *v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
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
	height, err := strconv.ParseInt(r.PathValue("height"), 10, 64)
	if err != nil || height < 1 {
		return &Error{Status: http.StatusBadRequest, Reason: string(op.ReasonInvalidField), Msg: "height must be a positive integer"}
	}
	h, err := s.l.Header(r.Context(), height)
	if errors.Is(err, ledger.ErrNotFound) {
		return &Error{Status: http.StatusNotFound, Reason: "not-found", Msg: fmt.Sprintf("no block %d yet", height)}
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
	height, err := strconv.ParseInt(r.PathValue("height"), 10, 64)
	if err != nil || height < 1 {
		return &Error{Status: http.StatusBadRequest, Reason: string(op.ReasonInvalidField), Msg: "height must be a positive integer"}
	}
	sh, ok := s.l.(SignedHeaders)
	if !ok {
		return &Error{Status: http.StatusNotImplemented, Reason: "not-implemented", Msg: "this ledger engine has no signed headers"}
	}
	out, err := sh.SignedHeader(r.Context(), height)
	if errors.Is(err, ledger.ErrNotFound) {
		return &Error{Status: http.StatusNotFound, Reason: "not-found", Msg: fmt.Sprintf("no block %d yet", height)}
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	st, err := s.l.Status(r.Context())
	if err != nil {
		return &Error{Status: http.StatusServiceUnavailable, Reason: "unhealthy", Msg: "the ledger does not answer", Err: err}
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "height": st.Height, "catchingUp": st.CatchingUp})
	return nil
}

func keyViews(keys []op.Key) []sdk.KeyView {
	out := make([]sdk.KeyView, 0, len(keys))
	for _, k := range keys {
		out = append(out, sdk.KeyView{ID: k.ID, Alg: cose.Alg(k.Alg).String(), PublicKey: base64.RawURLEncoding.EncodeToString(k.Pub)})
	}
	return out
}

func attrMap(attrs []op.Attr) map[string]string {
	if len(attrs) == 0 {
		return nil
	}
	m := make(map[string]string, len(attrs))
	for _, a := range attrs {
		m[a.K] = a.V
	}
	return m
}

// EntityView is the JSON view of a stored entity record (the value of
// e/<did>) read at height, as GET /v1/entities/{did} shows it.
func EntityView(b []byte, height int64) (*sdk.EntityView, error) {
	var e registry.Entity
	if err := op.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("decode entity: %w", err)
	}
	var dec *sdk.DecisionView
	if e.Decision != nil {
		dec = &sdk.DecisionView{Contract: e.Decision.Contract, Outcome: e.Decision.Outcome, Reason: e.Decision.Reason}
	}
	return &sdk.EntityView{
		Decision: dec,
		DID:      e.DID, Kind: e.Kind, Provider: e.Provider, Status: e.Status, StatusReason: e.StatusReason,
		Version: e.Version, Keys: keyViews(e.Doc.Keys), Endpoints: e.Doc.Endpoints, Aliases: e.Doc.Aliases,
		Attributes: attrMap(e.Doc.Attrs), Ticket: attrMap(e.Ticket), Access: e.Doc.Access,
		Created: time.Unix(0, e.Created).UTC(), Updated: time.Unix(0, e.Updated).UTC(),
		CreatedHeight: e.CreatedHeight, UpdatedHeight: e.UpdatedHeight,
		LastOp: hex.EncodeToString(e.LastOp), LastOpType: e.LastOpType, Height: height,
	}, nil
}

func providerView(b []byte) (*sdk.ProviderView, error) {
	var p registry.Provider
	if err := op.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("decode provider: %w", err)
	}
	return &sdk.ProviderView{DID: p.DID, Name: p.Name, Keys: keyViews(p.Keys), Created: time.Unix(0, p.Created).UTC()}, nil
}

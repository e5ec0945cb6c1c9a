package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/bias-iot/bias/internal/metrics"
)

// RequestIDHeader carries a request's id: the client's, when it sent a
// sane one (RequestID), else one the node made. Every response carries
// it, and the request's log line names it.
const RequestIDHeader = "X-Request-Id"

// MaxRequestID bounds a client's request id.
const MaxRequestID = 64

// requestID is the client's id if it is 1 to MaxRequestID characters of
// letters, digits and ._:- (nothing that could forge a log line), else a
// new random one.
func requestID(r *http.Request) string {
	if id := r.Header.Get(RequestIDHeader); id != "" && len(id) <= MaxRequestID && strings.Trim(id, idChars) == "" {
		return id
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

const idChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-"

// exchange is what the middleware learns of one request as it is served.
type exchange struct {
	id     string
	reason string // the reason code of a refusal or a decision
}

type exchangeKey struct{}

// noteReason records the reason code of the request's answer (for its log
// line).
func noteReason(ctx context.Context, reason string) {
	if x, ok := ctx.Value(exchangeKey{}).(*exchange); ok {
		x.reason = reason
	}
}

// RequestIDOf is the request id of a request the API serves ("" outside).
func RequestIDOf(ctx context.Context) string {
	if x, ok := ctx.Value(exchangeKey{}).(*exchange); ok {
		return x.id
	}
	return ""
}

// recorder is a ResponseWriter that keeps the status, and the first
// bytes of the body when asked to (a decision's, to count it).
type recorder struct {
	http.ResponseWriter
	status  int
	keep    int // how many bytes of the body to keep
	body    bytes.Buffer
	written int64
	onWrite func(status int, h http.Header) // called at the header
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		if w.onWrite != nil {
			w.onWrite(code, w.Header())
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if n := w.keep - w.body.Len(); n > 0 {
		w.body.Write(b[:min(n, len(b))])
	}
	n, err := w.ResponseWriter.Write(b)
	w.written += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (streams set
// deadlines and flush through it).
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe wraps the route table: each request gets its id, is counted in
// the metrics under its route pattern (a bounded set), and is logged once
// with its id, route, status, duration and reason code; never its query,
// body or credentials. Authentication decisions, resolutions and event
// streams are counted here too, at the handler's edge.
func (s *Server) observe(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		x := &exchange{id: requestID(r)}
		w.Header().Set(RequestIDHeader, x.id)
		_, pattern := mux.Handler(r)
		route := pattern
		if route == "" {
			route = "none"
		}
		rec := &recorder{ResponseWriter: w}
		var stream string
		subscribed := false
		switch pattern {
		case "POST /v1/authn/verify", "POST /v1/authn/access":
			rec.keep = 4096
		case "GET /v1/events", "GET /v1/authn/events":
			stream = "events"
			if pattern == "GET /v1/authn/events" {
				stream = "decisions"
			}
			rec.onWrite = func(status int, h http.Header) {
				if status == http.StatusOK && h.Get("Content-Type") == "text/event-stream" {
					s.metrics.Subscribed(stream, 1)
					subscribed = true
				}
			}
		}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x)))
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		took := time.Since(start)
		switch pattern {
		case "POST /v1/authn/verify", "POST /v1/authn/access":
			s.countDecision(pattern, rec, x, took)
		case "GET /1.0/identifiers/{did...}", "GET /1.0/identify":
			s.metrics.Resolved(resolutionOutcome(rec.status), mediaLabel(rec.Header().Get("Content-Type"), rec.status), took)
		case "GET /v1/events", "GET /v1/authn/events":
			if subscribed {
				s.metrics.Subscribed(stream, -1)
			}
		}
		s.metrics.Request(route, r.Method, rec.status, took)
		level := slog.LevelInfo
		if rec.status >= 500 && rec.status != http.StatusServiceUnavailable {
			level = slog.LevelWarn
		}
		attrs := []slog.Attr{
			slog.String("request_id", x.id), slog.String("method", r.Method), slog.String("route", route),
			slog.String("path", r.URL.Path), slog.Int("status", rec.status), slog.Duration("took", took),
			slog.Int64("bytes", rec.written), slog.String("client", clientOf(r)),
		}
		if x.reason != "" {
			attrs = append(attrs, slog.String("reason", x.reason))
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

// countDecision counts an authentication or access decision from its
// answer: allow or deny with the decision's reason, or error when the
// node could not decide.
func (s *Server) countDecision(pattern string, rec *recorder, x *exchange, took time.Duration) {
	endpoint := "verify"
	if pattern == "POST /v1/authn/access" {
		endpoint = "access"
	}
	if rec.status != http.StatusOK {
		s.metrics.Decided(endpoint, "error", x.reason, took)
		return
	}
	var d struct {
		OK     bool   `json:"ok"`
		Reason string `json:"reason"`
	}
	result := "error"
	if json.Unmarshal(rec.body.Bytes(), &d) == nil {
		result = "deny"
		if d.OK {
			result = "allow"
		}
		x.reason = d.Reason
	}
	s.metrics.Decided(endpoint, result, d.Reason, took)
}

// resolutionOutcome names a resolution's answer by its status
// (docs/metrics.md).
func resolutionOutcome(status int) string {
	switch status {
	case http.StatusOK:
		return "found"
	case http.StatusNotFound:
		return "not-found"
	case http.StatusGone:
		return "deactivated"
	case http.StatusBadRequest:
		return "invalid"
	case http.StatusNotAcceptable:
		return "not-acceptable"
	}
	return "error"
}

// mediaLabel is the media type label of a resolution's answer: its
// Content-Type without parameters (but the DID resolution profile of
// JSON-LD, which is the type), "none" without a body type.
func mediaLabel(ct string, _ int) string {
	if ct == "" {
		return "none"
	}
	if strings.HasPrefix(ct, "application/ld+json") && strings.Contains(ct, "did-resolution") {
		return `application/ld+json;profile="https://w3id.org/did-resolution"`
	}
	base, _, _ := strings.Cut(ct, ";")
	return strings.TrimSpace(base)
}

// Metrics returns the server's metrics (nil when off).
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

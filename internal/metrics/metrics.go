// Package metrics defines a node's Prometheus metrics (docs/metrics.md)
// and the registry they live in, with CometBFT's own instrumentation and
// the Go runtime and process collectors.
//
// Metrics are side effects: the ledger core reports to them and never
// reads them. Every label has a bounded set of values (an operation
// type, a reason code, a route pattern): a value outside its set is
// counted as "other", and no label ever holds a DID, a key or a token.
//
// A nil *Metrics is valid and records nothing (a node with metrics off).
//
//	m := metrics.New()
//	m.Committed(op.TypeRegister, "ok")
//	http.Handle("/metrics", m.Handler())
package metrics

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
)

// Namespace prefixes bias's own metrics; CometBFT's use CometNamespace.
const (
	Namespace      = "bias"
	CometNamespace = "cometbft"
)

// Other is the label value of anything outside a label's known set.
const Other = "other"

// Metrics holds a node's metrics and the registry that serves them.
type Metrics struct {
	reg *prometheus.Registry

	opsSubmitted   *prometheus.CounterVec
	opsCommitted   *prometheus.CounterVec
	entities       *prometheus.GaugeVec
	authn          *prometheus.CounterVec
	authnSeconds   *prometheus.HistogramVec
	resolutions    *prometheus.CounterVec
	resolveSeconds *prometheus.HistogramVec
	contractEvals  *prometheus.CounterVec
	contractCost   *prometheus.HistogramVec
	subscribers    *prometheus.GaugeVec
	resends        prometheus.Counter
	resentOps      prometheus.Counter
	stalls         prometheus.Counter
	requests       *prometheus.CounterVec
	requestSeconds *prometheus.HistogramVec
	ready          prometheus.Gauge
}

// latency buckets: from a cache hit (~50 µs) to a slow read (~5 s).
var latency = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// New returns metrics in a new registry that also holds the Go runtime
// and process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := factory{reg}
	m := &Metrics{reg: reg}
	m.opsSubmitted = f.counter("operations_submitted_total", "Operations submitted to this node's API, by type, result (accepted, refused) and reason code.", "type", "result", "reason")
	m.opsCommitted = f.counter("operations_committed_total", "Operations decided in committed blocks, by type, result (applied, rejected) and reason code.", "type", "result", "reason")
	m.entities = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "entities", Help: "Entities in the committed state, by kind and status."}, []string{"kind", "status"})
	reg.MustRegister(m.entities)
	m.authn = f.counter("authn_decisions_total", "Authentication and access decisions made by this node, by endpoint (verify, access), result (allow, deny, error) and reason code.", "endpoint", "result", "reason")
	m.authnSeconds = f.histogram("authn_decision_duration_seconds", "Time to decide an authentication or access request, by endpoint and result.", "endpoint", "result")
	m.resolutions = f.counter("resolutions_total", "DID resolutions and legacy-identifier look-ups, by outcome and media type.", "outcome", "media_type")
	m.resolveSeconds = f.histogram("resolution_duration_seconds", "Time to answer a resolution, by outcome.", "outcome")
	m.contractEvals = f.counter("contract_evaluations_total", "Contract evaluations, by contract kind and outcome.", "kind", "outcome")
	m.contractCost = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "contract_evaluation_cost", Help: "CEL cost of each contract evaluation, by contract kind.",
		Buckets: prometheus.ExponentialBuckets(1, 4, 10),
	}, []string{"kind"})
	reg.MustRegister(m.contractCost)
	m.subscribers = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "event_stream_subscribers", Help: "Open event streams, by stream (events, decisions)."}, []string{"stream"})
	reg.MustRegister(m.subscribers)
	m.resends = prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "ledger_resend_rounds_total", Help: "Rounds in which the node sent the operations waiting here to its peers again, for want of a block."})
	m.resentOps = prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "ledger_resent_operations_total", Help: "Operations sent to peers again in the re-send rounds."})
	m.stalls = prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "ledger_stall_warnings_total", Help: "Warnings that operations wait but no block commits (one per stall)."})
	m.ready = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "ready", Help: "1 when the node's last readiness check (/readyz) passed, 0 when it failed."})
	reg.MustRegister(m.resends, m.resentOps, m.stalls, m.ready)
	m.requests = f.counter("http_requests_total", "HTTP requests served, by route pattern, method and status code.", "route", "method", "code")
	m.requestSeconds = f.histogram("http_request_duration_seconds", "Time to serve an HTTP request (to the end of its response; a stream's whole life), by route pattern.", "route")
	// The series of small fixed label sets exist from the start, at 0.
	for k, outs := range map[string][]string{"registration": {"validate", "pending", "reject"}, "access": {"allow", "deny"}} {
		m.contractCost.WithLabelValues(k)
		for _, o := range outs {
			m.contractEvals.WithLabelValues(k, o)
		}
	}
	for _, st := range streams {
		m.subscribers.WithLabelValues(st)
	}
	return m
}

type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) histogram(name, help string, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: latency}, labels)
	f.reg.MustRegister(h)
	return h
}

// Registry is where the metrics live: register CometBFT's (cometledger)
// and anything else the node serves here. Nil for nil metrics.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Handler serves the registry in the Prometheus text (or OpenMetrics)
// format; nil metrics serve 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{MaxRequestsInFlight: 4, Timeout: 10 * time.Second})
}

// Label sets: anything else is Other.
var (
	types       = []string{op.TypeRegister, op.TypeUpdate, op.TypeDeactivate, op.TypeValidate, op.TypeReject, op.TypeRevoke, op.TypeEnroll, op.TypeDeploy, op.TypePublish, op.TypePropose, op.TypeVote}
	kinds       = []string{op.KindDevice, op.KindService}
	statuses    = []string{op.StatusPending, op.StatusValidated, op.StatusRejected, op.StatusRevoked, op.StatusDeactivated}
	opReasons   = strs(op.Reasons())
	authReasons = strs(authn.Reasons())
	endpoints   = []string{"verify", "access"}
	outcomes    = []string{"found", "not-found", "deactivated", "invalid", "not-acceptable", "error"}
	mediaTypes  = []string{did.MediaTypeJSON, did.MediaTypeLDJSON, did.MediaTypeResolution, did.MediaTypeResolutionLD, did.MediaTypeDereferencing, did.MediaTypeURIList, "application/json", "none"}
	streams     = []string{"events", "decisions"}
	contracts   = []string{"registration", "access"}
	decisions   = []string{"validate", "pending", "reject", "allow", "deny"}
)

func strs[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}

// bound is v if set holds it, else Other.
func bound(v string, set []string) string {
	if slices.Contains(set, v) {
		return v
	}
	return Other
}

// OpType is the label of an operation type (Other for an unknown one).
func OpType(t string) string { return bound(t, types) }

// Submitted counts an operation submitted to the API: accepted
// (committed) or refused, with its reason code.
func (m *Metrics) Submitted(typ string, accepted bool, reason string) {
	if m == nil {
		return
	}
	result := "refused"
	if accepted {
		result = "accepted"
	}
	m.opsSubmitted.WithLabelValues(OpType(typ), result, bound(reason, opReasons)).Inc()
}

// Committed counts an operation decided in a committed block: reason
// "ok" when it applied.
func (m *Metrics) Committed(typ, reason string) {
	if m == nil {
		return
	}
	result := "rejected"
	if reason == string(op.ReasonOK) {
		result = "applied"
	}
	m.opsCommitted.WithLabelValues(OpType(typ), result, bound(reason, opReasons)).Inc()
}

// EntityMoved moves an entity of kind from one status to another in the
// count; from "" is a new entity.
func (m *Metrics) EntityMoved(kind, from, to string) {
	if m == nil || from == to {
		return
	}
	k := bound(kind, kinds)
	if from != "" {
		m.entities.WithLabelValues(k, bound(from, statuses)).Dec()
	}
	m.entities.WithLabelValues(k, bound(to, statuses)).Inc()
}

// ResetEntities drops every entity count (before a count of the state).
func (m *Metrics) ResetEntities() {
	if m == nil {
		return
	}
	m.entities.Reset()
}

// AddEntities adds n (which may be negative) to the count of entities of
// kind and status (a count of the state, and the moves made meanwhile).
func (m *Metrics) AddEntities(kind, status string, n int) {
	if m == nil {
		return
	}
	m.entities.WithLabelValues(bound(kind, kinds), bound(status, statuses)).Add(float64(n))
}

// Decided counts an authentication or access decision of endpoint
// (verify, access) that took d; result is allow, deny or error (the node
// could not decide).
func (m *Metrics) Decided(endpoint, result, reason string, d time.Duration) {
	if m == nil {
		return
	}
	e := bound(endpoint, endpoints)
	result = bound(result, []string{"allow", "deny", "error"})
	m.authn.WithLabelValues(e, result, bound(reason, authReasons)).Inc()
	m.authnSeconds.WithLabelValues(e, result).Observe(d.Seconds())
}

// Resolved counts a resolution with its outcome and the media type of
// its answer ("none" for an error without a document).
func (m *Metrics) Resolved(outcome, mediaType string, d time.Duration) {
	if m == nil {
		return
	}
	o := bound(outcome, outcomes)
	m.resolutions.WithLabelValues(o, bound(mediaType, mediaTypes)).Inc()
	m.resolveSeconds.WithLabelValues(o).Observe(d.Seconds())
}

// Evaluated counts a contract evaluation of kind with its outcome and
// CEL cost.
func (m *Metrics) Evaluated(kind, outcome string, cost uint64) {
	if m == nil {
		return
	}
	k := bound(kind, contracts)
	m.contractEvals.WithLabelValues(k, bound(outcome, decisions)).Inc()
	m.contractCost.WithLabelValues(k).Observe(float64(cost))
}

// Subscribed counts an event stream opened (+1) or closed (-1).
func (m *Metrics) Subscribed(stream string, delta int) {
	if m == nil {
		return
	}
	m.subscribers.WithLabelValues(bound(stream, streams)).Add(float64(delta))
}

// Resent counts a round of re-sending n operations to the peers.
func (m *Metrics) Resent(n int) {
	if m == nil {
		return
	}
	m.resends.Inc()
	m.resentOps.Add(float64(n))
}

// Stalled counts a stall warning.
func (m *Metrics) Stalled() {
	if m == nil {
		return
	}
	m.stalls.Inc()
}

// SetReady records the outcome of a readiness check.
func (m *Metrics) SetReady(ok bool) {
	if m == nil {
		return
	}
	v := 0.0
	if ok {
		v = 1
	}
	m.ready.Set(v)
}

// Request counts an HTTP request served on route (a route pattern of the
// API's table, or "none") with status code, that took d.
func (m *Metrics) Request(route, method string, code int, d time.Duration) {
	if m == nil {
		return
	}
	method = bound(method, []string{http.MethodGet, http.MethodPost, http.MethodOptions, http.MethodHead, http.MethodPut, http.MethodDelete})
	m.requests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.requestSeconds.WithLabelValues(route).Observe(d.Seconds())
}

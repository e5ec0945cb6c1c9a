package api

import (
	"context"
	"errors"
	"net/http"
)

// Readiness is what a ledger engine tells of its part in the network
// beyond answering: nil while it can follow the chain and commit, an
// error while it cannot (a validator that refuses to vote, a network
// without quorum, say). The error goes to the log; the client learns the
// words of its ReadyReason when it has one (see ReadyReasoner), else only
// that the node is not ready.
type Readiness interface {
	Ready(ctx context.Context) error
}

// ReadyReasoner is a readiness error that says why in words a client may
// see (no key, path or peer address).
type ReadyReasoner interface {
	error
	ReadyReason() string
}

// livez is liveness, for an orchestrator's restart decision: 200 while
// the process serves and its ledger answers (also while catching up or
// without quorum: a restart mends neither), 503 unhealthy when the
// ledger does not answer. /healthz is its alias.
func (s *Server) livez(w http.ResponseWriter, r *http.Request) error {
	st, err := s.l.Status(r.Context())
	if err != nil {
		return unhealthy(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "height": st.Height, "catchingUp": st.CatchingUp})
	return nil
}

// healthz is /livez, under the name it had first.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error { return s.livez(w, r) }

// readyz is readiness, for a load balancer: 200 while this node can
// answer current reads and commit writes (the ledger answers, is not
// catching up and, if it tells (Readiness), is ready: caught up, not
// stalled, with quorum in sight); 503 unhealthy with the reason
// otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	err := s.ready(r.Context())
	s.metrics.SetReady(err == nil)
	if err != nil {
		return err
	}
	st, err := s.l.Status(r.Context())
	if err != nil {
		return unready("the ledger does not answer", err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "height": st.Height, "catchingUp": false})
	return nil
}

func (s *Server) ready(ctx context.Context) error {
	st, err := s.l.Status(ctx)
	if err != nil {
		return unready("the ledger does not answer", err)
	}
	if st.CatchingUp {
		return unready("the node is catching up with the network", nil)
	}
	if rd, ok := s.l.(Readiness); ok {
		if err := rd.Ready(ctx); err != nil {
			var rr ReadyReasoner
			if errors.As(err, &rr) {
				return unready(rr.ReadyReason(), err)
			}
			return unready("the node cannot take part in consensus now; its log says why", err)
		}
	}
	return nil
}

func unready(msg string, cause error) *Error {
	e := fail(ReasonUnhealthy, "not ready: "+msg)
	e.Err = cause
	return e
}

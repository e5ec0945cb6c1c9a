package api

import (
	"context"
	"net/http"
)

// Readiness is what a ledger engine tells of its part in the network
// beyond answering: nil while it can follow the chain and commit, an
// error while it cannot (a validator that refuses to vote, say). The
// error goes to the log; the client learns only that the node is not
// ready.
type Readiness interface {
	Ready(ctx context.Context) error
}

// readyz is readiness, for a load balancer or an orchestrator: 200 while
// the ledger answers, is not catching up and, if it tells (Readiness), is
// ready; 503 unhealthy otherwise. /healthz is liveness: it stays 200 as
// long as the ledger answers.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	st, err := s.l.Status(r.Context())
	if err != nil {
		return unready("the ledger does not answer", err)
	}
	if st.CatchingUp {
		return unready("the node is catching up with the network", nil)
	}
	if rd, ok := s.l.(Readiness); ok {
		if err := rd.Ready(r.Context()); err != nil {
			return unready("the node cannot take part in consensus now; its log says why", err)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "height": st.Height, "catchingUp": false})
	return nil
}

func unready(msg string, cause error) *Error {
	e := fail(ReasonUnhealthy, msg)
	e.Err = cause
	return e
}

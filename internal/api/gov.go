package api

import (
	"encoding/hex"
	"net/http"

	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// governance answers GET /v1/gov: the providers, the validator set, the
// parameters, the app version and a scheduled upgrade.
func (s *Server) governance(w http.ResponseWriter, r *http.Request) error {
	rd, err := s.res.Governance(r.Context())
	if err != nil {
		return readFailed(err)
	}
	if rd.Record == nil {
		return fail(ReasonNotFound, "this network's state holds no governance record")
	}
	g := *rd.Record
	g.AppVersion = g.Version() // shown also before the first upgrade
	writeJSON(w, http.StatusOK, g)
	return nil
}

// proposals answers GET /v1/gov/proposals: every proposal (at most
// 1000, in id order), with its status now.
func (s *Server) proposals(w http.ResponseWriter, r *http.Request) error {
	g, err := s.res.Governance(r.Context())
	if err != nil {
		return readFailed(err)
	}
	list, err := s.res.Proposals(r.Context())
	if err != nil {
		return readFailed(err)
	}
	out := make([]sdk.ProposalView, 0, len(list))
	for _, p := range list {
		out = append(out, *sdk.ProposalViewOf(p, g.Record, g.Height))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// proposal answers GET /v1/gov/proposals/{id}.
func (s *Server) proposal(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if b, err := hex.DecodeString(id); err != nil || len(b) != 32 || hex.EncodeToString(b) != id {
		return rejection(op.ReasonInvalidField, "a proposal id is 64 lowercase hex digits")
	}
	rd, err := s.res.Proposal(r.Context(), id)
	if err != nil {
		return readFailed(err)
	}
	if rd.Record == nil {
		return rejection(op.ReasonUnknownProposal, "no proposal "+id)
	}
	g, err := s.res.Governance(r.Context())
	if err != nil {
		return readFailed(err)
	}
	writeJSON(w, http.StatusOK, sdk.ProposalViewOf(rd.Record, g.Record, rd.Height))
	return nil
}

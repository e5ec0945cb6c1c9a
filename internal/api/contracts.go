package api

import (
	"errors"
	"net/http"

	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/access"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// contracts lists a provider's contracts (their current versions).
func (s *Server) contracts(w http.ResponseWriter, r *http.Request) error {
	id, err := s.parseDID(r)
	if err != nil {
		return err
	}
	list, err := s.res.Contracts(r.Context(), id)
	if err != nil {
		return readFailed(err)
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// contractRecord reads one contract, at ?version= or its current one,
// with its proof on ?proof=true (of the current version).
func (s *Server) contractRecord(w http.ResponseWriter, r *http.Request) error {
	id, err := s.parseDID(r)
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	if did.ValidateFragment(name) != nil {
		return rejection(op.ReasonInvalidField, "bad contract name")
	}
	var version uint64
	if v := r.URL.Query().Get("version"); v != "" {
		if version, err = positive[uint64](v, "version"); err != nil {
			return err
		}
	}
	prove := r.URL.Query().Get("proof") == "true"
	if prove && version > 0 {
		return rejection(op.ReasonInvalidField, "proof is of the current version: give proof or version, not both")
	}
	rd, err := s.res.ReadContract(r.Context(), id, name, version, prove)
	if err != nil {
		return readFailed(err)
	}
	if rd.Record == nil {
		e := fail(ReasonNotFound, "no such contract or version")
		e.Proof = rd.Proof
		return e
	}
	writeJSON(w, http.StatusOK, sdk.ContractView{Contract: *rd.Record, Proof: rd.Proof})
	return nil
}

// dryRun evaluates a contract without a transaction.
func (s *Server) dryRun(w http.ResponseWriter, r *http.Request) error {
	var req sdk.DryRunRequest
	if err := decodeJSON(r, 64<<10, &req, "send a DryRunRequest (kind and source, or provider, name and version; inputs)"); err != nil {
		return err
	}
	out, err := s.acc.DryRun(r.Context(), req)
	var re *access.RequestError
	switch {
	case errors.As(err, &re) && re.Reason == "":
		return fail(ReasonNotFound, re.Msg)
	case errors.As(err, &re):
		return rejection(re.Reason, re.Msg)
	case err != nil:
		return readFailed(err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

package api

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/contract"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/registry"
	"github.com/bias-iot/bias/op"
)

// contracts lists a provider's contracts (their current versions).
func (s *Server) contracts(w http.ResponseWriter, r *http.Request) error {
	id, err := s.parseDID(r)
	if err != nil {
		return err
	}
	q, err := s.l.Query(r.Context(), ledger.Query{Path: registry.QueryPrefix, Data: registry.ContractKey(id, "")})
	if err != nil {
		return err
	}
	var list registry.PrefixList
	if err := op.Unmarshal(q.Value, &list); err != nil {
		return err
	}
	out := []registry.Contract{}
	for _, kv := range list.Items {
		var c registry.Contract
		if err := op.Unmarshal(kv.Value, &c); err != nil {
			return err
		}
		if string(kv.Key) == string(registry.ContractKey(c.Provider, c.Name)) { // not a version record
			out = append(out, c)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// contractRecord reads one contract, at ?version= or its current one.
func (s *Server) contractRecord(w http.ResponseWriter, r *http.Request) error {
	id, err := s.parseDID(r)
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	if did.ValidateFragment(name) != nil {
		return &Error{Status: http.StatusBadRequest, Reason: string(op.ReasonInvalidField), Msg: "bad contract name"}
	}
	key := registry.ContractKey(id, name)
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n < 1 {
			return &Error{Status: http.StatusBadRequest, Reason: string(op.ReasonInvalidField), Msg: "version must be a positive integer"}
		}
		key = registry.ContractVersionKey(id, name, n)
	}
	q, err := s.query(r.Context(), key, 0, false)
	if err != nil {
		return err
	}
	if q.Value == nil {
		return &Error{Status: http.StatusNotFound, Reason: "not-found", Msg: "no such contract or version"}
	}
	var c registry.Contract
	if err := op.Unmarshal(q.Value, &c); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// DryRunRequest is the body of POST /v1/contracts/dry-run: a contract
// (its source and kind, or a deployed one by provider, name and version)
// and the inputs to evaluate it on.
type DryRunRequest struct {
	Kind     string          `json:"kind,omitempty"`
	Source   string          `json:"source,omitempty"`
	Provider string          `json:"provider,omitempty"`
	Name     string          `json:"name,omitempty"`
	Version  uint64          `json:"version,omitempty"`
	Inputs   json.RawMessage `json:"inputs"`
}

// DryRunResult is its answer.
type DryRunResult struct {
	Outcome       string `json:"outcome"`
	Reason        string `json:"reason,omitempty"`
	Cost          uint64 `json:"cost"`
	EstimatedCost uint64 `json:"estimatedCost"`
	Contract      string `json:"contract,omitempty"`
}

// dryRun evaluates a contract without a transaction.
func (s *Server) dryRun(w http.ResponseWriter, r *http.Request) error {
	var req DryRunRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return &Error{Status: http.StatusBadRequest, Reason: string(op.ReasonMalformed), Msg: "body: " + err.Error()}
	}
	kind, src, name := req.Kind, req.Source, ""
	if req.Provider != "" {
		key := registry.ContractKey(req.Provider, req.Name)
		if req.Version > 0 {
			key = registry.ContractVersionKey(req.Provider, req.Name, req.Version)
		}
		q, err := s.query(r.Context(), key, 0, false)
		if err != nil {
			return err
		}
		var c registry.Contract
		if q.Value == nil || op.Unmarshal(q.Value, &c) != nil {
			return &Error{Status: http.StatusNotFound, Reason: "not-found", Msg: "no such contract or version"}
		}
		kind, src, name = c.Kind, c.Source, c.Provider+"/"+c.Name+"@"+strconv.FormatUint(c.Version, 10)
	}
	prg, err := contract.Compile(contract.Kind(kind), src)
	if err != nil {
		return &Error{Status: http.StatusUnprocessableEntity, Reason: string(op.ReasonBadContract), Msg: err.Error()}
	}
	in, err := contract.InputsFromJSON(contract.Kind(kind), req.Inputs)
	if err != nil {
		return &Error{Status: http.StatusBadRequest, Reason: string(op.ReasonInvalidField), Msg: err.Error()}
	}
	d := prg.Eval(in)
	writeJSON(w, http.StatusOK, DryRunResult{Outcome: d.Outcome, Reason: d.Reason, Cost: d.Cost, EstimatedCost: prg.EstimatedCost, Contract: name})
	return nil
}

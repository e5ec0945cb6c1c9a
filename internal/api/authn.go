package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/registry"
	"github.com/bias-iot/bias/op"
)

// ledgerView reads entities for authentication from the node's
// committed state.
type ledgerView struct{ s *Server }

func (v ledgerView) Entity(ctx context.Context, id did.DID) (*authn.Entity, error) {
	if id.Network != v.s.network {
		return nil, nil
	}
	e, _, err := v.s.readEntity(ctx, registry.EntityKey(id.String()), 0)
	if err != nil || e == nil {
		return nil, err
	}
	return &authn.Entity{DID: e.DID, Kind: e.Kind, Provider: e.Provider, Status: e.Status, Keys: e.Doc.Keys}, nil
}

// VerifyRequest is the body of POST /v1/authn/verify: a challenge and the
// proof that answers it, each a compact JWS or base64 of a COSE_Sign1.
type VerifyRequest struct {
	Challenge string `json:"challenge"`
	Proof     string `json:"proof"`
}

func message(s string) ([]byte, bool) {
	if strings.HasPrefix(s, "ey") && strings.Count(s, ".") == 2 {
		return []byte(s), true
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawURLEncoding.DecodeString(s)
	}
	return b, err == nil
}

// verify decides an authentication at this node, from its committed
// state, with no call to the device's or the service's operator.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) error {
	var req VerifyRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 4*authn.MaxMessage))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return &Error{Status: http.StatusBadRequest, Reason: string(op.ReasonMalformed), Msg: "send {\"challenge\": ..., \"proof\": ...}"}
	}
	ch, ok1 := message(req.Challenge)
	pr, ok2 := message(req.Proof)
	var d authn.Decision
	if !ok1 || !ok2 {
		d = authn.Decision{Reason: authn.FailMalformed, Detail: "challenge and proof must be compact JWS or base64 COSE_Sign1"}
	} else {
		d = authn.VerifyPair(r.Context(), ledgerView{s}, s.spent, ch, pr, time.Now().Unix())
	}
	if d.Reason == authn.FailUnavailable {
		return &Error{Status: http.StatusServiceUnavailable, Reason: "unhealthy", Msg: "the ledger does not answer"}
	}
	s.decisions.add(d)
	writeJSON(w, http.StatusOK, d)
	return nil
}

// View returns the authentication view of the node's committed state.
func (s *Server) View() authn.View { return ledgerView{s} }

// VerifyPair decides a challenge and proof in process, as POST
// /v1/authn/verify does.
func (s *Server) VerifyPair(ctx context.Context, challenge, proof []byte, now int64) authn.Decision {
	return authn.VerifyPair(ctx, ledgerView{s}, s.spent, challenge, proof, now)
}

// jwks publishes an entity's keys as a JWK Set (RFC 7517), kid = the DID
// URL of each key, so that any JWT library can verify the session tokens
// a service issues.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) error {
	id, err := s.parseDID(r)
	if err != nil {
		return err
	}
	e, _, err := s.readEntity(r.Context(), registry.EntityKey(id), 0)
	if err != nil {
		return err
	}
	if e == nil {
		return &Error{Status: http.StatusNotFound, Reason: string(op.ReasonUnknownEntity), Msg: id + " is not registered"}
	}
	set := struct {
		Keys []*did.JWK `json:"keys"`
	}{Keys: []*did.JWK{}}
	if e.Status == op.StatusValidated {
		for _, k := range e.Doc.Keys {
			pk, err := k.Public()
			if err != nil {
				return err
			}
			j, err := did.PublicJWK(pk)
			if err != nil {
				return err
			}
			j.Kid, j.Use = id+"#"+k.ID, "sig"
			set.Keys = append(set.Keys, j)
		}
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	return json.NewEncoder(w).Encode(set)
}

package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

func (s *Server) entity(w http.ResponseWriter, r *http.Request) error {
	id, err := s.parseDID(r)
	if err != nil {
		return err
	}
	var height int64
	if h := r.URL.Query().Get("height"); h != "" {
		if height, err = positive[int64](h, "height"); err != nil {
			return err
		}
	}
	rd, err := s.res.ReadEntity(r.Context(), id, height, r.URL.Query().Get("proof") == "true")
	if err != nil {
		return readFailed(err)
	}
	if rd.Record == nil {
		// With proof=true the 404 carries the proof that the key is absent.
		e := rejection(op.ReasonUnknownEntity, id+" is not registered")
		e.Proof = rd.Proof
		return e
	}
	view := sdk.EntityViewOf(rd.Record, rd.Height)
	view.Proof = rd.Proof
	writeJSON(w, http.StatusOK, view)
	return nil
}

func (s *Server) entityVersion(w http.ResponseWriter, r *http.Request) error {
	id, err := s.parseDID(r)
	if err != nil {
		return err
	}
	v, err := positive[uint64](r.PathValue("version"), "version")
	if err != nil {
		return err
	}
	rd, err := s.res.EntityVersion(r.Context(), id, v)
	if err != nil {
		return readFailed(err)
	}
	if rd.Record == nil {
		return rejection(op.ReasonUnknownEntity, fmt.Sprintf("%s has no version %d", id, v))
	}
	writeJSON(w, http.StatusOK, sdk.EntityViewOf(rd.Record, rd.Height))
	return nil
}

func (s *Server) provider(w http.ResponseWriter, r *http.Request) error {
	id, err := s.parseDID(r)
	if err != nil {
		return err
	}
	p, err := s.res.Provider(r.Context(), id)
	if err != nil {
		return readFailed(err)
	}
	if p == nil {
		return rejection(op.ReasonUnknownProvider, id+" is not a provider")
	}
	writeJSON(w, http.StatusOK, sdk.ProviderViewOf(p))
	return nil
}

func (s *Server) providers(w http.ResponseWriter, r *http.Request) error {
	list, err := s.res.Providers(r.Context())
	if err != nil {
		return readFailed(err)
	}
	out := make([]sdk.ProviderView, 0, len(list))
	for _, p := range list {
		out = append(out, *sdk.ProviderViewOf(p))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// jwks publishes an entity's keys as a JWK Set (RFC 7517), kid = the DID
// URL of each key, so that any JWT library can verify the session tokens
// a service issues. An entity that is not validated has none.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) error {
	id, err := s.parseDID(r)
	if err != nil {
		return err
	}
	e, err := s.res.EntityRecord(r.Context(), id)
	if err != nil {
		return readFailed(err)
	}
	if e == nil {
		return rejection(op.ReasonUnknownEntity, id+" is not registered")
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

package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/access"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// decodeJSON decodes a request body strictly (no unknown fields), reading
// at most limit bytes.
func decodeJSON(r *http.Request, limit int64, v any, hint string) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return rejection(op.ReasonMalformed, hint)
	}
	return nil
}

// decided renders an access decision, or the node's failure to make one.
func (s *Server) decided(w http.ResponseWriter, d authn.Decision, err error) error {
	if errors.Is(err, access.ErrUnavailable) {
		return unhealthy(err)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// verify decides an authentication at this node, from its committed
// state, with no call to the device's or the service's operator.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) error {
	var req sdk.VerifyRequest
	if err := decodeJSON(r, 4*authn.MaxMessage+4096, &req, `send {"challenge": ..., "proof": ...}`); err != nil {
		return err
	}
	ch, err1 := authn.DecodeText(req.Challenge)
	pr, err2 := authn.DecodeText(req.Proof)
	var d authn.Decision
	var err error
	if err1 != nil || err2 != nil {
		d = authn.Decision{Reason: authn.FailMalformed, Detail: "challenge and proof must be compact JWS or base64url COSE_Sign1"}
	} else {
		d, err = s.acc.Verify(r.Context(), ch, pr, req.Context, time.Now().Unix())
	}
	if err == nil {
		s.decisions.add(d)
	}
	return s.decided(w, d, err)
}

// accessOnly runs the access contracts that a service binds for a device,
// as POST /v1/authn/verify does after an authentication: for a service
// that accepted a session token, so that its own contracts decide (with
// itself as the service and its request's context) rather than the
// issuer's decision alone.
func (s *Server) accessOnly(w http.ResponseWriter, r *http.Request) error {
	var req sdk.AccessRequest
	if err := decodeJSON(r, 16<<10, &req, `send {"device": ..., "service": ..., "context": {...}}`); err != nil {
		return err
	}
	_, err1 := did.ParseNoFragment(req.Device)
	_, err2 := did.ParseNoFragment(req.Service)
	if err1 != nil || err2 != nil {
		return fail(ReasonInvalidDID, "device and service must be DIDs")
	}
	if err := access.CheckContext(req.Context); err != nil {
		return rejection(op.ReasonMalformed, err.Error())
	}
	d, err := s.acc.Access(r.Context(), req, time.Now().Unix())
	return s.decided(w, d, err)
}

// credentialStatus answers whether a provider revoked a credential it
// issued (operation credential.status), by the credential's opaque id.
func (s *Server) credentialStatus(w http.ResponseWriter, r *http.Request) error {
	prov, id := r.PathValue("did"), r.PathValue("id")
	if _, err := did.ParseNoFragment(prov); err != nil {
		return fail(ReasonInvalidDID, "not a provider DID")
	}
	if len(id) != op.CredentialIDLen {
		return rejection(op.ReasonInvalidField, "a credential id is 22 base64url characters")
	}
	st, err := s.res.CredentialStatus(r.Context(), prov, id)
	if err != nil {
		return err
	}
	v := sdk.CredentialStatusView{Provider: prov, ID: id, Revoked: st != nil}
	if st != nil {
		v.Height, v.Time = st.Height, time.Unix(0, st.Revoked).UTC()
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

package api

import (
	"encoding/json"
	"mime"
	"net/http"
	"time"

	"github.com/bias-iot/bias/internal/oauth"
	"github.com/bias-iot/bias/op"
)

// The OAuth 2.0 authorization server's endpoints (docs/oauth.md): the
// decisions are internal/oauth's; these handlers decode, call and render
// in the OAuth error format (RFC 6749 section 5.2), not the API's.

// oauthError renders an OAuth refusal.
func (s *Server) oauthError(w http.ResponseWriter, r *http.Request, e *oauth.Error) {
	if e.Status >= 500 {
		s.log.Warn("oauth request failed", "path", r.URL.Path, "code", e.Code, "err", e.Cause)
	}
	if e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	if e.Status == http.StatusUnauthorized {
		if e.Scheme != "" {
			w.Header().Set("WWW-Authenticate", e.Scheme+` realm="bias"`)
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_client"`)
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, e.Status, map[string]string{"error": e.Code, "error_description": e.Description})
}

// oauthServer is the node's authorization server, or a 404 when the node
// acts for no operator.
func (s *Server) oauthServer() (*oauth.Server, error) {
	if s.oauth == nil {
		return nil, fail(ReasonNotFound, "this node is no authorization server (it acts for no provider)")
	}
	return s.oauth, nil
}

func (s *Server) oauthMetadata(w http.ResponseWriter, _ *http.Request) error {
	as, err := s.oauthServer()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, as.Metadata())
	return nil
}

// oauthMetadataAt serves the metadata at the RFC 8414 path of an issuer
// with a path component (/.well-known/oauth-authorization-server/tenant
// for https://id.example/tenant); other paths are not found.
func (s *Server) oauthMetadataAt(w http.ResponseWriter, r *http.Request) error {
	as, err := s.oauthServer()
	if err != nil {
		return err
	}
	if !as.MetadataPathFor(r.URL.Path) {
		return fail(ReasonNotFound, "no authorization server's metadata here: the issuer is "+as.Issuer())
	}
	writeJSON(w, http.StatusOK, as.Metadata())
	return nil
}

// readForm reads an application/x-www-form-urlencoded body of at most
// oauth.MaxRequestBytes.
func readForm(r *http.Request) ([]byte, *oauth.Error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "send the request as application/x-www-form-urlencoded", Status: http.StatusBadRequest}
	}
	body, err := readBody(r, oauth.MaxRequestBytes+1)
	if err != nil || len(body) > oauth.MaxRequestBytes {
		return nil, &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "the request could not be read, or is larger than 16 KiB", Status: http.StatusBadRequest}
	}
	return body, nil
}

func (s *Server) oauthToken(w http.ResponseWriter, r *http.Request) error {
	as, err := s.oauthServer()
	if err != nil {
		return err
	}
	body, e := readForm(r)
	if e == nil {
		e = oauth.CheckAuthorization(r.Header.Get("Authorization"))
	}
	if e != nil {
		s.oauthError(w, r, e)
		return nil
	}
	req, e := oauth.ParseTokenRequest(body, r.Header.Values("DPoP"))
	if e != nil {
		s.oauthError(w, r, e)
		return nil
	}
	resp, e := as.Token(r.Context(), req, time.Now().Unix())
	if e != nil {
		s.oauthError(w, r, e)
		return nil
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// oauthIntrospect answers for the tokens of every operator, at any node
// that is an authorization server (it authenticates the resource servers
// that ask: RFC 7662 section 2.1).
func (s *Server) oauthIntrospect(w http.ResponseWriter, r *http.Request) error {
	body, e := readForm(r)
	if e == nil {
		e = oauth.CheckAuthorization(r.Header.Get("Authorization"))
	}
	if e != nil {
		s.oauthError(w, r, e)
		return nil
	}
	req, e := oauth.ParseIntrospectRequest(body)
	if e != nil {
		s.oauthError(w, r, e)
		return nil
	}
	var out *oauth.Introspection
	if s.oauth != nil {
		out, e = s.oauth.IntrospectFor(r.Context(), req, time.Now().Unix())
	} else {
		e = &oauth.Error{Code: oauth.ErrInvalidClient, Status: http.StatusUnauthorized,
			Description: "this node acts for no operator and authenticates no resource servers: introspect at an operator's node"}
	}
	if e != nil {
		s.oauthError(w, r, e)
		return nil
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
	return nil
}

// oauthAuthorize refuses every authorization request: devices have no
// browser; they use the token endpoint (docs/oauth.md).
func (s *Server) oauthAuthorize(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.oauthServer(); err != nil {
		return err
	}
	s.oauthError(w, r, &oauth.Error{Code: oauth.ErrUnsupportedResponse, Status: http.StatusBadRequest,
		Description: "no response type is supported here: devices get tokens at the token endpoint"})
	return nil
}

// providerJWKS is a provider's published token keys, from the ledger.
func (s *Server) providerJWKS(w http.ResponseWriter, r *http.Request) error {
	id, err := s.parseDID(r)
	if err != nil {
		return err
	}
	set, err := oauth.JWKS(r.Context(), s.res, id)
	if err != nil {
		return readFailed(err)
	}
	if set == nil {
		return rejection(op.ReasonUnknownProvider, id+" is not a provider")
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	return json.NewEncoder(w).Encode(set)
}

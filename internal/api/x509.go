package api

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/ca"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
	"github.com/bias-iot/bias/x509ca"
)

// X509 is the node's certificate authority (internal/ca).
type X509 interface {
	Provider() string
	Issue(ctx context.Context, req []byte) (*ca.Certificate, error)
	CRL() []byte
	OCSP(ctx context.Context, req []byte) ([]byte, error)
}

var _ X509 = (*ca.Authority)(nil)

// x509Reasons are the reasons of a refused certificate request, with
// their statuses.
func x509Reasons() []struct {
	Reason Reason
	Status int
} {
	status := map[x509ca.Reason]int{
		x509ca.ReasonMalformed: http.StatusBadRequest, x509ca.ReasonOversized: http.StatusRequestEntityTooLarge,
		x509ca.ReasonWrongNetwork: http.StatusBadRequest, x509ca.ReasonWrongAudience: http.StatusBadRequest,
		x509ca.ReasonUnknownDID: http.StatusUnauthorized, x509ca.ReasonUnknownKey: http.StatusUnauthorized,
		x509ca.ReasonBadSignature: http.StatusUnauthorized, x509ca.ReasonNotValidated: http.StatusForbidden,
		x509ca.ReasonRevoked: http.StatusForbidden, x509ca.ReasonWrongKind: http.StatusForbidden,
		x509ca.ReasonStale: http.StatusUnauthorized, x509ca.ReasonReplayed: http.StatusConflict,
		x509ca.ReasonBadCSR: http.StatusBadRequest, x509ca.ReasonCSRKey: http.StatusForbidden,
		x509ca.ReasonCSRNames: http.StatusForbidden, x509ca.ReasonCSRCA: http.StatusForbidden,
		x509ca.ReasonLifetime: http.StatusBadRequest, x509ca.ReasonNoCA: http.StatusNotFound,
		x509ca.ReasonUnavailable: http.StatusServiceUnavailable, x509ca.ReasonTooMany: http.StatusTooManyRequests,
	}
	var out []struct {
		Reason Reason
		Status int
	}
	for _, r := range x509ca.Reasons() {
		out = append(out, struct {
			Reason Reason
			Status int
		}{Reason(r), status[r]})
	}
	return out
}

// x509Failed maps a refused request to what the client sees.
func x509Failed(err error) error {
	var xe *x509ca.Error
	if errors.As(err, &xe) {
		return fail(Reason(xe.Reason), xe.Msg)
	}
	return err
}

// ca returns the node's CA if it is provider's.
func (s *Server) ca(r *http.Request) (X509, error) {
	return s.caOf(r.PathValue("provider"))
}

func (s *Server) caOf(provider string) (X509, error) {
	if s.x509 == nil || provider != s.x509.Provider() {
		return nil, fail(Reason(x509ca.ReasonNoCA), "this node runs no CA for that provider")
	}
	return s.x509, nil
}

// x509Issue issues a device certificate for a signed request
// (application/cose, an x509ca request).
func (s *Server) x509Issue(w http.ResponseWriter, r *http.Request) error {
	if s.x509 == nil {
		return fail(Reason(x509ca.ReasonNoCA), "this node runs no CA")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != sdk.MediaTypeCOSE {
		return fail(ReasonUnsupportedMedia, "send the request as "+sdk.MediaTypeCOSE)
	}
	body, err := readBody(r, x509ca.MaxRequestBytes+1)
	if err != nil {
		return fail(Reason(x509ca.ReasonMalformed), "could not read the body")
	}
	c, err := s.x509.Issue(r.Context(), body)
	if err != nil {
		return x509Failed(err)
	}
	writeJSON(w, http.StatusOK, sdk.X509Certificate{
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER})),
		CA:          string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.CA})),
		Serial:      hex.EncodeToString(c.Cert.SerialNumber.Bytes()), DID: c.Cert.URIs[0].String(), Provider: s.x509.Provider(),
		NotBefore: c.Cert.NotBefore, NotAfter: c.Cert.NotAfter,
	})
	return nil
}

// x509CA serves the CA certificates a provider publishes on the ledger,
// as PEM (any provider's: a server pins its own operator's).
func (s *Server) x509CA(w http.ResponseWriter, r *http.Request) error {
	d, err := did.ParseNoFragment(r.PathValue("provider"))
	if err != nil {
		return fail(ReasonInvalidDID, err.Error())
	}
	if d.Network != s.network {
		return rejection(op.ReasonWrongNetwork, "this node serves network "+s.network)
	}
	id := d.String()
	p, err := s.res.Provider(r.Context(), id)
	if err != nil {
		return readFailed(err)
	}
	if p == nil {
		return rejection(op.ReasonUnknownProvider, "no provider "+id)
	}
	if p.Publication == nil || len(p.Publication.CA) == 0 {
		return fail(Reason(x509ca.ReasonNoCA), id+" publishes no CA certificate")
	}
	w.Header().Set("Content-Type", sdk.MediaTypePEMChain)
	var out []byte
	for _, der := range p.Publication.CA {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	_, _ = w.Write(out) // a client that went away is no error of the node's
	return nil
}

// x509CRL serves the CA's current CRL (DER).
func (s *Server) x509CRL(w http.ResponseWriter, r *http.Request) error {
	c, err := s.ca(r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(c.CRL()) //nolint:gosec // DER of the CA's CRL, application/pkix-crl: no markup
	return nil
}

// ocspPrefix is the path of the OCSP responders (…/{provider}).
const ocspPrefix = "/v1/x509/ocsp/"

// x509OCSP answers an OCSP request: POST with the DER as the body, or GET
// with it in base64 as the last path segment (RFC 6960, A.1). Every
// answer is in OCSP's own form (application/ocsp-response), refusals
// too: malformedRequest for a request that cannot be read (415 for
// another media type), unauthorized for a provider whose CA this node
// does not run. A GET is read from the path as it was sent: base64 may
// hold "//", which the mux would clean away (Handler routes it here
// first).
func (s *Server) x509OCSP(w http.ResponseWriter, r *http.Request) error {
	answer := func(status int, b []byte) error {
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(status)
		_, _ = w.Write(b)
		return nil
	}
	provider := r.PathValue("provider")
	var der []byte
	if r.Method == http.MethodGet {
		p, enc, _ := strings.Cut(strings.TrimPrefix(r.URL.EscapedPath(), ocspPrefix), "/")
		var err error
		if provider, err = url.PathUnescape(p); err != nil {
			return answer(http.StatusOK, ca.OCSPUnauthorized())
		}
		// Clients join the responder URL and the request with a "/" of
		// their own: a request never begins with one (DER is 0x30, "M").
		enc, err = url.PathUnescape(strings.TrimLeft(enc, "/"))
		if err != nil || len(enc) > 2*ca.MaxOCSPRequest {
			return answer(http.StatusOK, ca.OCSPError())
		}
		if der, err = base64.StdEncoding.DecodeString(enc); err != nil {
			return answer(http.StatusOK, ca.OCSPError())
		}
	} else {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/ocsp-request" {
			return answer(http.StatusUnsupportedMediaType, ca.OCSPError())
		}
		var err error
		if der, err = readBody(r, ca.MaxOCSPRequest+1); err != nil {
			return answer(http.StatusOK, ca.OCSPError())
		}
	}
	c, err := s.caOf(provider)
	if err != nil {
		return answer(http.StatusOK, ca.OCSPUnauthorized())
	}
	resp, err := c.OCSP(r.Context(), der)
	if err != nil {
		return err
	}
	return answer(http.StatusOK, resp)
}

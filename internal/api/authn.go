package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/contract"
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
	return &authn.Entity{DID: e.DID, Kind: e.Kind, Provider: e.Provider, Status: e.Status, Keys: e.Doc.Keys, Access: e.Doc.Access}, nil
}

// VerifyRequest is the body of POST /v1/authn/verify: a challenge and the
// proof that answers it, each a compact JWS or base64 of a COSE_Sign1.
type VerifyRequest struct {
	Challenge string `json:"challenge"`
	Proof     string `json:"proof"`
	// Context is what the service tells its access contracts of the
	// request (operation, area...): at most 16 entries.
	Context map[string]string `json:"context,omitempty"`
}

// contextRule bounds what a service tells its access contracts of a
// request, as the contracts' cost estimate assumes (op.MaxAttrKeyLen,
// op.MaxAttrValueLen).
const contextRule = "context holds at most 16 entries, keys of at most 64 bytes, values of at most 256"

func contextOK(m map[string]string) bool {
	if len(m) > 16 {
		return false
	}
	for k, v := range m {
		if len(k) > op.MaxAttrKeyLen || len(v) > op.MaxAttrValueLen {
			return false
		}
	}
	return true
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
	switch {
	case !ok1 || !ok2:
		d = authn.Decision{Reason: authn.FailMalformed, Detail: "challenge and proof must be compact JWS or base64 COSE_Sign1"}
	case !contextOK(req.Context):
		d = authn.Decision{Reason: authn.FailMalformed, Detail: contextRule}
	default:
		now := time.Now().Unix()
		d = authn.VerifyPair(r.Context(), ledgerView{s}, s.spent, ch, pr, now)
		if d.OK {
			var err error
			if d, err = s.access(r.Context(), d, req.Context, now); err != nil {
				return err
			}
		}
	}
	if d.Reason == authn.FailUnavailable {
		return &Error{Status: http.StatusServiceUnavailable, Reason: "unhealthy", Msg: "the ledger does not answer"}
	}
	s.decisions.add(d)
	writeJSON(w, http.StatusOK, d)
	return nil
}

// AccessRequest asks for the access decision of a service's bound
// contracts on a device, without an authentication (the service has one:
// a session token it accepted).
type AccessRequest struct {
	Device  string `json:"device"`
	Service string `json:"service"`
	// Issuer is the service that issued the token, if another: it must be
	// a validated service of the same provider, or bound to an access
	// contract that the service binds and whose owner admits the issuer's
	// provider today.
	Issuer  string            `json:"issuer,omitempty"`
	Context map[string]string `json:"context,omitempty"`
}

// accessOnly runs the access contracts that a service binds for a device,
// as POST /v1/authn/verify does after an authentication: for a service
// that accepted a session token another service issued, so that its own
// contracts decide (with itself as the service and its request's context)
// rather than the issuer's decision alone.
func (s *Server) accessOnly(w http.ResponseWriter, r *http.Request) error {
	var req AccessRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return &Error{Status: http.StatusBadRequest, Reason: string(op.ReasonMalformed), Msg: "send {\"device\": ..., \"service\": ..., \"context\": {...}}"}
	}
	dev, err1 := did.ParseNoFragment(req.Device)
	svc, err2 := did.ParseNoFragment(req.Service)
	if err1 != nil || err2 != nil {
		return &Error{Status: http.StatusBadRequest, Reason: "invalid-did", Msg: "device and service must be DIDs"}
	}
	if !contextOK(req.Context) {
		return &Error{Status: http.StatusBadRequest, Reason: string(op.ReasonMalformed), Msg: contextRule}
	}
	now := time.Now().Unix()
	d := authn.Decision{OK: true, Reason: authn.OK, Device: dev.String(), Service: svc.String(), At: now}
	for _, c := range []struct {
		id   did.DID
		kind string
	}{{dev, op.KindDevice}, {svc, op.KindService}} {
		if _, st := authn.Standing(r.Context(), ledgerView{s}, c.id, c.kind); !st.OK {
			if st.Reason == authn.FailUnavailable {
				return &Error{Status: http.StatusServiceUnavailable, Reason: "unhealthy", Msg: "the ledger does not answer"}
			}
			st.Device, st.Service, st.At = d.Device, d.Service, now
			writeJSON(w, http.StatusOK, st)
			return nil
		}
	}
	if req.Issuer != "" {
		var err error
		if d, err = s.issuerAdmitted(r.Context(), d, req.Issuer); err != nil {
			return err
		}
		if !d.OK {
			writeJSON(w, http.StatusOK, d)
			return nil
		}
	}
	d, err := s.access(r.Context(), d, req.Context, now)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// issuerAdmitted checks a token's issuer against the service that accepts
// the token: a validated service of the same provider, or one bound to an
// access contract the service binds too, whose owner admits the issuer's
// provider.
func (s *Server) issuerAdmitted(ctx context.Context, d authn.Decision, issuer string) (authn.Decision, error) {
	deny := func(r authn.Reason, detail string) (authn.Decision, error) {
		return authn.Decision{Reason: r, Detail: detail, Device: d.Device, Service: d.Service, At: d.At}, nil
	}
	id, err := did.ParseNoFragment(issuer)
	if err != nil {
		return deny(authn.FailMalformed, "issuer is not a DID")
	}
	iss, _, err := s.readEntity(ctx, registry.EntityKey(id.String()), 0)
	if err != nil {
		return d, err
	}
	svc, _, err := s.readEntity(ctx, registry.EntityKey(d.Service), 0)
	if err != nil {
		return d, err
	}
	if svc == nil {
		return deny(authn.FailUnknownDID, d.Service+" is not registered")
	}
	if iss == nil || iss.Kind != op.KindService || iss.Status != op.StatusValidated {
		return deny(authn.FailWrongService, "the token's issuer is not a validated service")
	}
	if iss.DID == svc.DID || iss.Provider == svc.Provider {
		return d, nil // the service itself, or a service of its own provider
	}
	for _, ref := range svc.Doc.Access {
		if !slices.Contains(iss.Doc.Access, ref) {
			continue
		}
		prov, name, _ := strings.Cut(ref, "/")
		q, err := s.query(ctx, registry.ContractKey(prov, name), 0, false)
		if err != nil {
			return d, err
		}
		var c registry.Contract
		if q.Value != nil && op.Unmarshal(q.Value, &c) == nil && c.Admits(iss.Provider) {
			return d, nil
		}
	}
	return deny(authn.FailWrongService, "the token's issuer shares no access contract with this service that admits it")
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

// access runs the access contracts that the service binds: each must
// allow the device. The decision names them, with their versions.
func (s *Server) access(ctx context.Context, d authn.Decision, request map[string]string, now int64) (authn.Decision, error) {
	svc, _, err := s.readEntity(ctx, registry.EntityKey(d.Service), 0)
	if err != nil || svc == nil || len(svc.Doc.Access) == 0 {
		return d, err
	}
	dev, _, err := s.readEntity(ctx, registry.EntityKey(d.Device), 0)
	if err != nil || dev == nil {
		return d, err
	}
	attrs := func(e *registry.Entity) map[string]string {
		m := map[string]string{}
		for _, a := range e.Doc.Attrs {
			m[a.K] = a.V
		}
		return m
	}
	if request == nil {
		request = map[string]string{}
	}
	inputs := map[string]any{
		"device":        map[string]string{"did": dev.DID, "provider": dev.Provider, "kind": dev.Kind},
		"device_attrs":  attrs(dev),
		"service":       map[string]string{"did": svc.DID, "provider": svc.Provider, "kind": svc.Kind},
		"service_attrs": attrs(svc),
		"request":       request,
		"time":          time.Unix(now, 0).UTC(),
	}
	var used []string
	for _, ref := range svc.Doc.Access {
		prov, name, _ := strings.Cut(ref, "/")
		q, err := s.query(ctx, registry.ContractKey(prov, name), 0, false)
		if err != nil {
			return d, err
		}
		var c registry.Contract
		if q.Value == nil || op.Unmarshal(q.Value, &c) != nil {
			d.OK, d.Reason, d.Detail = false, authn.FailContractDenied, "access contract "+ref+" is missing"
			return d, nil
		}
		id := fmt.Sprintf("%s@%d", ref, c.Version)
		used = append(used, id)
		if !c.Admits(svc.Provider) {
			// The owner no longer admits this service's provider.
			d.OK, d.Reason, d.Detail, d.Contract = false, authn.FailContractDenied, id+" does not admit services of "+svc.Provider, strings.Join(used, ",")
			return d, nil
		}
		prg, err := s.programs.get(&c)
		if err != nil {
			d.OK, d.Reason, d.Detail, d.Contract = false, authn.FailContractDenied, id+" does not compile", strings.Join(used, ",")
			return d, nil
		}
		if out := prg.Eval(inputs); out.Outcome != "allow" {
			d.OK, d.Reason, d.Detail, d.Contract = false, authn.FailContractDenied, id+": "+out.Reason, strings.Join(used, ",")
			return d, nil
		}
	}
	d.Contract = strings.Join(used, ",")
	return d, nil
}

// programCache keeps compiled contracts by provider/name@version.
type programCache struct {
	mu sync.Mutex
	m  map[string]*contract.Program
}

func (p *programCache) get(c *registry.Contract) (*contract.Program, error) {
	key := fmt.Sprintf("%s/%s@%d", c.Provider, c.Name, c.Version)
	p.mu.Lock()
	prg, ok := p.m[key]
	p.mu.Unlock()
	if ok {
		return prg, nil
	}
	prg, err := contract.Compile(contract.Kind(c.Kind), c.Source)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	if p.m == nil || len(p.m) > 4096 {
		p.m = map[string]*contract.Program{}
	}
	p.m[key] = prg
	p.mu.Unlock()
	return prg, nil
}

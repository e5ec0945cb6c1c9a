// Package access decides, at a node, whether an authenticated device may
// use a service: it verifies a challenge and its proof against the node's
// committed state (spending the challenge once), runs the access
// contracts the service binds, and answers a service that accepted a
// session token with its own contracts' decision, after deciding again
// whether it accepts that token's issuer (authn.Federated). It shares the
// registry's compiled-contract cache.
//
//	d := access.New(resolver, app.Programs(), authn.NewMemorySpentSet(1<<20))
//	dec, err := d.Verify(ctx, challenge, proof, request, now) // err: the node failed
package access

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/contract"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
	"github.com/bias-iot/bias/sdk"
)

// Records is what the decisions read of the ledger: the authentication
// view and the full entity records (attributes) that contracts see.
type Records interface {
	authn.View
	EntityRecord(ctx context.Context, id string) (*record.Entity, error)
	// ContractVersion reads a contract at version (0: its current one).
	ContractVersion(ctx context.Context, provider, name string, version uint64) (*record.Contract, error)
	// Provider reads a provider (nil if there is none).
	Provider(ctx context.Context, id string) (*record.Provider, error)
	// CredentialRevoked reads a credential's status (authn.Statuses).
	CredentialRevoked(ctx context.Context, provider, id string) (bool, error)
}

// Decider makes a node's access decisions.
type Decider struct {
	r        Records
	programs *contract.Cache
	spent    authn.SpentSet
}

// New returns the decider over r, compiling contracts into programs and
// spending challenges in spent.
func New(r Records, programs *contract.Cache, spent authn.SpentSet) *Decider {
	return &Decider{r: r, programs: programs, spent: spent}
}

// ErrUnavailable is returned when the ledger view could not be read: the
// node, not the request, failed.
var ErrUnavailable = errors.New("the ledger does not answer")

// Request context bounds, as contracts' cost estimates assume
// (op.MaxAttrKeyLen, op.MaxAttrValueLen).
const (
	MaxContextEntries = 16
	ContextRule       = "context holds at most 16 entries, keys of at most 64 bytes, values of at most 256"
)

// CheckContext checks what a service tells its access contracts of a
// request against the bounds.
func CheckContext(m map[string]string) error {
	if len(m) > MaxContextEntries {
		return errors.New(ContextRule)
	}
	for k, v := range m {
		if len(k) > op.MaxAttrKeyLen || len(v) > op.MaxAttrValueLen {
			return errors.New(ContextRule)
		}
	}
	return nil
}

// Verify decides an authentication (a challenge and the proof that
// answers it, each in their wire form) from the node's committed state,
// then the access contracts the service binds, with request as their
// request input. A refusal is a decision; an error means the node failed.
func (d *Decider) Verify(ctx context.Context, challenge, proof []byte, request map[string]string, now int64) (authn.Decision, error) {
	if err := CheckContext(request); err != nil {
		return authn.Decision{Reason: authn.FailMalformed, Detail: err.Error()}, nil //nolint:nilerr // a bad request is a refusal
	}
	dec := authn.VerifyPair(ctx, issuers{d.r}, d.spent, challenge, proof, now)
	if dec.Reason == authn.FailUnavailable {
		return dec, ErrUnavailable
	}
	if !dec.OK {
		return dec, nil
	}
	return d.contracts(ctx, dec, request, now)
}

// Access runs the access contracts a service binds for a device, without
// an authentication: for a service that accepted a session token (with
// the token's issuer and audience when another service issued it).
func (d *Decider) Access(ctx context.Context, req sdk.AccessRequest, now int64) (authn.Decision, error) {
	dev, err1 := did.ParseNoFragment(req.Device)
	svc, err2 := did.ParseNoFragment(req.Service)
	if err1 != nil || err2 != nil {
		return authn.Decision{Reason: authn.FailMalformed, Detail: "device and service must be DIDs", At: now}, nil //nolint:nilerr // a bad request is a refusal
	}
	base := authn.Decision{OK: true, Reason: authn.OK, Device: dev.String(), Service: svc.String(), At: now}
	fail := func(f authn.Decision) (authn.Decision, error) {
		f.Device, f.Service, f.At = base.Device, base.Service, now
		if f.Reason == authn.FailUnavailable {
			return f, ErrUnavailable
		}
		return f, nil
	}
	if err := CheckContext(req.Context); err != nil {
		return fail(authn.Decision{Reason: authn.FailMalformed, Detail: err.Error()})
	}
	if _, st := authn.Standing(ctx, d.r, dev, op.KindDevice); !st.OK {
		return fail(st)
	}
	if _, st := authn.Standing(ctx, d.r, svc, op.KindService); !st.OK {
		return fail(st)
	}
	if req.Issuer != "" && req.Issuer != base.Service {
		iss, err := did.ParseNoFragment(req.Issuer)
		if err != nil {
			return fail(authn.Decision{Reason: authn.FailMalformed, Detail: "issuer is not a DID"})
		}
		issuer, st := authn.Standing(ctx, d.r, iss, op.KindService)
		if !st.OK {
			st.Detail = "the token's issuer: " + st.Detail
			return fail(st)
		}
		if fed := authn.Federated(ctx, d.r, issuer, svc, req.Audience); !fed.OK {
			return fail(fed)
		}
	}
	return d.contracts(ctx, base, req.Context, now)
}

// contracts runs the access contracts that the service of an accepted
// decision binds: each must allow the device. The decision names them,
// with their versions.
func (d *Decider) contracts(ctx context.Context, dec authn.Decision, request map[string]string, now int64) (authn.Decision, error) {
	svc, err := d.r.EntityRecord(ctx, dec.Service)
	if err != nil {
		return dec, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if svc == nil || len(svc.Doc.Access) == 0 {
		return dec, nil
	}
	dev, err := d.r.EntityRecord(ctx, dec.Device)
	if err != nil {
		return dec, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if dev == nil {
		return dec, nil
	}
	in := contract.AccessInputs{
		Device:       map[string]string{"did": dev.DID, "provider": dev.Provider, "kind": dev.Kind},
		DeviceAttrs:  dev.Attrs(),
		Disclosed:    dec.Disclosed,
		Service:      map[string]string{"did": svc.DID, "provider": svc.Provider, "kind": svc.Kind},
		ServiceAttrs: svc.Attrs(),
		Request:      request,
		Time:         time.Unix(now, 0).UTC(),
	}
	values := in.Values()
	deny := func(detail string) (authn.Decision, error) {
		dec.OK, dec.Reason, dec.Detail = false, authn.FailContractDenied, detail
		return dec, nil
	}
	dec.Contract = nil
	for _, ref := range svc.Doc.Access {
		c, err := d.r.Contract(ctx, ref)
		if err != nil {
			return dec, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		if c == nil {
			return deny("access contract " + ref + " is missing")
		}
		id := c.ID()
		dec.Contract = append(dec.Contract, id)
		if !c.Admits(svc.Provider) {
			// The owner no longer admits this service's provider.
			return deny(id + " does not admit services of " + svc.Provider)
		}
		owner, err := d.r.Provider(ctx, c.Provider)
		if err != nil {
			return dec, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		if owner == nil || owner.Removed != 0 {
			// A removed provider's contracts decide nothing: they deny.
			return deny(id + ": its provider was removed by governance")
		}
		prg, err := d.programs.Program(id, contract.Kind(c.Kind), c.Source)
		if err != nil {
			return deny(id + " does not compile")
		}
		if out := prg.Eval(values); out.Outcome != "allow" {
			if strings.HasPrefix(out.Reason, "contract error: no such key") && strings.Contains(c.Source, "disclosed") {
				// The contract requires a claim the device did not disclose.
				dec.OK, dec.Reason, dec.Detail = false, authn.FailClaimMissing, id+": "+out.Reason
				return dec, nil
			}
			return deny(id + ": " + out.Reason)
		}
	}
	return dec, nil
}

// issuers is the node's view with the keys that sign credentials: the
// token keys each provider publishes on the ledger.
type issuers struct{ Records }

var (
	_ authn.Issuers  = issuers{}
	_ authn.Statuses = issuers{}
)

// IssuerKey implements authn.Issuers.
func (v issuers) IssuerKey(ctx context.Context, provider, kid string) (*op.Key, error) {
	p, err := v.Provider(ctx, provider)
	if err != nil || p == nil || p.Removed != 0 {
		return nil, err // a removed provider's keys sign nothing
	}
	k, ok := p.TokenKey(kid)
	if !ok {
		return nil, nil
	}
	return &k, nil
}

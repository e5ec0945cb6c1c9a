package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// View is an authn.View that reads entities and contracts from a node
// over HTTP, trusting its answers (ProvenView checks them).
type View struct{ C *Client }

// Entity implements authn.View.
func (v View) Entity(ctx context.Context, id did.DID) (*authn.Entity, error) {
	e, err := v.C.Entity(ctx, id.String())
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := &authn.Entity{DID: e.DID, Kind: e.Kind, Provider: e.Provider, Status: e.Status, Access: e.Access}
	for _, kv := range e.Keys {
		k, err := kv.Key()
		if err != nil {
			return nil, err
		}
		out.Keys = append(out.Keys, k)
	}
	return out, nil
}

// IssuerKey implements authn.Issuers: the token key id that provider
// publishes (op.Publish), nil if none.
func (v View) IssuerKey(ctx context.Context, provider, kid string) (*op.Key, error) {
	p, err := v.C.Provider(ctx, provider)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if p.Publication == nil {
		return nil, nil
	}
	for _, kv := range p.Publication.TokenKeys {
		if kv.ID == kid {
			k, err := kv.Key()
			if err != nil {
				return nil, err
			}
			return &k, nil
		}
	}
	return nil, nil
}

var _ authn.Issuers = View{}

// Contract implements authn.View.
func (v View) Contract(ctx context.Context, ref string) (*record.Contract, error) {
	prov, name, ok := record.SplitRef(ref)
	if !ok {
		return nil, nil
	}
	c, err := v.C.Contract(ctx, prov, name, 0)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &c.Contract, nil
}

func isNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// Verify asks the node to decide on a proof and the challenge it answers
// (POST /v1/authn/verify), from the node's committed state.
func (c *Client) Verify(ctx context.Context, challenge, proof []byte) (*authn.Decision, error) {
	return c.VerifyIn(ctx, challenge, proof, nil)
}

// VerifyIn is Verify with the request context that the service's access
// contracts see (operation, area...).
func (c *Client) VerifyIn(ctx context.Context, challenge, proof []byte, request map[string]string) (*authn.Decision, error) {
	body, err := json.Marshal(VerifyRequest{Challenge: authn.EncodeText(challenge), Proof: authn.EncodeText(proof), Context: request})
	if err != nil {
		return nil, err
	}
	var d authn.Decision
	return &d, c.do(ctx, http.MethodPost, "/v1/authn/verify", "application/json", body, &d)
}

// Access asks the node to run the access contracts that a service binds
// for a device (POST /v1/authn/access), with no authentication: for a
// service that accepted a session token, so that its own contracts
// decide; with the token's issuer and audience when another service
// issued it, so that the node decides again whether the service accepts
// that issuer's tokens.
func (c *Client) Access(ctx context.Context, req AccessRequest) (*authn.Decision, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var d authn.Decision
	return &d, c.do(ctx, http.MethodPost, "/v1/authn/access", "application/json", body, &d)
}

// CredentialStatusView is a credential's status (GET
// /v1/providers/{did}/credentials/{id}).
type CredentialStatusView struct {
	Provider string    `json:"provider"`
	ID       string    `json:"id"`
	Revoked  bool      `json:"revoked"`
	Height   int64     `json:"height,omitempty"`
	Time     time.Time `json:"time,omitzero"`
}

// CredentialStatus reads whether provider revoked its credential id.
func (c *Client) CredentialStatus(ctx context.Context, provider, id string) (*CredentialStatusView, error) {
	var out CredentialStatusView
	return &out, c.do(ctx, http.MethodGet, "/v1/providers/"+url.PathEscape(provider)+"/credentials/"+url.PathEscape(id), "", nil, &out)
}

// CredentialRevoked implements authn.Statuses.
func (v View) CredentialRevoked(ctx context.Context, provider, id string) (bool, error) {
	s, err := v.C.CredentialStatus(ctx, provider, id)
	if err != nil {
		return false, err
	}
	return s.Revoked, nil
}

var _ authn.Statuses = View{}

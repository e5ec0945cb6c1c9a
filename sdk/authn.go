package sdk

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
)

// View is an authn.View that reads entities from a node over HTTP.
type View struct{ C *Client }

// Entity implements authn.View.
func (v View) Entity(ctx context.Context, id did.DID) (*authn.Entity, error) {
	e, err := v.C.Entity(ctx, id.String())
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := &authn.Entity{DID: e.DID, Kind: e.Kind, Provider: e.Provider, Status: e.Status, Access: e.Access}
	for _, k := range e.Keys {
		pub, err := base64.RawURLEncoding.DecodeString(k.PublicKey)
		if err != nil {
			return nil, err
		}
		alg := int64(-8)
		if k.Alg == "ES256" {
			alg = -7
		}
		out.Keys = append(out.Keys, op.Key{ID: k.ID, Alg: alg, Pub: pub})
	}
	return out, nil
}

// Verify asks the node to decide on a proof and the challenge it answers
// (POST /v1/authn/verify), from the node's committed state.
func (c *Client) Verify(ctx context.Context, challenge, proof []byte) (*authn.Decision, error) {
	return c.VerifyIn(ctx, challenge, proof, nil)
}

// VerifyIn is Verify with the request context that the service's access
// contracts see (operation, area...).
func (c *Client) VerifyIn(ctx context.Context, challenge, proof []byte, request map[string]string) (*authn.Decision, error) {
	enc := func(b []byte) string {
		if authn.DetectEncoding(b) == authn.JWS {
			return string(b)
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	body, err := json.Marshal(struct {
		Challenge string            `json:"challenge"`
		Proof     string            `json:"proof"`
		Context   map[string]string `json:"context,omitempty"`
	}{enc(challenge), enc(proof), request})
	if err != nil {
		return nil, err
	}
	var d authn.Decision
	return &d, c.do(ctx, http.MethodPost, "/v1/authn/verify", "application/json", body, &d)
}

// Access asks the node to run the access contracts that service binds for
// device (POST /v1/authn/access), with no authentication: for a service
// that accepted a session token from issuer (a service), so that its own
// contracts decide and the node checks that the issuer is still admitted
// to a contract both bind.
func (c *Client) Access(ctx context.Context, device, service, issuer string, request map[string]string) (*authn.Decision, error) {
	body, err := json.Marshal(struct {
		Device  string            `json:"device"`
		Service string            `json:"service"`
		Issuer  string            `json:"issuer,omitempty"`
		Context map[string]string `json:"context,omitempty"`
	}{device, service, issuer, request})
	if err != nil {
		return nil, err
	}
	var d authn.Decision
	return &d, c.do(ctx, http.MethodPost, "/v1/authn/access", "application/json", body, &d)
}

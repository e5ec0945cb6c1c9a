package oauth

import (
	"context"

	"github.com/bias-iot/bias/did"
)

// Metadata is the authorization server's metadata (RFC 8414 section 2),
// which is also its OpenID Provider metadata (OpenID Connect Discovery
// 1.0 section 3).
type Metadata struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	JWKSURI                                    string   `json:"jwks_uri"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	SubjectTypesSupported                      []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported           []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported"`
	// IntrospectionEndpointAuthSigningAlgValuesSupported is due with
	// private_key_jwt (RFC 8414 section 2).
	IntrospectionEndpointAuthSigningAlgValuesSupported []string `json:"introspection_endpoint_auth_signing_alg_values_supported"`
	// RequestURIParameterSupported is false: an omitted value means true
	// (OpenID Connect Discovery 1.0 section 3).
	RequestURIParameterSupported  bool     `json:"request_uri_parameter_supported"`
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported"`
	ScopesSupported               []string `json:"scopes_supported"`
	ClaimsSupported               []string `json:"claims_supported"`
}

// Metadata is the server's metadata document.
func (s *Server) Metadata() Metadata {
	algs := []string{"EdDSA", "ES256"}
	introspection := []string{"private_key_jwt"}
	if s.c.AnonymousIntrospection {
		introspection = append(introspection, "none")
	}
	return Metadata{
		Issuer:                                     s.issuer,
		AuthorizationEndpoint:                      s.issuer + PathAuthorize,
		TokenEndpoint:                              s.token,
		IntrospectionEndpoint:                      s.issuer + PathIntrospect,
		JWKSURI:                                    s.issuer + JWKSPath(s.c.Provider.Base().String()),
		ResponseTypesSupported:                     []string{"none"},
		GrantTypesSupported:                        []string{GrantJWTBearer, GrantExchange, GrantProof},
		SubjectTypesSupported:                      []string{"public"},
		IDTokenSigningAlgValuesSupported:           []string{s.c.Key.Public().Alg().String()},
		TokenEndpointAuthMethodsSupported:          []string{"none", "private_key_jwt"},
		TokenEndpointAuthSigningAlgValuesSupported: algs,
		IntrospectionEndpointAuthMethodsSupported:  introspection,
		IntrospectionEndpointAuthSigningAlgValuesSupported: algs,
		DPoPSigningAlgValuesSupported:                      algs,
		ScopesSupported:                                    []string{ScopeOpenID},
		ClaimsSupported:                                    []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "bias_provider"},
	}
}

// JWKS is a provider's JWK Set from its publication on the ledger (any
// operator's, at any node): each token key with kid "<provider
// DID>#<id>", use sig and its alg. It is nil for an unknown provider.
func JWKS(ctx context.Context, l Ledger, provider string) (*JWKSet, error) {
	p, err := l.Provider(ctx, provider)
	if err != nil || p == nil {
		return nil, err
	}
	set := &JWKSet{Keys: []*did.JWK{}}
	if p.Publication == nil {
		return set, nil
	}
	id, err := did.ParseNoFragment(p.DID)
	if err != nil {
		return nil, err
	}
	for _, k := range p.Publication.TokenKeys {
		pk, err := k.Public()
		if err != nil {
			return nil, err
		}
		j, err := did.PublicJWK(pk)
		if err != nil {
			return nil, err
		}
		j.Kid, j.Use, j.Alg = id.WithFragment(k.ID).String(), "sig", pk.Alg().String()
		set.Keys = append(set.Keys, j)
	}
	return set, nil
}

// JWKSet is a JWK Set (RFC 7517 section 5).
type JWKSet struct {
	Keys []*did.JWK `json:"keys"`
}

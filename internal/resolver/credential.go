package resolver

import (
	"context"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/record"
)

var _ authn.Statuses = (*Resolver)(nil)

// CredentialRevoked reads whether provider revoked its credential id
// (operation credential.status).
func (r *Resolver) CredentialRevoked(ctx context.Context, provider, id string) (bool, error) {
	s, err := r.CredentialStatus(ctx, provider, id)
	return s != nil, err
}

// CredentialStatus reads the status record of provider's credential id:
// nil when it is not revoked.
func (r *Resolver) CredentialStatus(ctx context.Context, provider, id string) (*record.CredentialStatus, error) {
	q, err := r.query(ctx, record.CredentialStatusKey(provider, id), 0, false)
	if err != nil || q.Value == nil {
		return nil, err
	}
	return record.DecodeCredentialStatus(q.Value)
}

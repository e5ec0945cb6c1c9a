package authn

import (
	"context"
	"slices"
	"strings"

	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
)

// Federated decides whether the service audience accepts a session token
// that the validated service issuer issued for the audiences aud: the
// whole rule of who accepts whose session tokens (one registration, many
// services). It is run by a service that verifies a token (VerifyToken)
// and again by a node (POST /v1/authn/access with the token's issuer),
// from the node's state. The service accepts the token when
//
//   - aud names it and the issuer is a service of its own provider (or
//     itself), or
//   - aud names an access contract that both services bind and whose owner
//     admits the providers of both (record.Contract.Admits; the owner
//     may have dropped one from its binders since the binding was made).
//
// The verifying service must itself stand (registered, validated, a
// service). An accepted decision's Contract names the shared contract
// ("<provider DID>/<name>"), if that is how it was accepted.
func Federated(ctx context.Context, v View, issuer *Entity, audience did.DID, aud []string) Decision {
	self, d := Standing(ctx, v, audience, op.KindService)
	if !d.OK {
		return d
	}
	if slices.Contains(aud, self.DID) && self.Provider == issuer.Provider {
		return Decision{OK: true, Reason: OK}
	}
	for _, ref := range aud {
		if !strings.Contains(ref, "/") || !slices.Contains(issuer.Access, ref) || !slices.Contains(self.Access, ref) {
			continue
		}
		c, err := v.Contract(ctx, ref)
		if err != nil {
			return deny(FailUnavailable, "the ledger view failed")
		}
		if c != nil && c.Kind == op.ContractAccess && c.Admits(issuer.Provider) && c.Admits(self.Provider) {
			return Decision{OK: true, Reason: OK, Contract: []string{ref}}
		}
	}
	return deny(FailWrongService, "the token is not for %s (or its issuer is of another provider and shares no access contract with it that admits both)", audience.Base())
}

// audiences is a token's aud: the services named (default the issuer)
// and each access contract that decided (as "<provider DID>/<name>"):
// every service bound to one of them accepts the token.
func audiences(kid did.DID, aud []did.DID, d Decision) []string {
	out := []string{}
	for _, a := range aud {
		out = append(out, a.Base().String())
	}
	if len(out) == 0 {
		out = []string{kid.Base().String()}
	}
	for _, id := range d.Contract {
		ref, _, _ := strings.Cut(id, "@")
		if ref != "" && !slices.Contains(out, ref) {
			out = append(out, ref)
		}
	}
	return out
}

package registry

import (
	"slices"

	"github.com/bias-iot/bias/op"
)

// update replaces an entity's document, signed by the entity or its
// provider; what only the provider vouches for (a new legacy identifier,
// a new access contract binding) needs the provider's signature.
func (x *executor) update() (*outcome, error) {
	e, self, err := x.target()
	if err != nil {
		return nil, err
	}
	if err := x.checkVersion(e); err != nil {
		return nil, err
	}
	if !e.Live() {
		return nil, later(op.Reject(op.ReasonInvalidTransition, "cannot update a "+e.Status+" entity"))
	}
	next := *e
	if next.Doc, err = canonicalDoc(x.s.Payload.Update.Doc); err != nil {
		return nil, err
	}
	if err := x.checkAccess(e.Kind, e.Provider, next.Doc.Access, e.Doc.Access); err != nil {
		return nil, err
	}
	// A pairwise DID must not name its device: no legacy identifier.
	if e.Pairwise != nil && len(next.Doc.Aliases) > 0 {
		return nil, op.Reject(op.ReasonInvalidField, "update.doc: a pairwise DID holds no legacy identifier")
	}
	// A legacy identifier is vouched for by the provider: an entity may
	// drop its own, not add new ones (no squatting with its own key).
	if self {
		for _, a := range next.Doc.Aliases {
			if !slices.Contains(e.Doc.Aliases, a) {
				return nil, op.Reject(op.ReasonUnauthorized, "a new legacy identifier ("+a+") needs the provider's signature")
			}
		}
		// Binding an access contract joins the services that accept each
		// other's session tokens under it: the provider vouches for that,
		// as for a registration it validates.
		for _, ref := range next.Doc.Access {
			if !slices.Contains(e.Doc.Access, ref) {
				return nil, op.Reject(op.ReasonUnauthorized, "binding a new access contract ("+ref+") needs the provider's signature")
			}
		}
		// A re-registration by the entity goes before the provider's
		// registration contract, as a registration does; one by the
		// provider needs none (the provider vouches).
		if err := x.redecide(&next); err != nil {
			return nil, err
		}
		holdBindings(e, &next)
		holdAttributes(e, &next)
	}
	return x.commitEntity(e, x.bump(&next), op.TypeUpdate)
}

package registry

import (
	"slices"

	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// checkAccess checks the access contracts an entity binds: only a
// service binds them, and each must exist and be an access contract.
func (x *executor) checkAccess(kind, provider string, refs, kept []string) error {
	if len(refs) == 0 {
		return nil
	}
	if kind != op.KindService {
		return op.Reject(op.ReasonInvalidField, "only a service binds access contracts")
	}
	for _, ref := range refs {
		prov, name, _ := record.SplitRef(ref) // op.Decode checked its form
		c, err := getContract(x.st, prov, name)
		if err != nil {
			return err
		}
		if c == nil || c.Kind != op.ContractAccess {
			return later(op.Reject(op.ReasonInvalidField, "no access contract "+ref))
		}
		// A binding the entity already had stays (its decisions refuse it
		// while the owner does not admit the provider): an update that
		// rotates a key must not fail on it.
		if !c.Admits(provider) && !slices.Contains(kept, ref) {
			return later(op.Reject(op.ReasonUnauthorized, "the owner of "+ref+" does not admit services of "+provider+" (contract.binders)"))
		}
	}
	return nil
}

// holdBindings keeps an entity that binds access contracts from being
// validated by a registration contract unless its provider has validated
// it before: bindings are the provider's to vouch for, and a self-signed
// registration (or re-registration of a pending entity) names them.
func holdBindings(prev, next *record.Entity) {
	if next.Status == op.StatusValidated && len(next.Doc.Access) > 0 && (prev == nil || prev.Status != op.StatusValidated) {
		next.Status, next.StatusReason = op.StatusPending, "access contract bindings await the provider's validation"
	}
}

// holdAttributes keeps the public attributes of a validated entity the
// ones its provider vouched for: access contracts read them as the
// provider's (device_attrs). An entity that changes its own attributes
// waits for its provider again, whatever a registration contract
// decided: a meter cannot make itself a camera. A change its provider
// signs, or the entity's other changes (a key rotation, an endpoint),
// keep it validated.
// The hold lasts until the provider validates: a held entity's further
// changes of its own stay held, whatever a registration contract decides.
func holdAttributes(prev, next *record.Entity) {
	changed := prev.Status == op.StatusValidated && !slices.Equal(prev.Doc.Attrs, next.Doc.Attrs)
	held := prev.Status == op.StatusPending && prev.StatusReason == attributesHeld
	if next.Status == op.StatusValidated && (changed || held) {
		next.Status, next.StatusReason = op.StatusPending, attributesHeld
	}
}

// attributesHeld is the status reason of an entity whose own attribute
// change waits for its provider.
const attributesHeld = "attribute changes await the provider's validation"

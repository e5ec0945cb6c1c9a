package registry

import (
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/contract"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// decideRegistration runs the provider's registration contract on a new
// entity, in this block: the same inputs give the same decision on every
// node (time and height come from the block).
func (x *executor) decideRegistration(prov *record.Provider, e *record.Entity) (*record.ContractDecision, error) {
	c, err := getContract(x.st, prov.DID, prov.Registration)
	if err != nil || c == nil {
		return nil, err
	}
	prg, err := x.a.program(c)
	if err != nil {
		return nil, err
	}
	in := contract.RegistrationInputs{
		Kind: e.Kind, Provider: e.Provider, Aliases: e.Doc.Aliases, Attrs: e.Attrs(), Ticket: record.AttrMap(e.Ticket),
		HasTicket: e.Ticket != nil, Height: x.b.Height, Time: contract.Timestamp(x.b.Time),
	}
	for _, k := range e.Doc.Keys {
		in.Keys = append(in.Keys, map[string]string{"id": k.ID, "alg": cose.Alg(k.Alg).String()})
	}
	for _, ep := range e.Doc.Endpoints {
		in.Endpoints = append(in.Endpoints, map[string]string{"id": ep.ID, "type": ep.Type, "uri": ep.URI})
	}
	d := prg.Eval(in.Values())
	return &record.ContractDecision{Contract: c.ID(), Outcome: d.Outcome, Reason: d.Reason}, nil
}

// redecide runs the provider's registration contract on an entity's new
// version, if the provider has one, and sets its status from the outcome.
func (x *executor) redecide(e *record.Entity) error {
	if !x.final {
		return nil
	}
	prov, err := getProvider(x.st, e.Provider)
	if err != nil || prov == nil || prov.Registration == "" {
		return err
	}
	d, err := x.decideRegistration(prov, e)
	if err != nil || d == nil {
		return err
	}
	e.Decision = d
	switch d.Outcome {
	case contract.Validate:
		e.Status, e.StatusReason = op.StatusValidated, ""
	case contract.Pending:
		e.Status, e.StatusReason = op.StatusPending, ""
	default:
		e.Status, e.StatusReason = op.StatusRejected, d.Reason
	}
	return nil
}

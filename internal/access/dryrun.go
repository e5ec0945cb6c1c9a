package access

import (
	"context"

	"github.com/bias-iot/bias/internal/contract"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
	"github.com/bias-iot/bias/sdk"
)

// RequestError is a request that cannot be answered as asked: an
// operation reason (bad-contract, invalid-field), or none when what it
// names does not exist.
type RequestError struct {
	Reason op.Reason // "" for not found
	Msg    string
}

func (e *RequestError) Error() string { return e.Msg }

// DryRun evaluates a contract (its source and kind, or a deployed
// version) on inputs, without a transaction, as the registry or an access
// decision would.
func (d *Decider) DryRun(ctx context.Context, req sdk.DryRunRequest) (*sdk.DryRunResult, error) {
	kind, src, name := req.Kind, req.Source, ""
	var prg *contract.Program
	var err error
	if req.Provider != "" {
		var c *record.Contract
		if c, err = d.r.ContractVersion(ctx, req.Provider, req.Name, req.Version); err != nil {
			return nil, err
		}
		if c == nil {
			return nil, &RequestError{Msg: "no such contract or version"}
		}
		kind, src, name = c.Kind, c.Source, c.ID()
		prg, err = d.programs.Program(name, contract.Kind(kind), src)
	} else {
		prg, err = contract.Compile(contract.Kind(kind), src)
	}
	if err != nil {
		return nil, &RequestError{Reason: op.ReasonBadContract, Msg: err.Error()}
	}
	in, err := contract.InputsFromJSON(contract.Kind(kind), req.Inputs)
	if err != nil {
		return nil, &RequestError{Reason: op.ReasonInvalidField, Msg: err.Error()}
	}
	out := prg.Eval(in)
	return &sdk.DryRunResult{Outcome: out.Outcome, Reason: out.Reason, Cost: out.Cost, EstimatedCost: prg.EstimatedCost, Contract: name}, nil
}

package registry

import (
	"bytes"
	"strconv"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// contract deploys or updates a provider's contract, signed by an admin
// key of the provider. An update names the current version.
func (x *executor) contract() (*outcome, error) {
	c := x.s.Payload.Contract
	if x.s.Kid.Base().String() != c.Provider {
		return nil, op.Reject(op.ReasonUnauthorized, "a contract is deployed by an admin key of its provider")
	}
	prov, err := x.providerSigner(c.Provider)
	if err != nil {
		return nil, err
	}
	cur, err := getContract(x.st, c.Provider, c.Name)
	if err != nil {
		return nil, err
	}
	next := &record.Contract{Provider: c.Provider, Name: c.Name, Kind: c.Kind, Version: 1, Source: c.Source, Height: x.b.Height, Binders: c.Binders,
		LastOp: append([]byte(nil), x.s.PayloadHash[:]...)}
	if x.s.Payload.Type == op.TypeDeploy {
		if cur != nil {
			first, err := getContractVersion(x.st, c.Provider, c.Name, 1)
			if err == nil && first != nil && bytes.Equal(first.LastOp, x.s.PayloadHash[:]) {
				return nil, op.Reject(op.ReasonReplayed, "this deployment was already applied")
			}
			return nil, op.Reject(op.ReasonInvalidField, "a contract named "+c.Name+" exists; update it")
		}
	} else {
		if cur == nil {
			return nil, later(op.Reject(op.ReasonInvalidField, "no contract named "+c.Name))
		}
		if err := x.checkContractVersion(cur); err != nil {
			return nil, err
		}
		next.Kind, next.Version = cur.Kind, cur.Version+1
	}
	if len(next.Binders) > 0 && next.Kind != op.ContractAccess {
		return nil, op.Reject(op.ReasonInvalidField, "contract.binders: only an access contract is bound")
	}
	if _, err := x.a.program(next); err != nil {
		return nil, err
	}
	return x.commitContract(prov, next)
}

// commitContract returns the writes of a new contract version: the
// current record and the version's, and for a registration contract
// that is not yet the provider's, the provider's record naming it.
func (x *executor) commitContract(prov *record.Provider, next *record.Contract) (*outcome, error) {
	c := x.s.Payload.Contract
	b, err := op.Marshal(next)
	if err != nil {
		return nil, err
	}
	out := &outcome{
		writes: []write{{record.ContractKey(c.Provider, c.Name), b}, {record.ContractVersionKey(c.Provider, c.Name, next.Version), b}},
		result: record.Result{DID: c.Provider, Version: next.Version, Status: next.Kind},
		events: []ledger.Event{ledgerEvent(record.EventContract, []record.Attr{
			{Key: "provider", Value: c.Provider}, {Key: "name", Value: c.Name},
			{Key: "kind", Value: next.Kind}, {Key: "version", Value: strconv.FormatUint(next.Version, 10)},
		})},
	}
	if next.Kind == op.ContractRegistration && prov.Registration != c.Name {
		p := *prov
		p.Registration = c.Name
		pb, err := op.Marshal(p)
		if err != nil {
			return nil, err
		}
		out.writes = append(out.writes, write{record.ProviderKey(p.DID), pb})
	}
	return out, nil
}

package registry

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/core"
	"github.com/bias-iot/bias/internal/state"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// Bounds of the membership: the governance record lists every current
// provider and validator, and the vote counts them.
const (
	MaxProviders  = 64
	MaxValidators = 64
)

// propose makes a governance proposal, signed by an admin key of a
// current provider, which approves it by making it. Its id is the hash
// of its payload: the same proposal again is a replay (a nonce makes a
// new one). It is checked against the state as it would be executed,
// and is executed at once if the proposer's approval is enough.
func (x *executor) propose() (*outcome, error) {
	g, prov, err := x.govSigner()
	if err != nil {
		return nil, err
	}
	id := op.ProposalID(x.s.PayloadHash)
	prev, err := getProposal(x.st, id)
	if err != nil {
		return nil, err
	}
	if prev != nil {
		return nil, op.Reject(op.ReasonReplayed, "this proposal was already made: "+id)
	}
	p := x.s.Payload.Gov.Proposal
	if _, err := x.change(g, p, id); err != nil {
		return nil, err
	}
	if err := x.openLimit(g, prov.DID); err != nil {
		return nil, err
	}
	rec := &record.Proposal{
		ID: id, Proposer: prov.DID, Proposal: *p, Height: x.b.Height, Created: x.b.Time,
		Deadline:  x.b.Height + g.Params.Deadline,
		Approvals: []record.Approval{{Provider: prov.DID, Height: x.b.Height, Op: x.s.PayloadHash[:]}},
		Status:    record.ProposalOpen,
	}
	return x.decideProposal(g, rec, true)
}

// vote approves a proposal, signed by an admin key of a current
// provider: once per provider, while the proposal is open and before its
// deadline. The vote that passes the threshold executes the proposal.
func (x *executor) vote() (*outcome, error) {
	g, prov, err := x.govSigner()
	if err != nil {
		return nil, err
	}
	id := x.s.Payload.Gov.Vote
	rec, err := getProposal(x.st, id)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		// A block not seen here may hold it (the signer is a provider).
		return nil, later(op.Reject(op.ReasonUnknownProposal, "no proposal "+id))
	}
	if a, ok := rec.Approval(prov.DID); ok {
		if bytes.Equal(a.Op, x.s.PayloadHash[:]) {
			return nil, op.Reject(op.ReasonReplayed, "this vote was already applied")
		}
		return nil, op.Reject(op.ReasonAlreadyVoted, prov.DID+" already approved proposal "+id)
	}
	switch rec.StatusAt(x.b.Height) {
	case record.ProposalExecuted:
		return nil, op.Reject(op.ReasonProposalClosed, fmt.Sprintf("proposal %s was executed at height %d", id, rec.Executed))
	case record.ProposalExpired:
		return nil, op.Reject(op.ReasonProposalClosed, fmt.Sprintf("proposal %s expired after height %d", id, rec.Deadline))
	}
	next := *rec
	next.Approvals = append(slices.Clip(rec.Approvals), record.Approval{Provider: prov.DID, Height: x.b.Height, Op: x.s.PayloadHash[:]})
	return x.decideProposal(g, &next, false)
}

// govSigner authenticates a governance operation's signer as an admin
// key of the provider the body names, a current provider.
func (x *executor) govSigner() (*record.Governance, *record.Provider, error) {
	body := x.s.Payload.Gov
	if x.s.Kid.Base().String() != body.Provider {
		return nil, nil, op.Reject(op.ReasonUnauthorized, "a governance operation is signed by an admin key of the provider it names")
	}
	prov, err := x.providerSigner(body.Provider)
	if err != nil {
		return nil, nil, err
	}
	g, err := getGovernance(x.st)
	if err != nil {
		return nil, nil, err
	}
	if g == nil {
		return nil, nil, op.Reject(op.ReasonUnauthorized, "this network's state holds no governance record (its genesis predates governance)")
	}
	return g, prov, nil
}

// approvals counts the approvals of current providers: a removed
// provider's vote no longer counts.
func approvals(g *record.Governance, p *record.Proposal) int {
	n := 0
	for _, a := range p.Approvals {
		if g.IsProvider(a.Provider) {
			n++
		}
	}
	return n
}

// passes reports whether n approvals are more than the threshold of the
// current providers: n/providers > num/den.
func passes(g *record.Governance, n int) bool {
	return uint64(n)*g.Params.VoteDen > g.Params.VoteNum*uint64(len(g.Providers))
}

// decideProposal writes the proposal (made: by its proposal, else by a
// vote) and, if its approvals pass the threshold, executes it in this
// block.
func (x *executor) decideProposal(g *record.Governance, rec *record.Proposal, made bool) (*outcome, error) {
	out := &outcome{}
	n := approvals(g, rec)
	if passes(g, n) {
		ch, err := x.change(g, &rec.Proposal, rec.ID)
		if err != nil {
			return nil, err
		}
		rec.Status, rec.Executed = record.ProposalExecuted, x.b.Height
		out.writes, out.result.DID = ch.writes, ch.admitted
		out.events = ch.events
	}
	b, err := op.Marshal(rec)
	if err != nil {
		return nil, err
	}
	out.writes = append([]write{{record.ProposalKey(rec.ID), b}}, out.writes...)
	if made || rec.Status == record.ProposalExecuted {
		ws, err := x.openWrite(g, rec, made)
		if err != nil {
			return nil, err
		}
		out.writes = append(out.writes, ws...)
	}
	out.result.Proposal, out.result.Status, out.result.Count = rec.ID, rec.Status, n
	ev := ledgerEvent(record.EventGov, []record.Attr{
		{Key: "op", Value: x.s.Payload.Type}, {Key: "proposal", Value: rec.ID}, {Key: "kind", Value: rec.Proposal.Kind},
		{Key: "provider", Value: x.s.Payload.Gov.Provider}, {Key: "status", Value: rec.Status},
		{Key: "approvals", Value: strconv.Itoa(n)}, {Key: "providers", Value: strconv.Itoa(len(g.Providers))},
	})
	out.events = append([]ledger.Event{ev}, out.events...)
	return out, nil
}

// changeSet is what an executed proposal writes.
type changeSet struct {
	writes     []write
	validators []core.ValidatorUpdate
	events     []ledger.Event
	admitted   string // the DID of an admitted provider
}

// change checks the proposal p (of id) against the state, as it would
// be executed now, and returns its writes. It runs when the proposal is
// made and again when it passes: the state may have changed between.
func (x *executor) change(g *record.Governance, p *op.Proposal, id string) (*changeSet, error) {
	next := &record.Governance{Params: g.Params, Providers: slices.Clone(g.Providers), Validators: slices.Clone(g.Validators), AppVersion: g.AppVersion, Upgrade: g.Upgrade}
	cs := &changeSet{}
	var attrs []record.Attr
	switch p.Kind {
	case op.ProposalAdmit:
		a := p.Admit
		pid, err := ProviderDID(x.a.network, GenesisProvider{Name: a.Name, Keys: a.Keys})
		if err != nil {
			return nil, err
		}
		cur, err := getProvider(x.st, pid.String())
		if err != nil {
			return nil, err
		}
		if cur != nil {
			return nil, op.Reject(op.ReasonInvalidField, "gov.proposal.admit: "+pid.String()+" is already a provider (or was one)")
		}
		if len(g.Providers) >= MaxProviders {
			return nil, op.Reject(op.ReasonInvalidField, fmt.Sprintf("the network has %d providers, the most it may have", MaxProviders))
		}
		// One operator, one vote: a new provider holds no admin key that
		// a current one holds.
		for _, other := range g.Providers {
			op2, err := getProvider(x.st, other)
			if err != nil {
				return nil, err
			}
			for _, k := range a.Keys {
				if op2 != nil && slices.ContainsFunc(op2.Keys, func(h op.Key) bool { return h.Alg == k.Alg && bytes.Equal(h.Pub, k.Pub) }) {
					return nil, op.Reject(op.ReasonInvalidField, "gov.proposal.admit: admin key "+k.ID+" is "+other+"'s")
				}
			}
		}
		next.Providers = insertSorted(next.Providers, pid.String())
		if a.Validator != nil {
			if err := setValidator(next, pid.String(), a.Validator); err != nil {
				return nil, err
			}
		}
		b, err := op.Marshal(record.Provider{DID: pid.String(), Name: a.Name, Keys: a.Keys, Threshold: a.Threshold, Created: x.b.Time, Admitted: id})
		if err != nil {
			return nil, err
		}
		cs.writes = append(cs.writes, write{record.ProviderKey(pid.String()), b})
		cs.admitted = pid.String()
		attrs = append(attrs, record.Attr{Key: "admitted", Value: pid.String()})
	case op.ProposalRemove:
		prov, err := x.currentProvider(g, p.Provider)
		if err != nil {
			return nil, err
		}
		if len(g.Providers) == 1 {
			return nil, op.Reject(op.ReasonUnsafeChange, "the last provider cannot be removed")
		}
		next.Providers = slices.DeleteFunc(next.Providers, func(s string) bool { return s == prov.DID })
		for _, v := range g.Validators {
			if v.Provider == prov.DID {
				if err := setValidator(next, prov.DID, &op.Validator{PubKey: v.PubKey}); err != nil {
					return nil, err
				}
			}
		}
		gone := *prov
		gone.Removed = x.b.Height
		b, err := op.Marshal(gone)
		if err != nil {
			return nil, err
		}
		cs.writes = append(cs.writes, write{record.ProviderKey(prov.DID), b})
		attrs = append(attrs, record.Attr{Key: "removed", Value: prov.DID})
	case op.ProposalValidator:
		if _, err := x.currentProvider(g, p.Provider); err != nil {
			return nil, err
		}
		if err := setValidator(next, p.Provider, p.Validator); err != nil {
			return nil, err
		}
	case op.ProposalParams:
		if v := x.version(g); p.Params.MaxOpen != 0 && v < 2 {
			return nil, op.Reject(op.ReasonInvalidField, "params.maxOpen is a rule of app version 2; this network runs version "+strconv.FormatUint(v, 10))
		}
		next.Params = *p.Params
	case op.ProposalUpgrade:
		up, err := x.scheduleUpgrade(g, next, p.Upgrade, id)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, up...)
	case op.ProposalKeys:
		prov, err := x.currentProvider(g, p.Provider)
		if err != nil {
			return nil, err
		}
		np := withKeys(prov, p.KeySet.Keys, p.KeySet.Threshold)
		b, err := op.Marshal(np)
		if err != nil {
			return nil, err
		}
		cs.writes = append(cs.writes, write{record.ProviderKey(prov.DID), b})
		cs.events = append(cs.events, keysEvent(np))
		attrs = append(attrs, record.Attr{Key: "keys", Value: prov.DID})
	default:
		return nil, op.Reject(op.ReasonInvalidField, "unknown proposal kind")
	}
	// The block's changes together are held to the rule: from the set
	// that signed the block's start, not from the last proposal's.
	if start := x.b.Gov; len(validatorDiff(g, next)) > 0 {
		if start == nil {
			start = g
		}
		if err := safeValidatorChange(start, next); err != nil {
			return nil, err
		}
	}
	cs.validators = validatorDiff(g, next)
	for _, u := range cs.validators {
		attrs = append(attrs, record.Attr{Key: "validator", Value: fmt.Sprintf("%X:%d", u.PubKey, u.Power)})
	}
	b, err := op.Marshal(next)
	if err != nil {
		return nil, err
	}
	cs.writes = append(cs.writes, write{record.GovernanceKey(), b})
	if len(attrs) > 0 {
		cs.events = append(cs.events, ledgerEvent(record.EventGov, append([]record.Attr{{Key: "executed", Value: id}}, attrs...)))
	}
	return cs, nil
}

// currentProvider reads a provider that the governance record lists.
func (x *executor) currentProvider(g *record.Governance, id string) (*record.Provider, error) {
	prov, err := getProvider(x.st, id)
	if err != nil {
		return nil, err
	}
	if prov == nil || !g.IsProvider(id) {
		return nil, op.Reject(op.ReasonUnknownProvider, "gov.proposal.provider: "+id+" is not a current provider")
	}
	return prov, nil
}

// setValidator makes v the validator of provider in g: it replaces the
// provider's current validator (whose key then leaves the set), and a
// power of 0 leaves the provider without one. A key that another
// provider's validator holds is refused; a genesis validator assigned to
// no provider may be claimed.
func setValidator(g *record.Governance, provider string, v *op.Validator) error {
	if held, ok := g.Validator(v.PubKey); ok && held.Provider != "" && held.Provider != provider {
		return op.Reject(op.ReasonInvalidField, "the validator key is "+held.Provider+"'s")
	}
	g.Validators = slices.DeleteFunc(g.Validators, func(x record.Validator) bool {
		return x.Provider == provider || bytes.Equal(x.PubKey, v.PubKey)
	})
	if v.Power > 0 {
		nv := record.Validator{PubKey: slices.Clone(v.PubKey), Power: v.Power, Provider: provider}
		i, _ := slices.BinarySearchFunc(g.Validators, nv.PubKey, func(x record.Validator, k []byte) int { return bytes.Compare(x.PubKey, k) })
		g.Validators = slices.Insert(g.Validators, i, nv)
	}
	if len(g.Validators) > MaxValidators {
		return op.Reject(op.ReasonInvalidField, fmt.Sprintf("the validator set holds at most %d validators", MaxValidators))
	}
	return nil
}

// MinValidators is the fewest validators a BFT set that may lose one
// holds (3f+1 with f = 1): a change does not take a set below it (nor
// a smaller set lower still).
const MinValidators = 4

// safeValidatorChange is the BFT-safety rule of a change of the validator
// set from cur (the set at the block's start) to next: the set is never
// empty; a change moves less than a third of cur's total power (the sum
// of the power added, removed and changed), so that more than two thirds
// of the power of the set that signed the last block still sign the
// next, and a light client that trusts one set verifies the next with
// CometBFT's trust level of 1/3; it leaves at least MinValidators (or
// removes none from a smaller set); and, in a set of MinValidators or
// more, it raises no validator's share to a third or more of the power
// (one validator that alone can halt the network).
func safeValidatorChange(cur, next *record.Governance) error {
	diff := validatorDiff(cur, next)
	if len(diff) == 0 {
		return nil
	}
	if len(cur.Validators) == 0 {
		return op.Reject(op.ReasonUnsafeChange, "this network's state holds no validator set to change")
	}
	if len(next.Validators) == 0 || next.TotalPower() <= 0 {
		return op.Reject(op.ReasonUnsafeChange, "the change would leave no validator")
	}
	var moved int64
	for _, u := range diff {
		old, _ := cur.Validator(u.PubKey)
		d := u.Power - old.Power
		if d < 0 {
			d = -d
		}
		moved += d
	}
	if total := cur.TotalPower(); 3*moved >= total {
		return op.Reject(op.ReasonUnsafeChange, fmt.Sprintf("the change moves %d of the validators' total power %d; the changes of one block must move less than a third", moved, total))
	}
	if n := len(next.Validators); n < len(cur.Validators) && n < MinValidators {
		return op.Reject(op.ReasonUnsafeChange, fmt.Sprintf("the change would leave %d validators; a network keeps at least %d (one may fail), or all it has", n, MinValidators))
	}
	if len(next.Validators) >= MinValidators {
		curTotal, nextTotal := cur.TotalPower(), next.TotalPower()
		for _, v := range next.Validators {
			old, _ := cur.Validator(v.PubKey)
			// Its share grows (v/nextTotal > old/curTotal) to a third or more.
			if v.Power*curTotal > old.Power*nextTotal && 3*v.Power >= nextTotal {
				return op.Reject(op.ReasonUnsafeChange, fmt.Sprintf("the change would give one validator %d of the total power %d: a third or more halts the network alone", v.Power, nextTotal))
			}
		}
	}
	return nil
}

// validatorDiff is what the engine (CometBFT) must be told to go from
// cur's validator set to next's, sorted by key: new and changed powers, and 0 for a key
// that left.
func validatorDiff(cur, next *record.Governance) []core.ValidatorUpdate {
	var out []core.ValidatorUpdate
	for _, v := range next.Validators {
		if old, ok := cur.Validator(v.PubKey); !ok || old.Power != v.Power {
			out = append(out, core.ValidatorUpdate{PubKey: v.PubKey, Power: v.Power})
		}
	}
	for _, v := range cur.Validators {
		if _, ok := next.Validator(v.PubKey); !ok {
			out = append(out, core.ValidatorUpdate{PubKey: v.PubKey})
		}
	}
	slices.SortFunc(out, func(a, b core.ValidatorUpdate) int {
		return bytes.Compare(a.PubKey, b.PubKey)
	})
	return out
}

func insertSorted(s []string, v string) []string {
	i, _ := slices.BinarySearch(s, v)
	return slices.Insert(s, i, v)
}

func getProposal(st state.Reader, id string) (*record.Proposal, error) {
	return read(st, record.ProposalKey(id), record.DecodeProposal)
}

func getGovernance(st state.Reader) (*record.Governance, error) {
	return read(st, record.GovernanceKey(), record.DecodeGovernance)
}

// removedProvider rejects an operation that a removed provider's keys
// sign or that acts under a removed provider.
func removedProvider(p *record.Provider, what string) error {
	return op.Reject(op.ReasonUnauthorized, fmt.Sprintf("provider %s was removed at height %d: %s", p.DID, p.Removed, strings.TrimSpace(what)))
}

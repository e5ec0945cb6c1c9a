package record

import (
	"bytes"
	"encoding/binary"
	"slices"

	"github.com/bias-iot/bias/op"
)

// Proposal statuses. A proposal is open until it is executed; an open
// proposal past its deadline is expired (StatusAt).
const (
	ProposalOpen     = "open"
	ProposalExecuted = "executed"
	ProposalExpired  = "expired"
)

// Proposal is a governance proposal on the ledger, at ProposalKey(ID).
type Proposal struct {
	ID       string      `cbor:"1,keyasint" json:"id"` // op.ProposalID of the proposing payload
	Proposer string      `cbor:"2,keyasint" json:"proposer"`
	Proposal op.Proposal `cbor:"3,keyasint" json:"proposal"`
	Height   int64       `cbor:"4,keyasint" json:"height"`   // the block that made it
	Created  int64       `cbor:"5,keyasint" json:"created"`  // its time, Unix nanoseconds
	Deadline int64       `cbor:"6,keyasint" json:"deadline"` // the last height at which it may be approved
	// Approvals are the providers that approved it, the proposer first,
	// in the order of their votes.
	Approvals []Approval `cbor:"7,keyasint" json:"approvals"`
	Status    string     `cbor:"8,keyasint" json:"status"` // open or executed
	Executed  int64      `cbor:"9,keyasint,omitempty" json:"executed,omitempty"`
}

// Approval is one provider's approval of a proposal.
type Approval struct {
	Provider string `cbor:"1,keyasint" json:"provider"`
	Height   int64  `cbor:"2,keyasint" json:"height"`
	Op       []byte `cbor:"3,keyasint" json:"op"` // the payload hash of the vote (of the proposal, for the proposer)
}

// StatusAt is the proposal's status in the block of height h: open,
// executed, or expired (open past its deadline).
func (p *Proposal) StatusAt(h int64) string {
	if p.Status == ProposalOpen && h > p.Deadline {
		return ProposalExpired
	}
	return p.Status
}

// Approval returns provider's approval, or false.
func (p *Proposal) Approval(provider string) (Approval, bool) {
	i := slices.IndexFunc(p.Approvals, func(a Approval) bool { return a.Provider == provider })
	if i < 0 {
		return Approval{}, false
	}
	return p.Approvals[i], true
}

// DecodeProposal decodes a proposal record.
func DecodeProposal(b []byte) (*Proposal, error) { return decode[Proposal]("proposal", b) }

// Governance is the network's membership and parameters, at
// GovernanceKey: what the vote threshold counts and what the
// validator-set rules check. Its lists are sorted, so that its encoding
// is one.
type Governance struct {
	Params op.Params `cbor:"1,keyasint" json:"params"`
	// Providers are the DIDs of the current providers, sorted.
	Providers []string `cbor:"2,keyasint" json:"providers"`
	// Validators is the validator set, sorted by public key.
	Validators []Validator `cbor:"3,keyasint,omitempty" json:"validators,omitempty"`
	// AppVersion is the version of the state machine's rules (0: 1, the
	// genesis version; see Version). Upgrade is the upgrade that
	// governance scheduled, until its height.
	AppVersion uint64   `cbor:"4,keyasint,omitempty" json:"appVersion,omitempty"`
	Upgrade    *Upgrade `cbor:"5,keyasint,omitempty" json:"upgrade,omitempty"`
}

// Upgrade is a scheduled state-machine upgrade: the proposal that
// scheduled it, and from which height the app version is Version.
type Upgrade struct {
	Name     string `cbor:"1,keyasint" json:"name"`
	Version  uint64 `cbor:"2,keyasint" json:"version"`
	Height   int64  `cbor:"3,keyasint" json:"height"`
	Proposal string `cbor:"4,keyasint" json:"proposal"`
}

// Version is the app version: the rules the state machine applies.
func (g *Governance) Version() uint64 {
	if g.AppVersion == 0 {
		return 1
	}
	return g.AppVersion
}

// OpenProposals lists a provider's proposals that may still be open
// (from app version 2 on, at OpenKey): each with its deadline, so that
// the expired ones drop out when it is next written.
type OpenProposals struct {
	Items []OpenProposal `cbor:"1,keyasint" json:"items"`
}

// OpenProposal is one entry of OpenProposals.
type OpenProposal struct {
	ID       string `cbor:"1,keyasint" json:"id"`
	Deadline int64  `cbor:"2,keyasint" json:"deadline"`
}

// prefixOpen is the table of OpenProposals; prefixDeadline the
// proposals by deadline (from app version 2 on), whose expiry a block
// event announces.
const (
	prefixOpen     = "o/"
	prefixDeadline = "d/"
)

// DeadlineKey is the state key of the ids of the proposals whose
// deadline is height h (a CBOR array of strings).
func DeadlineKey(h int64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefixDeadline), uint64(h))
}

// OpenKey is the state key of a provider's open proposals.
func OpenKey(provider string) []byte { return []byte(prefixOpen + provider) }

// DecodeOpenProposals decodes the value of OpenKey.
func DecodeOpenProposals(b []byte) (*OpenProposals, error) {
	return decode[OpenProposals]("open proposals", b)
}

// Validator is a member of the validator set: its Ed25519 consensus key,
// its power and the provider that runs it ("" for a genesis validator
// that genesis assigned to no provider).
type Validator struct {
	PubKey   []byte `cbor:"1,keyasint" json:"pubKey"`
	Power    int64  `cbor:"2,keyasint" json:"power"`
	Provider string `cbor:"3,keyasint,omitempty" json:"provider,omitempty"`
}

// IsProvider reports whether id is a current provider.
func (g *Governance) IsProvider(id string) bool {
	_, ok := slices.BinarySearch(g.Providers, id)
	return ok
}

// Validator returns the validator with the public key pub, or false.
func (g *Governance) Validator(pub []byte) (Validator, bool) {
	i, ok := slices.BinarySearchFunc(g.Validators, pub, func(v Validator, k []byte) int { return bytes.Compare(v.PubKey, k) })
	if !ok {
		return Validator{}, false
	}
	return g.Validators[i], true
}

// ValidatorOf returns the validator that provider runs, or false.
func (g *Governance) ValidatorOf(provider string) (Validator, bool) {
	i := slices.IndexFunc(g.Validators, func(v Validator) bool { return v.Provider == provider })
	if i < 0 {
		return Validator{}, false
	}
	return g.Validators[i], true
}

// TotalPower is the sum of the validators' powers.
func (g *Governance) TotalPower() int64 {
	var t int64
	for _, v := range g.Validators {
		t += v.Power
	}
	return t
}

// DecodeGovernance decodes the governance record.
func DecodeGovernance(b []byte) (*Governance, error) { return decode[Governance]("governance", b) }

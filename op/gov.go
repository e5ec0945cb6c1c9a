package op

import (
	"encoding/hex"
	"fmt"
)

// Governance: the providers govern the network on the ledger. A
// proposal (gov.propose) and the votes that approve it (gov.vote) are
// operations signed by an admin key of a current provider; a proposal
// takes effect in the block in which more than the network's vote
// threshold (two thirds by default) of the current providers approved
// it, and expires unapproved after its deadline in blocks.

// Proposal kinds.
const (
	ProposalAdmit     = "provider.admit"  // admit a provider (Admit)
	ProposalRemove    = "provider.remove" // remove a provider (Provider)
	ProposalValidator = "validator.set"   // set a provider's validator key and power (Provider, Validator)
	ProposalParams    = "params.set"      // set the network parameters (Params)
	ProposalKeys      = "provider.keys"   // replace a provider's admin keys and threshold (Provider, KeySet): recovery when they are lost
	ProposalUpgrade   = "upgrade"         // schedule a state-machine upgrade (Upgrade)
)

// Governance limits.
const (
	MaxValidatorPower = 1 << 32   // a validator's power (far below CometBFT's total limit)
	MaxVoteDen        = 100       // the vote threshold's denominator
	MaxDeadline       = 1_000_000 // a proposal's lifetime, in blocks
	MaxUpgradeDelay   = 1_000_000 // how far ahead an upgrade is scheduled, in blocks
	MaxAppVersion     = 1 << 20   // an upgrade's target version
	MaxOpenLimit      = 64        // params.maxOpen
	DefaultOpenLimit  = 8         // params.maxOpen when it is 0
)

// Gov is the body of gov.propose (Proposal set) and gov.vote (Vote set),
// signed by an admin key of Provider, a current provider.
type Gov struct {
	Provider string    `cbor:"1,keyasint" json:"provider"`
	Proposal *Proposal `cbor:"2,keyasint,omitempty" json:"proposal,omitempty"`
	// Vote is the id of the proposal a vote approves (ProposalID).
	Vote string `cbor:"3,keyasint,omitempty" json:"vote,omitempty"`
}

// Proposal is what a proposal would change: one kind and its body.
type Proposal struct {
	Kind  string `cbor:"1,keyasint" json:"kind"`
	Admit *Admit `cbor:"2,keyasint,omitempty" json:"admit,omitempty"`
	// Provider is the provider that provider.remove removes and whose
	// validator validator.set sets.
	Provider  string     `cbor:"3,keyasint,omitempty" json:"provider,omitempty"`
	Validator *Validator `cbor:"4,keyasint,omitempty" json:"validator,omitempty"`
	Params    *Params    `cbor:"5,keyasint,omitempty" json:"params,omitempty"`
	// Nonce distinguishes two proposals of otherwise equal content (the
	// same change proposed again after the first expired).
	Nonce   []byte   `cbor:"6,keyasint,omitempty" json:"nonce,omitempty"`
	KeySet  *KeySet  `cbor:"7,keyasint,omitempty" json:"keySet,omitempty"`
	Upgrade *Upgrade `cbor:"8,keyasint,omitempty" json:"upgrade,omitempty"`
}

// Upgrade schedules a state-machine upgrade: from the block of Height
// on, the network's app version is Version (above the current one), and
// a node whose code does not know it halts there. Name names the release
// (for the halt message and the operators). Height lies after the block
// that executes the proposal, at most MaxUpgradeDelay blocks after the
// block that makes it.
type Upgrade struct {
	Name    string `cbor:"1,keyasint" json:"name"`
	Version uint64 `cbor:"2,keyasint" json:"version"`
	Height  int64  `cbor:"3,keyasint" json:"height"`
}

// KeySet is a provider's admin keys and threshold, as provider.keys
// governance proposals set them.
type KeySet struct {
	Keys      []Key  `cbor:"1,keyasint" json:"keys"`
	Threshold uint64 `cbor:"2,keyasint" json:"threshold"`
}

// Admit is a provider to admit: its name and admin keys (its DID derives
// from the network, the name and the keys, as a founding provider's),
// and optionally its validator.
type Admit struct {
	Name      string     `cbor:"1,keyasint" json:"name"`
	Keys      []Key      `cbor:"2,keyasint" json:"keys"`
	Validator *Validator `cbor:"3,keyasint,omitempty" json:"validator,omitempty"`
	// Threshold is how many of Keys sign each of its operations (0: 1).
	Threshold uint64 `cbor:"4,keyasint,omitempty" json:"threshold,omitempty"`
}

// Validator is a CometBFT validator: its Ed25519 consensus key and its
// voting power (0 takes it out of the validator set).
type Validator struct {
	PubKey []byte `cbor:"1,keyasint" json:"pubKey"`
	Power  int64  `cbor:"2,keyasint,omitempty" json:"power,omitempty"`
}

// Params are the network parameters that governance sets. A proposal
// takes effect when more than VoteNum/VoteDen of the current providers
// approved it; it expires Deadline blocks after the block that made it.
type Params struct {
	VoteNum  uint64 `cbor:"1,keyasint" json:"voteNum"`
	VoteDen  uint64 `cbor:"2,keyasint" json:"voteDen"`
	Deadline int64  `cbor:"3,keyasint" json:"deadline"`
	// MaxOpen bounds the proposals one provider may have open at once
	// (0: DefaultOpenLimit). A rule of app version 2: a version-1
	// network refuses to set it and counts nothing.
	MaxOpen uint64 `cbor:"4,keyasint,omitempty" json:"maxOpen,omitempty"`
}

// OpenLimit is how many open proposals one provider may have.
func (p Params) OpenLimit() int {
	if p.MaxOpen == 0 {
		return DefaultOpenLimit
	}
	return int(p.MaxOpen)
}

// DefaultParams are a network's parameters until governance changes
// them: more than two thirds of the providers; 10000 blocks.
func DefaultParams() Params { return Params{VoteNum: 2, VoteDen: 3, Deadline: 10_000} }

// ProposalID is the id of the proposal made by the payload whose SHA-256
// is h: lowercase hex.
func ProposalID(h [32]byte) string { return hex.EncodeToString(h[:]) }

// Validate checks the parameters: a threshold of at least one half and
// below one (more than all would never pass), a deadline of 1 to
// MaxDeadline blocks.
func (p Params) Validate() error {
	if p.VoteDen == 0 || p.VoteDen > MaxVoteDen || 2*p.VoteNum < p.VoteDen || p.VoteNum >= p.VoteDen {
		return Reject(ReasonInvalidField, fmt.Sprintf("params: the vote threshold voteNum/voteDen must be at least 1/2 and below 1, voteDen at most %d", MaxVoteDen))
	}
	if p.Deadline < 1 || p.Deadline > MaxDeadline {
		return Reject(ReasonInvalidField, fmt.Sprintf("params.deadline must be 1 to %d blocks", MaxDeadline))
	}
	if p.MaxOpen > MaxOpenLimit {
		return Reject(ReasonInvalidField, fmt.Sprintf("params.maxOpen must be at most %d", MaxOpenLimit))
	}
	return nil
}

func (v *Validator) validate(field string, zeroOK bool) error {
	if len(v.PubKey) != 32 {
		return Reject(ReasonInvalidField, field+".pubKey must be an Ed25519 key (32 bytes)")
	}
	if v.Power < 0 || v.Power > MaxValidatorPower || (v.Power == 0 && !zeroOK) {
		lo := 1
		if zeroOK {
			lo = 0
		}
		return Reject(ReasonInvalidField, fmt.Sprintf("%s.power must be %d to %d", field, lo, MaxValidatorPower))
	}
	return nil
}

func (g *Gov) validate(network, typ string) error {
	if err := checkDID("gov.provider", g.Provider, network); err != nil {
		return err
	}
	if typ == TypeVote {
		b, err := hex.DecodeString(g.Vote)
		if g.Proposal != nil || err != nil || len(b) != 32 || hex.EncodeToString(b) != g.Vote {
			return Reject(ReasonInvalidField, "gov.vote must be a proposal id (64 lowercase hex digits) and carry no proposal")
		}
		return nil
	}
	if g.Proposal == nil || g.Vote != "" {
		return Reject(ReasonInvalidField, "gov.propose carries a proposal and no vote")
	}
	return g.Proposal.validate(network)
}

func (p *Proposal) validate(network string) error {
	if len(p.Nonce) > MaxNonceLen {
		return Reject(ReasonInvalidField, fmt.Sprintf("gov.proposal.nonce longer than %d bytes", MaxNonceLen))
	}
	var want [6]bool // admit, provider, validator, params, key set, upgrade
	switch p.Kind {
	case ProposalAdmit:
		want[0] = true
	case ProposalRemove:
		want[1] = true
	case ProposalValidator:
		want[1], want[2] = true, true
	case ProposalParams:
		want[3] = true
	case ProposalKeys:
		want[1], want[4] = true, true
	case ProposalUpgrade:
		want[5] = true
	default:
		return Reject(ReasonInvalidField, fmt.Sprintf("gov.proposal.kind %.64q is not one of provider.admit, provider.remove, validator.set, params.set, provider.keys, upgrade", p.Kind))
	}
	if have := [6]bool{p.Admit != nil, p.Provider != "", p.Validator != nil, p.Params != nil, p.KeySet != nil, p.Upgrade != nil}; have != want {
		return Reject(ReasonInvalidField, "gov.proposal: the fields must match the kind "+p.Kind)
	}
	switch p.Kind {
	case ProposalAdmit:
		a := p.Admit
		if err := checkText("gov.proposal.admit.name", a.Name, MaxNameLen, false); err != nil {
			return err
		}
		if err := ValidateKeySet("gov.proposal.admit", a.Keys, a.Threshold, true); err != nil {
			return err
		}
		if a.Validator != nil {
			return a.Validator.validate("gov.proposal.admit.validator", false)
		}
	case ProposalRemove:
		return checkDID("gov.proposal.provider", p.Provider, network)
	case ProposalValidator:
		if err := checkDID("gov.proposal.provider", p.Provider, network); err != nil {
			return err
		}
		return p.Validator.validate("gov.proposal.validator", true)
	case ProposalParams:
		return p.Params.Validate()
	case ProposalKeys:
		if err := checkDID("gov.proposal.provider", p.Provider, network); err != nil {
			return err
		}
		return ValidateKeySet("gov.proposal.keySet", p.KeySet.Keys, p.KeySet.Threshold, false)
	case ProposalUpgrade:
		u := p.Upgrade
		if err := checkText("gov.proposal.upgrade.name", u.Name, MaxNameLen, false); err != nil {
			return err
		}
		if u.Version < 2 || u.Version > MaxAppVersion {
			return Reject(ReasonInvalidField, fmt.Sprintf("gov.proposal.upgrade.version must be 2 to %d", MaxAppVersion))
		}
		if u.Height < 2 {
			return Reject(ReasonInvalidField, "gov.proposal.upgrade.height must be a future block height")
		}
	}
	return nil
}

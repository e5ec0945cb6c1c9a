// Package lightclient checks CometBFT block headers the way a light client
// does: a header is believed when more than two thirds of the voting
// power of a validator set the caller trusts signed it. With it, a
// verifier that does not trust the node it reads from checks the node's
// Merkle proofs against an app hash that the validators committed to,
// with no second node to ask.
//
// It depends on no CometBFT package: the header hash, the validator set
// hash and the vote sign bytes are built here from their protobuf layout
// (CometBFT v0.38, Ed25519 validator keys).
package lightclient

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"
)

// BlockID names a block: its header hash and its part set.
type BlockID struct {
	Hash       []byte `json:"hash"`
	PartsTotal uint32 `json:"partsTotal"`
	PartsHash  []byte `json:"partsHash"`
}

// Header is a block header, every field that its hash covers.
type Header struct {
	VersionBlock       uint64    `json:"versionBlock"`
	VersionApp         uint64    `json:"versionApp,omitempty"`
	ChainID            string    `json:"chainId"`
	Height             int64     `json:"height"`
	Time               time.Time `json:"time"`
	LastBlockID        BlockID   `json:"lastBlockId"`
	LastCommitHash     []byte    `json:"lastCommitHash"`
	DataHash           []byte    `json:"dataHash"`
	ValidatorsHash     []byte    `json:"validatorsHash"`
	NextValidatorsHash []byte    `json:"nextValidatorsHash"`
	ConsensusHash      []byte    `json:"consensusHash"`
	AppHash            []byte    `json:"appHash"`
	LastResultsHash    []byte    `json:"lastResultsHash"`
	EvidenceHash       []byte    `json:"evidenceHash"`
	ProposerAddress    []byte    `json:"proposerAddress"`
}

// Hash is the header's hash: the block's id.
func (h *Header) Hash() []byte {
	bz := func(b []byte) []byte { return pb(nil).bytes(1, b) } // a BytesValue
	return merkleRoot([][]byte{
		pb(nil).uvarint(1, h.VersionBlock).uvarint(2, h.VersionApp),
		pb(nil).bytes(1, []byte(h.ChainID)),
		pb(nil).uvarint(1, uint64(h.Height)),
		timestamp(h.Time),
		blockID(h.LastBlockID),
		bz(h.LastCommitHash), bz(h.DataHash), bz(h.ValidatorsHash), bz(h.NextValidatorsHash),
		bz(h.ConsensusHash), bz(h.AppHash), bz(h.LastResultsHash), bz(h.EvidenceHash), bz(h.ProposerAddress),
	})
}

// Block id flags of a commit signature.
const (
	FlagAbsent = 1 // the validator's vote did not arrive
	FlagCommit = 2 // the validator voted for the block
	FlagNil    = 3 // the validator voted nil
)

// CommitSig is one validator's precommit in a commit.
type CommitSig struct {
	Flag             uint8     `json:"flag"`
	ValidatorAddress []byte    `json:"validatorAddress,omitempty"`
	Timestamp        time.Time `json:"timestamp"`
	Signature        []byte    `json:"signature,omitempty"`
}

// Commit is the precommits that decided a block, one per validator of the
// set, in its order.
type Commit struct {
	Height     int64       `json:"height"`
	Round      int32       `json:"round"`
	BlockID    BlockID     `json:"blockId"`
	Signatures []CommitSig `json:"signatures"`
}

// SignedHeader is a header and the commit that decided it, with the
// validator set of its height when the node sends it (CometBFT's light
// block): Client takes the set from there and checks it against the
// header's validators hash.
type SignedHeader struct {
	Header     Header      `json:"header"`
	Commit     Commit      `json:"commit"`
	Validators []Validator `json:"validators,omitempty"`
}

// precommit is the SignedMsgType of a precommit vote.
const precommit = 2

// VoteSignBytes is what validator i signed in commit c of chain chainID:
// the length-prefixed CanonicalVote.
func VoteSignBytes(chainID string, c *Commit, i int) []byte {
	s := c.Signatures[i]
	v := pb(nil).uvarint(1, precommit).sfixed64(2, c.Height).sfixed64(3, int64(c.Round))
	if s.Flag == FlagCommit {
		v = v.message(4, blockID(c.BlockID))
	}
	v = v.message(5, timestamp(s.Timestamp)).bytes(6, []byte(chainID))
	return append(binary.AppendUvarint(nil, uint64(len(v))), v...)
}

// Validator is a validator's consensus key and voting power.
type Validator struct {
	PubKey ed25519.PublicKey `json:"pubKey"`
	Power  int64             `json:"power"`
}

// Address is the validator's address: the first 20 bytes of the SHA-256
// of its key.
func (v Validator) Address() []byte {
	h := sha256.Sum256(v.PubKey)
	return h[:20]
}

// ValidatorSet is a validator set in CometBFT's order: by voting power,
// then by address.
type ValidatorSet struct {
	vals  []Validator
	total int64
}

// MaxValidators bounds a set (CometBFT's own bound is far higher; a
// registry network has one or a few validators per operator).
const MaxValidators = 1000

// maxTotalPower is CometBFT's bound on a set's total voting power.
const maxTotalPower = int64(1) << 60

// NewValidatorSet orders vals as CometBFT does and checks them.
func NewValidatorSet(vals []Validator) (*ValidatorSet, error) {
	if len(vals) == 0 || len(vals) > MaxValidators {
		return nil, fmt.Errorf("a validator set has 1 to %d validators, not %d", MaxValidators, len(vals))
	}
	s := &ValidatorSet{vals: slices.Clone(vals)}
	seen := make(map[string]bool, len(vals))
	for i, v := range s.vals {
		if len(v.PubKey) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("validator %d: an Ed25519 key has %d bytes, not %d", i, ed25519.PublicKeySize, len(v.PubKey))
		}
		if seen[string(v.PubKey)] {
			return nil, fmt.Errorf("validator %d: the key appears twice", i)
		}
		seen[string(v.PubKey)] = true
		if v.Power <= 0 || v.Power > maxTotalPower-s.total {
			return nil, fmt.Errorf("validator %d: voting power %d out of range", i, v.Power)
		}
		s.total += v.Power
	}
	slices.SortFunc(s.vals, func(a, b Validator) int {
		if a.Power != b.Power {
			if a.Power > b.Power {
				return -1
			}
			return 1
		}
		return bytes.Compare(a.Address(), b.Address())
	})
	return s, nil
}

// Validators returns the set in its order.
func (s *ValidatorSet) Validators() []Validator { return slices.Clone(s.vals) }

// Hash is the set's hash, as a header's validators hash holds it.
func (s *ValidatorSet) Hash() []byte {
	items := make([][]byte, len(s.vals))
	for i, v := range s.vals {
		key := pb(nil).bytes(1, v.PubKey) // PublicKey{ed25519}
		items[i] = pb(nil).message(1, key).uvarint(2, uint64(v.Power))
	}
	return merkleRoot(items)
}

// Verification failures. ErrUnverified is wrapped by every one.
var (
	ErrUnverified = errors.New("header not verified")
	// ErrTooLittleTrust: the header's own set signed it, but the trusted
	// set's members hold no more than a third of the trusted power among
	// its signers. A light client then verifies a header between the two
	// first (bisection).
	ErrTooLittleTrust = errors.New("too little of the trusted power signed")
)

func fail(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnverified, fmt.Sprintf(format, args...))
}

// Verify checks that sh is a header of chain chainID decided by vals:
// the header names vals as its validators, the commit is for this header,
// and validators with more than two thirds of the power signed it.
func Verify(chainID string, sh *SignedHeader, vals *ValidatorSet) error {
	h, c := &sh.Header, &sh.Commit
	switch {
	case h.ChainID != chainID:
		return fail("header of chain %q, want %q", h.ChainID, chainID)
	case h.Height < 1 || c.Height != h.Height:
		return fail("commit for height %d, header at %d", c.Height, h.Height)
	case !bytes.Equal(h.ValidatorsHash, vals.Hash()):
		return fail("the header names another validator set")
	case !bytes.Equal(c.BlockID.Hash, h.Hash()):
		return fail("the commit is for another header")
	case len(c.Signatures) != len(vals.vals):
		return fail("commit has %d signatures for %d validators", len(c.Signatures), len(vals.vals))
	}
	var power int64
	for i, s := range c.Signatures {
		if s.Flag != FlagCommit {
			if s.Flag != FlagAbsent && s.Flag != FlagNil {
				return fail("signature %d has flag %d", i, s.Flag)
			}
			continue
		}
		v := vals.vals[i]
		if !bytes.Equal(s.ValidatorAddress, v.Address()) {
			return fail("signature %d is from %X, not validator %X", i, s.ValidatorAddress, v.Address())
		}
		if !ed25519.Verify(v.PubKey, VoteSignBytes(chainID, c, i), s.Signature) {
			return fail("signature %d does not verify", i)
		}
		power += v.Power
	}
	if power*3 <= vals.total*2 {
		return fail("signed by %d of %d voting power, not more than two thirds", power, vals.total)
	}
	return nil
}

// VerifyTrusting checks a header whose validator set vals may differ
// from the set the verifier trusts, trusted (CometBFT's skipping rule,
// trust level 1/3): vals is the header's own set and signed it by more
// than two thirds (Verify), and validators of trusted, by their keys,
// signed it with more than one third of trusted's power, so that at
// least one honest member of the trusted set vouches for the change.
//
// The rule holds only while trusted is recent: a set whose members left
// the network long ago may sign anything with its old keys. The caller
// bounds the age of trusted (CometBFT's trusting period: less than the
// time in which a removed validator's misbehaviour can still be
// punished) and moves trusted forward as it verifies headers.
func VerifyTrusting(chainID string, sh *SignedHeader, trusted, vals *ValidatorSet) error {
	if err := Verify(chainID, sh, vals); err != nil {
		return err
	}
	var power int64
	for i, s := range sh.Commit.Signatures {
		if s.Flag != FlagCommit {
			continue
		}
		for _, t := range trusted.vals {
			if bytes.Equal(t.PubKey, vals.vals[i].PubKey) { // its signature verified in Verify
				power += t.Power
				break
			}
		}
	}
	if power*3 <= trusted.total {
		return fmt.Errorf("%w: %w: signed by %d of the trusted set's %d voting power, not more than one third",
			ErrUnverified, ErrTooLittleTrust, power, trusted.total)
	}
	return nil
}

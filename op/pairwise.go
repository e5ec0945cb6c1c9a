package op

import (
	"crypto/sha256"
	"fmt"
	"io"

	"github.com/bias-iot/bias/did"
)

// TypePairwise registers pairwise DIDs (body Pairwise).
const TypePairwise = "entity.pairwise"

// Limits of pairwise DIDs.
const (
	// MaxPairwiseItems bounds one registration of pairwise DIDs: a batch
	// that mixes many devices' hides which belong together.
	MaxPairwiseItems = 64
	// MaxPairwise bounds the pairwise DIDs that one revocation carries:
	// the pairwise DIDs of one device.
	MaxPairwise = MaxPairwiseItems
	// PairwiseSaltMin and PairwiseSaltMax bound a commitment's salt.
	PairwiseSaltMin = 16
	PairwiseSaltMax = 32
)

// Pairwise registers pairwise DIDs under a provider, signed by an admin
// key of the provider; they are validated on commit. A pairwise DID is
// one device's identifier towards one service (or one provider of
// services), with its own keys: two services that compare notes see two
// unrelated DIDs. The link to the device is a hiding commitment, which
// only the provider and the device can open; the device's revocation
// opens it (Status.Pairwise).
type Pairwise struct {
	Provider string          `cbor:"1,keyasint" json:"provider"`
	Items    []PairwiseEntry `cbor:"2,keyasint" json:"items"`
}

// PairwiseEntry is one pairwise DID: its document and the commitment to
// its device (PairwiseCommit).
type PairwiseEntry struct {
	Doc    Document `cbor:"1,keyasint" json:"doc"`
	Commit []byte   `cbor:"2,keyasint" json:"commit"`
}

// PairwiseOpening opens the commitment of the pairwise DID DID to the
// device that a revocation names.
type PairwiseOpening struct {
	DID  string `cbor:"1,keyasint" json:"did"`
	Salt []byte `cbor:"2,keyasint" json:"salt"`
}

// PairwiseCommit is the commitment of a pairwise DID to its device:
// SHA-256 of the deterministic CBOR array ["bias-pairwise-v1", network,
// device DID, salt]. With a secret random salt of 16 to 32 bytes it
// hides the device; with the salt anyone can check it.
func PairwiseCommit(network, device string, salt []byte) []byte {
	b, err := Marshal([]any{"bias-pairwise-v1", network, device, salt})
	if err != nil {
		panic(err) // strings and bytes always encode
	}
	h := sha256.Sum256(b)
	return h[:]
}

// NewPairwise makes the entry of a pairwise DID of device with doc, and
// the salt of its commitment (from rand; 32 bytes), which the provider
// keeps and hands the device (sealed, package seal).
func NewPairwise(network string, device did.DID, doc Document, rand io.Reader) (PairwiseEntry, []byte, error) {
	salt := make([]byte, PairwiseSaltMax)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return PairwiseEntry{}, nil, err
	}
	return PairwiseEntry{Doc: doc, Commit: PairwiseCommit(network, device.Base().String(), salt)}, salt, nil
}

// PairwiseDID derives the DID of an entry of a pairwise registration.
func PairwiseDID(network, provider string, entry PairwiseEntry) (did.DID, error) {
	b, err := Marshal(struct {
		_        struct{} `cbor:",toarray"`
		Tag      string
		Network  string
		Provider string
		Entry    PairwiseEntry
	}{Tag: "bias-pairwise", Network: network, Provider: provider, Entry: entry})
	if err != nil {
		return did.DID{}, err
	}
	return did.New(network, b), nil
}

func (p *Pairwise) validate(network string) error {
	if err := checkDID("pairwise.provider", p.Provider, network); err != nil {
		return err
	}
	if len(p.Items) == 0 || len(p.Items) > MaxPairwiseItems {
		return Reject(ReasonInvalidField, fmt.Sprintf("pairwise.items must hold 1 to %d entries", MaxPairwiseItems))
	}
	seen := make(map[string]bool, len(p.Items))
	for i, it := range p.Items {
		f := fmt.Sprintf("pairwise.items[%d]", i)
		if len(it.Commit) != sha256.Size {
			return Reject(ReasonInvalidField, f+".commit must be 32 bytes (op.PairwiseCommit)")
		}
		if seen[string(it.Commit)] {
			return Reject(ReasonInvalidField, f+" repeats an earlier commitment")
		}
		seen[string(it.Commit)] = true
		// A legacy identifier is the device's, and would name it.
		if len(it.Doc.Aliases) > 0 {
			return Reject(ReasonInvalidField, f+".doc: a pairwise DID holds no legacy identifier")
		}
		if err := it.Doc.validate(f + ".doc"); err != nil {
			return err
		}
	}
	return nil
}

// validatePairwise checks the openings a status change carries: only a
// revocation carries them, at most MaxPairwise, each a distinct DID of
// the network other than the target, with a salt of 16 to 32 bytes.
func (s *Status) validatePairwise(typ, network string) error {
	if len(s.Pairwise) == 0 {
		return nil
	}
	if typ != TypeRevoke {
		return Reject(ReasonInvalidField, "status.pairwise: only a revocation carries pairwise DIDs")
	}
	if len(s.Pairwise) > MaxPairwise {
		return Reject(ReasonInvalidField, fmt.Sprintf("status.pairwise: at most %d pairwise DIDs", MaxPairwise))
	}
	seen := map[string]bool{s.DID: true}
	for i, o := range s.Pairwise {
		f := fmt.Sprintf("status.pairwise[%d]", i)
		if err := checkDID(f+".did", o.DID, network); err != nil {
			return err
		}
		if seen[o.DID] {
			return Reject(ReasonInvalidField, f+".did repeats the device or an earlier pairwise DID")
		}
		seen[o.DID] = true
		if len(o.Salt) < PairwiseSaltMin || len(o.Salt) > PairwiseSaltMax {
			return Reject(ReasonInvalidField, fmt.Sprintf("%s.salt must be %d to %d bytes", f, PairwiseSaltMin, PairwiseSaltMax))
		}
	}
	return nil
}

package lightclient

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Trusted is a header the verifier believes, as much of it as the next
// verification needs: its time (for the trusting period), its app hash
// (for Merkle proofs), its validator set (for the next skipping step)
// and the set it names next (for the next sequential step). Height 0 is
// the genesis: its validators sign block 1.
type Trusted struct {
	ChainID            string      `json:"chainId"`
	Height             int64       `json:"height"`
	Time               time.Time   `json:"time"`
	Hash               []byte      `json:"hash,omitempty"`
	AppHash            []byte      `json:"appHash,omitempty"`
	Validators         []Validator `json:"validators"`
	NextValidatorsHash []byte      `json:"nextValidatorsHash"`

	signed *SignedHeader // while it is being verified
	vals   *ValidatorSet
}

// check validates a trusted header read from a store.
func (t *Trusted) check(chainID string) error {
	switch {
	case t.ChainID != chainID:
		return fmt.Errorf("a header of chain %q, not %q", t.ChainID, chainID)
	case t.Height < 1:
		return fmt.Errorf("a stored header at height %d", t.Height)
	case len(t.Hash) != sha256.Size || len(t.NextValidatorsHash) != sha256.Size:
		return fmt.Errorf("header %d: hashes of %d and %d bytes", t.Height, len(t.Hash), len(t.NextValidatorsHash))
	case len(t.AppHash) > 64:
		return fmt.Errorf("header %d: an app hash of %d bytes", t.Height, len(t.AppHash))
	}
	if _, err := NewValidatorSet(t.Validators); err != nil {
		return fmt.Errorf("header %d: %w", t.Height, err)
	}
	return nil
}

// Store keeps the newest trusted header of each chain, so that a
// verifier that stops and starts again does not begin at the genesis.
// Load returns nil when it holds none for chainID.
type Store interface {
	Load(chainID string) (*Trusted, error)
	Save(t *Trusted) error
}

// MemStore is a Store in memory.
type MemStore struct {
	mu sync.Mutex
	m  map[string]Trusted
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{m: map[string]Trusted{}} }

// Load implements Store.
func (s *MemStore) Load(chainID string) (*Trusted, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.m[chainID]
	if !ok {
		return nil, nil
	}
	return &t, nil
}

// Save implements Store: it keeps t if it is newer than what it holds.
func (s *MemStore) Save(t *Trusted) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[t.ChainID]; ok && old.Height >= t.Height {
		return nil
	}
	s.m[t.ChainID] = t.Stored()
	return nil
}

// Stored is t without what only its verification used: the value a
// Store keeps.
func (t *Trusted) Stored() Trusted {
	return Trusted{ChainID: t.ChainID, Height: t.Height, Time: t.Time, Hash: slices.Clone(t.Hash), AppHash: slices.Clone(t.AppHash),
		Validators: slices.Clone(t.Validators), NextValidatorsHash: slices.Clone(t.NextValidatorsHash)}
}

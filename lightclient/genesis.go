package lightclient

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Genesis is what a light client takes from a CometBFT genesis file: the
// chain id, the genesis time (the time of block 1) and the initial
// validator set.
type Genesis struct {
	ChainID    string
	Time       time.Time
	Validators *ValidatorSet
}

// MaxGenesisBytes bounds a genesis file read by ParseGenesis.
const MaxGenesisBytes = 16 << 20

// ParseGenesis reads a CometBFT genesis file (config/genesis.json of any
// node of the network, which every operator holds the same copy of).
func ParseGenesis(b []byte) (*Genesis, error) {
	if len(b) > MaxGenesisBytes {
		return nil, fmt.Errorf("genesis larger than %d bytes", MaxGenesisBytes)
	}
	var doc struct {
		ChainID    string    `json:"chain_id"`
		Time       time.Time `json:"genesis_time"`
		Validators []struct {
			PubKey struct {
				Type  string `json:"type"`
				Value []byte `json:"value"`
			} `json:"pub_key"`
			Power string `json:"power"`
		} `json:"validators"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	if doc.ChainID == "" {
		return nil, fmt.Errorf("genesis: no chain_id")
	}
	if doc.Time.IsZero() {
		return nil, fmt.Errorf("genesis: no genesis_time")
	}
	vals := make([]Validator, 0, len(doc.Validators))
	for i, v := range doc.Validators {
		if v.PubKey.Type != "tendermint/PubKeyEd25519" {
			return nil, fmt.Errorf("genesis validator %d: key type %q, want tendermint/PubKeyEd25519", i, v.PubKey.Type)
		}
		p, err := strconv.ParseInt(v.Power, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("genesis validator %d: power %q", i, v.Power)
		}
		vals = append(vals, Validator{PubKey: v.PubKey.Value, Power: p})
	}
	vs, err := NewValidatorSet(vals)
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	return &Genesis{ChainID: doc.ChainID, Time: doc.Time, Validators: vs}, nil
}

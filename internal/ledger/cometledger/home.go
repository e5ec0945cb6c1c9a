package cometledger

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/crypto"
	cmtos "github.com/cometbft/cometbft/libs/os"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/types"
)

// Identity is what a node's home holds of its keys: the validator key that
// signs votes and the p2p node id.
type Identity struct {
	ValidatorPubKey crypto.PubKey
	NodeID          string
}

// InitKeys creates the node key and the validator key in home if they do
// not exist yet, and returns them.
func InitKeys(home string) (*Identity, error) {
	cfg := cmtcfg.DefaultConfig()
	cfg.SetRoot(home)
	for _, d := range []string{filepath.Join(home, "config"), filepath.Join(home, "data")} {
		if err := cmtos.EnsureDir(d, 0o700); err != nil {
			return nil, err
		}
	}
	nk, err := p2p.LoadOrGenNodeKey(cfg.NodeKeyFile())
	if err != nil {
		return nil, fmt.Errorf("node key: %w", err)
	}
	pv := privval.LoadOrGenFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile())
	pub, err := pv.GetPubKey()
	if err != nil {
		return nil, err
	}
	return &Identity{ValidatorPubKey: pub, NodeID: string(nk.ID())}, nil
}

// GenesisValidator is a validator of the initial set.
type GenesisValidator struct {
	Name   string
	PubKey crypto.PubKey
	Power  int64
}

// GenesisFile is the path of the genesis file in home.
func GenesisFile(home string) string {
	cfg := cmtcfg.DefaultConfig()
	cfg.SetRoot(home)
	return cfg.GenesisFile()
}

// WriteGenesis writes the genesis file of network into home.
func WriteGenesis(home, network string, t time.Time, vals []GenesisValidator, appState json.RawMessage) error {
	doc := types.GenesisDoc{
		ChainID:         network,
		GenesisTime:     t,
		InitialHeight:   1,
		ConsensusParams: types.DefaultConsensusParams(),
		AppState:        appState,
	}
	for _, v := range vals {
		doc.Validators = append(doc.Validators, types.GenesisValidator{
			Address: v.PubKey.Address(), PubKey: v.PubKey, Power: v.Power, Name: v.Name,
		})
	}
	if err := doc.ValidateAndComplete(); err != nil {
		return fmt.Errorf("genesis: %w", err)
	}
	return doc.SaveAs(GenesisFile(home))
}

// HasGenesis reports whether home holds a genesis file.
func HasGenesis(home string) bool {
	_, err := os.Stat(GenesisFile(home))
	return err == nil
}

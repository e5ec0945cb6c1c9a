package cometledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// atomicWritePrefix names the temporary files of CometBFT's atomic writes
// (libs/tempfile): the validator's last-signed state, rewritten at each
// vote, and its keys. Each is renamed over its file once written, or
// removed, unless the process dies in between.
const atomicWritePrefix = "write-file-atomic-"

// RemoveTempFiles removes from home's config/ and data/ the temporary
// files that CometBFT's atomic writes leave when the process dies during
// one (a SIGKILL, a power cut), and returns their paths. Nothing reads
// them: the file they were to replace is whole, the old version or the
// new. Call it only while no process runs on home (once its state is
// open, whose lock a second node would not get): a running node's write
// in flight would fail.
func RemoveTempFiles(home string) ([]string, error) {
	var removed []string
	var errs []error
	for _, dir := range []string{filepath.Join(home, "config"), filepath.Join(home, "data")} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		for _, e := range entries {
			digits := strings.TrimPrefix(e.Name(), atomicWritePrefix)
			if !e.Type().IsRegular() || digits == e.Name() || digits == "" || strings.Trim(digits, "0123456789") != "" {
				continue
			}
			f := filepath.Join(dir, e.Name())
			if err := os.Remove(f); err != nil {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, f)
		}
	}
	return removed, errors.Join(errs...)
}

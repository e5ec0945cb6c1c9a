package cometledger

import (
	"errors"
	"fmt"
	"os"

	cmtcfg "github.com/cometbft/cometbft/config"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/types"
)

// ErrDamagedHome is wrapped by the errors of Preflight.
var ErrDamagedHome = errors.New("damaged home")

// FileError is a file of a node's home that CometBFT cannot start from.
type FileError struct {
	Path string // the file
	What string // what it holds
	Fix  string // what the operator does about it
	Err  error  // why it does not load
}

func (e *FileError) Error() string {
	return fmt.Sprintf("%s (%s) does not load: %v; %s (docs/operations.md, Recovering a node)", e.Path, e.What, e.Err, e.Fix)
}

func (e *FileError) Unwrap() []error { return []error{ErrDamagedHome, e.Err} }

// Preflight checks the files of home that CometBFT loads when it starts,
// the way it loads them: on a damaged one, CometBFT exits the process
// (the validator's key and last-signed state) or panics (a key file
// without its key) instead of returning an error. Preflight returns a
// *FileError naming the first such file and what to do.
func Preflight(home string) error {
	cfg := cmtcfg.DefaultConfig()
	cfg.SetRoot(home)
	checks := []struct {
		path, what, fix string
		load            func(b []byte) error
	}{
		{cfg.GenesisFile(), "the network's genesis",
			"copy the network's genesis.json (the same at every node) from another node", func(b []byte) error {
				_, err := types.GenesisDocFromJSON(b)
				return err
			}},
		{cfg.PrivValidatorKeyFile(), "the validator key",
			"restore it from a backup (a validator's key is in the genesis; a full node may take a new one)", func(b []byte) error {
				var k privval.FilePVKey
				if err := cmtjson.Unmarshal(b, &k); err != nil {
					return err
				}
				if k.PrivKey == nil {
					return errors.New("no private key")
				}
				return nil
			}},
		{cfg.PrivValidatorStateFile(), "the validator's last signed height, round and step, which keep it from signing twice",
			"restore it from a backup, or write one above every height this validator may have signed", func(b []byte) error {
				var st privval.FilePVLastSignState
				return cmtjson.Unmarshal(b, &st)
			}},
		{cfg.NodeKeyFile(), "the node's p2p key, its node id",
			"restore it from a backup, or take a new one (the node id changes)", func(b []byte) error {
				var k p2p.NodeKey
				if err := cmtjson.Unmarshal(b, &k); err != nil {
					return err
				}
				if k.PrivKey == nil {
					return errors.New("no private key")
				}
				return nil
			}},
	}
	for _, c := range checks {
		b, err := os.ReadFile(c.path)
		if err == nil {
			err = c.load(b)
		}
		if err != nil {
			return &FileError{Path: c.path, What: c.what, Fix: c.fix, Err: err}
		}
	}
	return nil
}

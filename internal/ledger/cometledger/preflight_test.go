package cometledger

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPreflight: a home as InitKeys and WriteGenesis leave it passes; a
// file that CometBFT would exit or panic on is named.
func TestPreflight(t *testing.T) {
	t.Parallel()
	newHome := func(t *testing.T) string {
		home := t.TempDir()
		id, err := InitKeys(home)
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteGenesis(home, "local", time.Unix(1_700_000_000, 0), []GenesisValidator{{Name: "v", PubKey: id.ValidatorPubKey, Power: 10}}, json.RawMessage(`{}`)); err != nil {
			t.Fatal(err)
		}
		return home
	}
	if err := Preflight(newHome(t)); err != nil {
		t.Fatalf("a new home: %v", err)
	}
	for _, c := range []struct {
		name, file, content string
	}{
		{"fail/truncated-genesis", "config/genesis.json", `{"chain`},
		{"fail/truncated-validator-key", "config/priv_validator_key.json", `{"addr`},
		{"fail/validator-key-without-key", "config/priv_validator_key.json", `{}`}, // CometBFT: a nil pointer
		{"fail/truncated-validator-state", "data/priv_validator_state.json", `{"heig`},
		{"fail/missing-validator-state", "data/priv_validator_state.json", ""},
		{"fail/truncated-node-key", "config/node_key.json", `{`},
		{"fail/node-key-without-key", "config/node_key.json", `{}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			home := newHome(t)
			path := filepath.Join(home, c.file)
			var err error
			if c.content == "" {
				err = os.Remove(path)
			} else {
				err = os.WriteFile(path, []byte(c.content), 0o600)
			}
			if err != nil {
				t.Fatal(err)
			}
			err = Preflight(home)
			var fe *FileError
			if !errors.Is(err, ErrDamagedHome) || !errors.As(err, &fe) || fe.Path != path || fe.Fix == "" {
				t.Fatalf("Preflight: %v", err)
			}
		})
	}
}

package evmledger

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ethereum/go-ethereum/crypto"
)

// KeyFile is the name of the account key in a node's home.
const KeyFile = "evm.key"

// LoadOrCreateKey reads the account key at path (hex, as geth's
// --unlock-free tools write it), or creates one there with mode 0600 when
// there is none. A key file that others may read is refused.
func LoadOrCreateKey(path string) (*ecdsa.PrivateKey, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		k, err := crypto.GenerateKey()
		if err != nil {
			return nil, fmt.Errorf("evmledger: key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("evmledger: key: %w", err)
		}
		if err := crypto.SaveECDSA(path, k); err != nil { // mode 0600
			return nil, fmt.Errorf("evmledger: key: %w", err)
		}
		return k, nil
	case err != nil:
		return nil, fmt.Errorf("evmledger: key: %w", err)
	case fi.Mode().Perm()&0o077 != 0:
		return nil, fmt.Errorf("evmledger: key %s is readable by others (mode %o); want 0600", path, fi.Mode().Perm())
	}
	k, err := crypto.LoadECDSA(path)
	if err != nil {
		// LoadECDSA's errors name no key material.
		return nil, fmt.Errorf("evmledger: key %s: %w", path, err)
	}
	return k, nil
}

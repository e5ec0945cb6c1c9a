package evmledger_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/bias-iot/bias/internal/ledger/evmledger"
)

// TestKeyFile: the account key is created 0600 on first use and read back
// the same; a key that others may read is refused.
func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "home", evmledger.KeyFile)
	k, err := evmledger.LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v, %v: want mode 0600", fi, err)
	}
	again, err := evmledger.LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if crypto.PubkeyToAddress(again.PublicKey) != crypto.PubkeyToAddress(k.PublicKey) {
		t.Fatal("the key read back is another key")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := evmledger.LoadOrCreateKey(path); err == nil {
		t.Fatal("fail/readable-by-others: a 0644 key was accepted")
	}
}

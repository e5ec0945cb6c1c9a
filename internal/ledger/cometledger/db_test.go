package cometledger

import (
	"errors"
	"testing"

	dbm "github.com/cometbft/cometbft-db"
)

// TestShutdownSafeDB: after Close a read finds nothing (a late reader of
// the block store sees no record, not a panic) and a write fails.
func TestShutdownSafeDB(t *testing.T) {
	d := &shutdownSafeDB{DB: dbm.NewMemDB()}
	if err := d.Set([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if v, err := d.Get([]byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("open: %q %v", v, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if v, err := d.Get([]byte("k")); err != nil || v != nil {
		t.Fatalf("closed Get: %q %v", v, err)
	}
	if ok, err := d.Has([]byte("k")); err != nil || ok {
		t.Fatalf("closed Has: %v %v", ok, err)
	}
	if err := d.SetSync([]byte("k"), nil); !errors.Is(err, errDBClosed) {
		t.Fatalf("closed SetSync: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

package cometledger

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestRemoveTempFiles: the temporary files of atomic writes go, nothing
// else does.
func TestRemoveTempFiles(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	files := map[string]bool{ // path: whether it goes
		"data/write-file-atomic-1648318859824850079":   true,
		"config/write-file-atomic-0835878532464176795": true,
		"data/priv_validator_state.json":               false,
		"data/write-file-atomic-":                      false,
		"data/write-file-atomic-12.bak":                false,
		"write-file-atomic-1":                          false, // not in config/ or data/
	}
	for f := range files {
		p := filepath.Join(home, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(home, "data", "write-file-atomic-7"), 0o700); err != nil {
		t.Fatal(err)
	}
	removed, err := RemoveTempFiles(home)
	if err != nil {
		t.Fatal(err)
	}
	for f, goes := range files {
		_, err := os.Stat(filepath.Join(home, f))
		if gone := os.IsNotExist(err); gone != goes || gone != slices.Contains(removed, filepath.Join(home, f)) {
			t.Errorf("%s: gone %v, want %v (removed %v)", f, gone, goes, removed)
		}
	}
	if _, err := os.Stat(filepath.Join(home, "data", "write-file-atomic-7")); err != nil {
		t.Error("a directory went")
	}
	if _, err := RemoveTempFiles(t.TempDir()); err != nil {
		t.Errorf("an empty home: %v", err)
	}
}

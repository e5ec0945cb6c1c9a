// Package statetest opens a Merkle state for a test: in the test's
// temporary directory, closed (and the close checked) when it ends.
//
//	st := statetest.Open(t)
package statetest

import (
	"testing"

	"github.com/bias-iot/bias/internal/state"
)

// Open opens a new state in t's temporary directory.
func Open(t testing.TB) *state.Store {
	t.Helper()
	st, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	return st
}

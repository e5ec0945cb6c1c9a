package evmledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/bias-iot/bias/internal/ledger"
)

// ErrDisagree is the error of witnesses that report different roots at
// one height.
var ErrDisagree = errors.New("evmledger: witnesses disagree")

// Agree asks each witness (nodes of independent operators that follow one
// anchor) for its header at height and returns the root they all report:
// on the EVM engine a root is computed, not signed, so a client believes
// one that several nodes agree on. A witness that fails, or reports
// another root, is an error.
func Agree(ctx context.Context, height int64, witnesses ...ledger.Reader) ([]byte, error) {
	if len(witnesses) == 0 {
		return nil, errors.New("evmledger: no witnesses")
	}
	var root []byte
	for i, w := range witnesses {
		h, err := w.Header(ctx, height)
		if err != nil {
			return nil, fmt.Errorf("evmledger: witness %d: %w", i, err)
		}
		if i == 0 {
			root = h.AppHash
		} else if !bytes.Equal(h.AppHash, root) {
			return nil, fmt.Errorf("%w: at height %d, witness %d reports %x, witness 0 %x", ErrDisagree, height, i, h.AppHash, root)
		}
	}
	return root, nil
}

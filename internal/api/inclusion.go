package api

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/bias-iot/bias/evmproof"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk/evmsdk"
)

// InclusionProver is what a ledger engine that orders operations on an
// EVM chain offers a client (evmledger): the proof that the index-th
// operation of block height is in its EVM block, and the anchor that the
// client must confirm to check it. CometBFT proves with signed headers
// instead (SignedHeaders).
type InclusionProver interface {
	Inclusion(ctx context.Context, height int64, index int) (*evmproof.Inclusion, error)
	Anchor() evmproof.Anchor
}

// inclusion serves GET /v1/operations/{hash}/inclusion?height=H: the
// proof that the operation is in block H (the height its submission or
// GET /v1/operations/{hash} answered), with the EVM block and the anchor
// it is checked against, which the client confirms with its own EVM node
// before evmproof.Verify.
func (s *Server) inclusion(w http.ResponseWriter, r *http.Request) error {
	p, ok := s.l.(InclusionProver)
	if !ok {
		return fail(ReasonNotImplemented, "this ledger engine proves with signed headers (GET /v1/blocks/{height}/signed, record proofs), not EVM receipts: no inclusion proofs")
	}
	hash := r.PathValue("hash")
	want, err := hex.DecodeString(hash)
	if err != nil || len(want) != 32 || hex.EncodeToString(want) != hash {
		return rejection(op.ReasonInvalidField, "hash must be 64 lowercase hex digits: the SHA-256 of the operation's bytes")
	}
	height, err := positive[int64](r.URL.Query().Get("height"), "height")
	if err != nil {
		return err
	}
	res, err := s.resultIn(r.Context(), height, want)
	if err != nil {
		if e := (*Error)(nil); errors.As(err, &e) {
			return withHash(e, hash)
		}
		return err
	}
	in, err := p.Inclusion(r.Context(), height, res.Index)
	if errors.Is(err, ledger.ErrNotFound) {
		return withHash(fail(ReasonNotFound, fmt.Sprintf("block %d is no longer kept by this node", height)), hash)
	}
	if err != nil {
		return err
	}
	var hdr types.Header
	if err := rlp.DecodeBytes(in.Header, &hdr); err != nil {
		return fmt.Errorf("inclusion header: %w", err)
	}
	writeJSON(w, http.StatusOK, evmsdk.InclusionView{
		Hash: hash, Height: height, Index: res.Index,
		EVMBlock: evmsdk.EVMBlockView{Hash: hdr.Hash(), Number: hdr.Number.Uint64()},
		Anchor:   p.Anchor(), Proof: *in,
	})
	return nil
}

// resultIn is the result of the operation whose hash is want in block
// height.
func (s *Server) resultIn(ctx context.Context, height int64, want []byte) (*ledger.Result, error) {
	st, err := s.l.Status(ctx)
	if err != nil {
		return nil, unhealthy(err)
	}
	if height > st.Height {
		return nil, fail(ReasonNotFound, fmt.Sprintf("no block %d yet (the head is %d)", height, st.Height))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	blocks, err := s.l.Watch(ctx, height)
	if err != nil {
		return nil, watchFailed(err)
	}
	b, ok := <-blocks
	if !ok || b.Height != height {
		return nil, unhealthy(ledger.ErrClosed)
	}
	for i := range b.Results {
		if res := &b.Results[i]; bytes.Equal(res.Hash, want) {
			return res, nil
		}
	}
	return nil, fail(ReasonNotFound, fmt.Sprintf("the operation is not in block %d (GET /v1/operations/{hash} says which block holds it)", height))
}

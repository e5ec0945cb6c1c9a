package api

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net/http"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
	"github.com/bias-iot/bias/sdk"
)

// operation looks a submitted operation up by its hash (GET
// /v1/operations/{hash}?from=H): the blocks from H (default: the last
// maxHistoryBlocks) to the head, at most maxHistoryBlocks of them, are
// searched for it. Found, the answer is the one POST /v1/operations
// would have given had it waited: the committed result, or the refusal
// the block made. Not found, 404 not-found with from = the height to ask
// from next (it may still be pending, or it was never submitted here).
// After a 504 timeout, whose body carries the hash and a from, this is
// how a client learns the outcome without submitting again.
func (s *Server) operation(w http.ResponseWriter, r *http.Request) error {
	hash := r.PathValue("hash")
	want, err := hex.DecodeString(hash)
	if err != nil || len(want) != 32 || hex.EncodeToString(want) != hash {
		return rejection(op.ReasonInvalidField, "hash must be 64 lowercase hex digits: the SHA-256 of the operation's bytes")
	}
	st, err := s.l.Status(r.Context())
	if err != nil {
		return unhealthy(err)
	}
	from := max(st.Height-maxHistoryBlocks+1, 1)
	if v := r.URL.Query().Get("from"); v != "" {
		if from, err = positive[int64](v, "from"); err != nil {
			return err
		}
	}
	if from > st.Height {
		e := fail(ReasonNotFound, fmt.Sprintf("no block from height %d yet (the head is %d)", from, st.Height))
		e.Hash, e.From = hash, from
		return e
	}
	to := min(st.Height, from+maxHistoryBlocks-1)
	select {
	case s.paging <- struct{}{}:
		defer func() { <-s.paging }()
	default:
		return fail(ReasonTooManyRequests, "too many searches of past blocks at once; retry later")
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	blocks, err := s.l.Watch(ctx, from)
	if err != nil {
		return watchFailed(err)
	}
	for b := range blocks {
		for i := range b.Results {
			if res := &b.Results[i]; bytes.Equal(res.Hash, want) {
				if res.Code != 0 {
					return withHash(rejection(op.ReasonFromCode(res.Code), res.Log), hash)
				}
				writeJSON(w, http.StatusOK, committed(res, hash))
				return nil
			}
		}
		if b.Height >= to {
			e := fail(ReasonNotFound, fmt.Sprintf("not in the blocks %d to %d: it may still be pending, or was not submitted to this network; ask again with from=%d", from, to, to+1))
			e.Hash, e.From = hash, to+1
			return e
		}
	}
	if err := r.Context().Err(); err != nil {
		return fail(ReasonCanceled, "the client went away")
	}
	return unhealthy(ledger.ErrClosed)
}

// committed is the answer to an operation that a block applied.
func committed(res *ledger.Result, hash string) sdk.SubmitResult {
	out := sdk.SubmitResult{Status: "committed", Reason: string(op.ReasonOK), Hash: hash, Height: res.Height}
	if rr, err := record.DecodeResult(res.Data); err == nil {
		out.DID, out.Version, out.EntityStatus, out.Count = rr.DID, rr.Version, rr.Status, rr.Count
		if rr.Proposal != "" { // a governance operation: the proposal's status
			out.EntityStatus, out.Proposal, out.ProposalStatus = "", rr.Proposal, rr.Status
		}
	}
	return out
}

package cometledger

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtcfg "github.com/cometbft/cometbft/config"

	"github.com/bias-iot/bias/internal/ledger/core"
)

// StateSync makes a node with no state join from a snapshot of its peers'
// (CometBFT's state sync): it finds snapshots over p2p, has its light
// client verify, from the trusted header, the header of the block after
// the snapshot (whose app hash the restored state must have) over the
// CometBFT RPC of RPCServers, restores the snapshot through the
// application's core.Snapshotter (Config.Snapshots), then block-syncs
// from the snapshot's height on. The blocks below it are never fetched.
type StateSync struct {
	Enable bool
	// RPCServers are the CometBFT RPC addresses (Config.RPCListen) of at
	// least two nodes of the network: the light client's primary and
	// witness.
	RPCServers []string
	// TrustHeight and TrustHash name a header the joiner trusts (a
	// verified one, e.g. from an sdk.TrustFile); TrustPeriod is how long
	// a header stays trusted (default a week, as the light client's).
	TrustHeight int64
	TrustHash   []byte
	TrustPeriod time.Duration
	// DiscoveryTime is how long the node gathers snapshots before it
	// picks one (default 15s, at least 5s).
	DiscoveryTime time.Duration
}

// stateSyncConfig sets CometBFT's state sync and RPC configuration.
func stateSyncConfig(cfg *cmtcfg.Config, c Config) {
	cfg.RPC.ListenAddress = c.RPCListen
	if !c.StateSync.Enable {
		return
	}
	s := c.StateSync
	cfg.StateSync.Enable = true
	cfg.StateSync.RPCServers = s.RPCServers
	cfg.StateSync.TrustHeight = s.TrustHeight
	cfg.StateSync.TrustHash = hex.EncodeToString(s.TrustHash)
	// Fetched chunks wait on disk until applied: in data/, not in the
	// system's temporary directory (often memory), which a large
	// snapshot would fill.
	cfg.StateSync.TempDir = cfg.DBDir()
	if s.TrustPeriod > 0 {
		cfg.StateSync.TrustPeriod = s.TrustPeriod
	}
	if s.DiscoveryTime > 0 {
		cfg.StateSync.DiscoveryTime = s.DiscoveryTime
	}
}

// validate checks what CometBFT's own check would let through.
func (s StateSync) validate(snap core.Snapshotter) error {
	if !s.Enable {
		return nil
	}
	switch {
	case snap == nil:
		return errors.New("state sync: the application restores no snapshots")
	case len(s.TrustHash) != 32:
		return fmt.Errorf("state sync: a trusted header hash of %d bytes, not 32", len(s.TrustHash))
	}
	return nil
}

// Base is the lowest block the node's block store holds (0: none): 1 on
// a node that replayed from genesis, above the snapshot's height on one
// that joined by state sync, higher once old blocks are pruned.
func (l *Ledger) Base() int64 {
	if !l.enter() {
		return 0
	}
	defer l.exit()
	return l.node.BlockStore().Base()
}

// The ABCI snapshot connection, mapped onto the core.Snapshotter of
// Config.Snapshots (or the application's own ABCI methods without one).

func (s *shim) ListSnapshots(ctx context.Context, req *abci.RequestListSnapshots) (*abci.ResponseListSnapshots, error) {
	if s.snap == nil {
		return s.Application.ListSnapshots(ctx, req)
	}
	list, err := s.snap.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	out := &abci.ResponseListSnapshots{}
	for _, x := range list {
		out.Snapshots = append(out.Snapshots, &abci.Snapshot{Height: x.Height, Format: x.Format, Chunks: x.Chunks, Hash: x.Hash, Metadata: x.Metadata})
	}
	return out, nil
}

func (s *shim) LoadSnapshotChunk(ctx context.Context, req *abci.RequestLoadSnapshotChunk) (*abci.ResponseLoadSnapshotChunk, error) {
	if s.snap == nil {
		return s.Application.LoadSnapshotChunk(ctx, req)
	}
	b, err := s.snap.SnapshotChunk(ctx, req.Height, req.Format, req.Chunk)
	if err != nil {
		return nil, err
	}
	return &abci.ResponseLoadSnapshotChunk{Chunk: b}, nil
}

var offerResults = map[core.OfferResult]abci.ResponseOfferSnapshot_Result{
	core.OfferAccept:       abci.ResponseOfferSnapshot_ACCEPT,
	core.OfferAbort:        abci.ResponseOfferSnapshot_ABORT,
	core.OfferReject:       abci.ResponseOfferSnapshot_REJECT,
	core.OfferRejectFormat: abci.ResponseOfferSnapshot_REJECT_FORMAT,
	core.OfferRejectSender: abci.ResponseOfferSnapshot_REJECT_SENDER,
}

func (s *shim) OfferSnapshot(ctx context.Context, req *abci.RequestOfferSnapshot) (*abci.ResponseOfferSnapshot, error) {
	if s.snap == nil {
		return s.Application.OfferSnapshot(ctx, req)
	}
	if req.Snapshot == nil {
		return &abci.ResponseOfferSnapshot{Result: abci.ResponseOfferSnapshot_REJECT}, nil
	}
	x := req.Snapshot
	r, err := s.snap.RestoreOffer(ctx, core.Snapshot{Height: x.Height, Format: x.Format, Chunks: x.Chunks, Hash: x.Hash, Metadata: x.Metadata}, req.AppHash)
	if err != nil {
		return nil, err
	}
	res, ok := offerResults[r]
	if !ok {
		return nil, fmt.Errorf("offer snapshot: the application answered %d", r)
	}
	return &abci.ResponseOfferSnapshot{Result: res}, nil
}

var applyResults = map[core.ApplyOutcome]abci.ResponseApplySnapshotChunk_Result{
	core.ApplyAccept:         abci.ResponseApplySnapshotChunk_ACCEPT,
	core.ApplyAbort:          abci.ResponseApplySnapshotChunk_ABORT,
	core.ApplyRetry:          abci.ResponseApplySnapshotChunk_RETRY,
	core.ApplyRetrySnapshot:  abci.ResponseApplySnapshotChunk_RETRY_SNAPSHOT,
	core.ApplyRejectSnapshot: abci.ResponseApplySnapshotChunk_REJECT_SNAPSHOT,
}

func (s *shim) ApplySnapshotChunk(ctx context.Context, req *abci.RequestApplySnapshotChunk) (*abci.ResponseApplySnapshotChunk, error) {
	if s.snap == nil {
		return s.Application.ApplySnapshotChunk(ctx, req)
	}
	r, err := s.snap.RestoreChunk(ctx, req.Index, req.Chunk, req.Sender)
	if err != nil {
		return nil, err
	}
	res, ok := applyResults[r.Outcome]
	if !ok {
		return nil, fmt.Errorf("apply snapshot chunk: the application answered %d", r.Outcome)
	}
	return &abci.ResponseApplySnapshotChunk{Result: res, RefetchChunks: r.Refetch, RejectSenders: r.RejectSenders}, nil
}

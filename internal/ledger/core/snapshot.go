package core

import "context"

// Snapshot describes a snapshot of the committed state that an
// application offers to nodes joining the network (state sync). The
// engine treats it as opaque apart from Height: snapshots from several
// peers that agree on every field are the same snapshot.
type Snapshot struct {
	Height   uint64 // the block whose committed state it holds
	Format   uint32 // the application's format of the chunks
	Chunks   uint32 // the number of chunks
	Hash     []byte // identifies the snapshot (the application's hash of it)
	Metadata []byte // the application's own description (its chunk hashes)
}

// SnapshotSource serves the snapshots a node has taken.
type SnapshotSource interface {
	// Snapshots lists the snapshots held, newest first.
	Snapshots(ctx context.Context) ([]Snapshot, error)
	// SnapshotChunk returns chunk index of the snapshot of height in
	// format; nil when the node does not hold it.
	SnapshotChunk(ctx context.Context, height uint64, format, index uint32) ([]byte, error)
}

// OfferResult is the application's answer to a snapshot offered to it.
type OfferResult int

// The answers to an offered snapshot.
const (
	OfferAccept       OfferResult = iota + 1 // restore it: chunks follow
	OfferAbort                               // stop state sync altogether
	OfferReject                              // try another snapshot
	OfferRejectFormat                        // try no snapshot of this format
	OfferRejectSender                        // try no snapshot from these senders
)

// ApplyOutcome is what the engine is to do after a chunk.
type ApplyOutcome int

// The outcomes of applying a chunk.
const (
	ApplyAccept         ApplyOutcome = iota + 1 // the chunk is in: the next one, please
	ApplyAbort                                  // stop state sync altogether
	ApplyRetry                                  // fetch the chunks in Refetch again (from other senders)
	ApplyRetrySnapshot                          // restore the same snapshot again from its first chunk
	ApplyRejectSnapshot                         // the snapshot is bad: try another
)

// ApplyResult is the application's answer to a chunk.
type ApplyResult struct {
	Outcome ApplyOutcome
	// Refetch lists chunks to fetch again (this one, when it did not
	// verify).
	Refetch []uint32
	// RejectSenders lists peers whose chunks are not to be used again
	// (the sender of a chunk that did not verify).
	RejectSenders []string
}

// SnapshotRestorer restores the state from a snapshot, chunk by chunk,
// on an empty application. The engine checks appHash against a header
// its light client trusts (the header of block Height+1); the application
// checks every chunk against the snapshot and the restored state's root
// against appHash before it serves anything.
type SnapshotRestorer interface {
	// RestoreOffer offers snapshot s, whose state must have root appHash.
	RestoreOffer(ctx context.Context, s Snapshot, appHash []byte) (OfferResult, error)
	// RestoreChunk applies chunk index (the chunks of the accepted
	// snapshot come in order, from 0) received from sender.
	RestoreChunk(ctx context.Context, index uint32, chunk []byte, sender string) (ApplyResult, error)
}

// Snapshotter takes snapshots of the state and restores from them (state
// sync). A Go error from any method is a broken invariant. (The names
// differ from ABCI's ListSnapshots, LoadSnapshotChunk, OfferSnapshot and
// ApplySnapshotChunk, which cometledger maps onto them, so that an
// application may be an ABCI one too.)
type Snapshotter interface {
	SnapshotSource
	SnapshotRestorer
}

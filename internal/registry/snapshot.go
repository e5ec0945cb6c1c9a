package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/bias-iot/bias/internal/ledger/core"
	"github.com/bias-iot/bias/internal/state"
)

// Snapshots of the state, for nodes that join by state sync. Every
// Interval committed heights the application exports the state of that
// height (state.Export) to Dir, on a goroutine of its own (a block's
// commit never waits for it), and keeps the latest Keep. A snapshot's
// metadata is the list of its chunks' SHA-256 hashes, its hash the
// SHA-256 of that list; a node that restores checks each chunk against
// the list, and the restored root against the app hash of a header its
// light client trusts, before it serves anything.
//
// On disk, Dir/<height>/ holds the chunks (files 0, 1, …) and
// snapshot.json, written last; a directory without it (a crash during an
// export) is removed at start.

// SnapshotConfig configures the snapshots an application takes.
type SnapshotConfig struct {
	// Dir holds the snapshots (the node's data/snapshots).
	Dir string
	// Interval is the number of heights between snapshots: one is taken
	// after each height that is a multiple of it (0: none).
	Interval int64
	// Keep is how many of the latest snapshots stay on disk (default 2).
	Keep int
	// ChunkBytes is the chunk size (default state.DefaultChunkBytes);
	// the nodes of a network should use the same, so that a joiner may
	// fetch a snapshot's chunks from several of them.
	ChunkBytes int
	// Restored, when set, is called once a restore has committed the
	// state of height (before the engine goes on), for what the node
	// derives from the state (its metrics).
	Restored func(height int64)
}

// DefaultSnapshotKeep is the snapshots kept unless told otherwise.
const DefaultSnapshotKeep = 2

// snapshotFile is the description a snapshot's directory holds.
const snapshotFile = "snapshot.json"

var _ core.Snapshotter = (*App)(nil)

// snapshots are the application's snapshots and its restore.
type snapshots struct {
	cfg SnapshotConfig
	st  *state.Store
	log *slog.Logger

	mu      sync.Mutex
	list    []core.Snapshot // newest first
	running bool            // an export is under way
	stopped bool
	wg      sync.WaitGroup

	rmu     sync.Mutex // the restore (the engine's snapshot connection)
	restore *state.Import
	offered core.Snapshot
	senders []string // the peers whose chunks the restore took
}

// snapshotMeta is snapshot.json.
type snapshotMeta struct {
	Height uint64 `json:"height"`
	Format uint32 `json:"format"`
	Chunks uint32 `json:"chunks"`
	Hash   string `json:"hash"`   // hex
	Root   string `json:"root"`   // hex: the state's root hash
	Hashes string `json:"hashes"` // hex: the chunk hashes, the metadata
}

// EnableSnapshots makes the application take snapshots as c says, and
// serve those in c.Dir. Call it before the ledger starts, and
// StopSnapshots before the store closes.
func (a *App) EnableSnapshots(c SnapshotConfig) error {
	if c.Keep <= 0 {
		c.Keep = DefaultSnapshotKeep
	}
	if c.ChunkBytes == 0 {
		c.ChunkBytes = state.DefaultChunkBytes
	}
	switch {
	case c.Dir == "":
		return errors.New("snapshots: no directory")
	case c.Interval < 0:
		return errors.New("snapshots: a negative interval")
	case c.ChunkBytes < state.MinChunkBytes || c.ChunkBytes > state.MaxChunkBytes:
		return fmt.Errorf("snapshots: a chunk size of %d to %d bytes", state.MinChunkBytes, state.MaxChunkBytes)
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return fmt.Errorf("snapshots: %w", err)
	}
	s := &snapshots{cfg: c, st: a.st, log: a.log.With("part", "snapshots")}
	if err := s.load(); err != nil {
		return err
	}
	a.snaps = s
	return nil
}

// StopSnapshots waits for an export under way to end (it stops at its
// next chunk) and takes no more.
func (a *App) StopSnapshots() {
	if a.snaps == nil {
		return
	}
	a.snaps.mu.Lock()
	a.snaps.stopped = true
	a.snaps.mu.Unlock()
	a.snaps.wg.Wait()
}

// snapshotAfter starts a snapshot of height h if one is due (Commit).
func (a *App) snapshotAfter(h int64) {
	if a.snaps == nil || a.snaps.cfg.Interval == 0 || h%a.snaps.cfg.Interval != 0 {
		return
	}
	a.snaps.start(h)
}

// start exports height h in the background, unless an export runs.
func (s *snapshots) start(h int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	if s.running {
		s.log.Warn("a snapshot is still being taken: skipping this height", "height", h)
		return
	}
	s.running = true
	s.wg.Go(func() {
		err := s.take(h)
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
		if err != nil {
			s.log.Error("snapshot failed", "height", h, "err", err)
		}
	})
}

// take writes the snapshot of height h and prunes old ones.
func (s *snapshots) take(h int64) error {
	dir := filepath.Join(s.cfg.Dir, strconv.FormatInt(h, 10))
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	n := 0
	info, err := s.st.Export(h, s.cfg.ChunkBytes, func(chunk []byte) error {
		s.mu.Lock()
		stopped := s.stopped
		s.mu.Unlock()
		if stopped {
			return errors.New("the node stops")
		}
		err := writeSynced(filepath.Join(tmp, strconv.Itoa(n)), chunk)
		n++
		return err
	})
	if err != nil {
		return errors.Join(err, os.RemoveAll(tmp))
	}
	snap := describe(info)
	meta := snapshotMeta{Height: snap.Height, Format: snap.Format, Chunks: snap.Chunks, Hash: hex.EncodeToString(snap.Hash),
		Root: hex.EncodeToString(info.Root), Hashes: hex.EncodeToString(snap.Metadata)}
	b, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	if err := writeSynced(filepath.Join(tmp, snapshotFile), b); err != nil {
		return errors.Join(err, os.RemoveAll(tmp))
	}
	if err := errors.Join(os.RemoveAll(dir), os.Rename(tmp, dir)); err != nil {
		return err
	}
	s.mu.Lock()
	s.list = slices.DeleteFunc(s.list, func(o core.Snapshot) bool { return o.Height == snap.Height })
	s.list = append([]core.Snapshot{snap}, s.list...)
	slices.SortFunc(s.list, func(a, b core.Snapshot) int { return -cmpHeight(a, b) })
	var drop []core.Snapshot
	if len(s.list) > s.cfg.Keep {
		drop = slices.Clone(s.list[s.cfg.Keep:])
		s.list = s.list[:s.cfg.Keep]
	}
	s.mu.Unlock()
	s.log.Info("snapshot taken", "height", h, "chunks", snap.Chunks)
	for _, d := range drop {
		if err := os.RemoveAll(filepath.Join(s.cfg.Dir, strconv.FormatUint(d.Height, 10))); err != nil {
			return err
		}
	}
	return nil
}

func cmpHeight(a, b core.Snapshot) int {
	switch {
	case a.Height < b.Height:
		return -1
	case a.Height > b.Height:
		return 1
	}
	return 0
}

// describe is the snapshot an export makes.
func describe(info *state.ExportInfo) core.Snapshot {
	meta := make([]byte, 0, len(info.Chunks)*sha256.Size)
	for _, h := range info.Chunks {
		meta = append(meta, h[:]...)
	}
	sum := sha256.Sum256(meta)
	return core.Snapshot{Height: uint64(info.Version), Format: state.ChunkFormat, Chunks: uint32(len(info.Chunks)), //nolint:gosec // bounded by state.MaxChunks
		Hash: sum[:], Metadata: meta}
}

// load reads the snapshots in Dir, removing the unfinished ones and any
// beyond Keep.
func (s *snapshots) load() error {
	entries, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("snapshots: %w", err)
	}
	for _, e := range entries {
		path := filepath.Join(s.cfg.Dir, e.Name())
		snap, err := readSnapshot(path)
		if err != nil {
			s.log.Warn("removing an unfinished or unreadable snapshot", "dir", path, "err", err)
			if err := os.RemoveAll(path); err != nil {
				return fmt.Errorf("snapshots: %w", err)
			}
			continue
		}
		s.list = append(s.list, *snap)
	}
	slices.SortFunc(s.list, func(a, b core.Snapshot) int { return -cmpHeight(a, b) })
	for len(s.list) > s.cfg.Keep {
		old := s.list[len(s.list)-1]
		s.list = s.list[:len(s.list)-1]
		if err := os.RemoveAll(filepath.Join(s.cfg.Dir, strconv.FormatUint(old.Height, 10))); err != nil {
			return fmt.Errorf("snapshots: %w", err)
		}
	}
	return nil
}

// readSnapshot reads the snapshot in dir.
func readSnapshot(dir string) (*core.Snapshot, error) {
	b, err := readBounded(filepath.Join(dir, snapshotFile), 4*state.MaxChunks*sha256.Size)
	if err != nil {
		return nil, err
	}
	var m snapshotMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	hash, err1 := hex.DecodeString(m.Hash)
	meta, err2 := hex.DecodeString(m.Hashes)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(meta)
	if m.Format != state.ChunkFormat || strconv.FormatUint(m.Height, 10) != filepath.Base(dir) || m.Chunks == 0 ||
		len(meta) != int(m.Chunks)*sha256.Size || !bytes.Equal(hash, sum[:]) {
		return nil, errors.New("snapshot.json does not describe this snapshot")
	}
	return &core.Snapshot{Height: m.Height, Format: m.Format, Chunks: m.Chunks, Hash: hash, Metadata: meta}, nil
}

// Snapshots implements core.SnapshotSource.
func (a *App) Snapshots(context.Context) ([]core.Snapshot, error) {
	if a.snaps == nil {
		return nil, nil
	}
	a.snaps.mu.Lock()
	defer a.snaps.mu.Unlock()
	return slices.Clone(a.snaps.list), nil
}

// SnapshotChunk implements core.SnapshotSource.
func (a *App) SnapshotChunk(_ context.Context, height uint64, format, index uint32) ([]byte, error) {
	if a.snaps == nil || format != state.ChunkFormat {
		return nil, nil
	}
	a.snaps.mu.Lock()
	i := slices.IndexFunc(a.snaps.list, func(s core.Snapshot) bool { return s.Height == height })
	ok := i >= 0 && index < a.snaps.list[i].Chunks
	a.snaps.mu.Unlock()
	if !ok {
		return nil, nil
	}
	b, err := readBounded(filepath.Join(a.snaps.cfg.Dir, strconv.FormatUint(height, 10), strconv.FormatUint(uint64(index), 10)), state.MaxChunkBytes)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // pruned meanwhile
	}
	return b, err
}

// RestoreOffer implements core.SnapshotRestorer: it accepts a snapshot
// of the format it knows, whose metadata lists its chunks' hashes and
// hashes to its hash, for an empty state.
func (a *App) RestoreOffer(_ context.Context, s core.Snapshot, appHash []byte) (core.OfferResult, error) {
	if a.snaps == nil {
		return core.OfferAbort, nil
	}
	r := a.snaps
	r.rmu.Lock()
	defer r.rmu.Unlock()
	if r.restore != nil { // a snapshot offered again, or another
		if err := r.restore.Abort(); err != nil {
			return 0, err
		}
		r.restore = nil
	}
	sum := sha256.Sum256(s.Metadata)
	switch {
	case s.Format != state.ChunkFormat:
		return core.OfferRejectFormat, nil
	case s.Height < 1 || s.Height > math.MaxInt64 || s.Chunks < 1 || s.Chunks > state.MaxChunks ||
		len(s.Metadata) != int(s.Chunks)*sha256.Size || !bytes.Equal(s.Hash, sum[:]) || len(appHash) != sha256.Size:
		r.log.Warn("refused a snapshot that does not describe itself", "height", s.Height, "chunks", s.Chunks)
		return core.OfferReject, nil
	}
	info := state.ExportInfo{Version: int64(s.Height), Root: bytes.Clone(appHash)} //nolint:gosec // checked above
	for i := range int(s.Chunks) {
		info.Chunks = append(info.Chunks, [32]byte(s.Metadata[i*sha256.Size:]))
	}
	im, err := r.st.BeginImport(info)
	if errors.Is(err, state.ErrNotEmpty) {
		r.log.Error("a snapshot offered to a node that has state", "err", err)
		return core.OfferAbort, nil
	}
	if err != nil {
		return 0, err
	}
	r.restore, r.offered, r.senders = im, s, nil
	r.log.Info("restoring a snapshot", "height", s.Height, "chunks", s.Chunks)
	return core.OfferAccept, nil
}

// The reasons a restore refuses what a peer sent, as its log names them
// (the "reason" attribute).
const (
	// RefusedChunkHash: a chunk that is not the one the snapshot's list
	// of chunk hashes names (or larger than any chunk), refused before
	// any of it is decoded; it is fetched again from another peer, and
	// its sender's chunks are not used again.
	RefusedChunkHash = "snapshot-chunk-hash"
	// RefusedSnapshot: chunks that match the snapshot's list but do not
	// decode, break the tree's shape (refused at the first bad node, a
	// node at a time), or rebuild another root than the trusted app
	// hash: the snapshot is rejected, with every peer that sent a chunk
	// of it, and the engine tries another.
	RefusedSnapshot = "snapshot-bad-state"
)

// RestoreChunk implements core.SnapshotRestorer.
func (a *App) RestoreChunk(_ context.Context, index uint32, chunk []byte, sender string) (core.ApplyResult, error) {
	if a.snaps == nil {
		return core.ApplyResult{Outcome: core.ApplyAbort}, nil
	}
	r := a.snaps
	r.rmu.Lock()
	defer r.rmu.Unlock()
	if r.restore == nil {
		return core.ApplyResult{Outcome: core.ApplyRetrySnapshot}, nil
	}
	err := r.restore.Add(index, chunk)
	switch {
	case err == nil:
		if sender != "" && !slices.Contains(r.senders, sender) {
			r.senders = append(r.senders, sender)
		}
		if r.restore.Done() {
			r.log.Info("state restored from a snapshot", "height", r.offered.Height, "root", hex.EncodeToString(r.st.Hash()))
			r.restore, r.senders = nil, nil
			if r.cfg.Restored != nil {
				r.cfg.Restored(r.st.Version())
			}
		}
		return core.ApplyResult{Outcome: core.ApplyAccept}, nil
	case errors.Is(err, state.ErrChunkHash), errors.Is(err, state.ErrChunkTooLarge):
		r.log.Warn("refused a chunk that does not verify: fetching it from another peer", "reason", RefusedChunkHash,
			"index", index, "sender", sender)
		out := core.ApplyResult{Outcome: core.ApplyRetry, Refetch: []uint32{index}}
		if sender != "" {
			out.RejectSenders = []string{sender}
		}
		return out, nil
	case errors.Is(err, state.ErrChunkOrder):
		r.log.Warn("a chunk out of order: restoring the snapshot again", "index", index, "next", r.restore.Next())
		if err := r.restore.Abort(); err != nil {
			return core.ApplyResult{}, err
		}
		r.restore, r.senders = nil, nil
		return core.ApplyResult{Outcome: core.ApplyRetrySnapshot}, nil
	case errors.Is(err, state.ErrBadExport):
		// The chunks matched the snapshot's list of them, so the list
		// lies: every peer that sent a chunk of it offered it.
		if sender != "" && !slices.Contains(r.senders, sender) {
			r.senders = append(r.senders, sender)
		}
		r.log.Warn("refused a snapshot whose chunks do not rebuild the trusted state: trying another", "reason", RefusedSnapshot,
			"height", r.offered.Height, "senders", r.senders, "err", err)
		out := core.ApplyResult{Outcome: core.ApplyRejectSnapshot, RejectSenders: r.senders}
		r.restore, r.senders = nil, nil // the import emptied the store
		return out, nil
	}
	return core.ApplyResult{}, err
}

// writeSynced writes b to a new file at path and syncs it.
func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(filepath.Clean(path), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	return errors.Join(err, f.Sync(), f.Close())
}

// readBounded reads a file of at most limit bytes.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(filepath.Clean(path))
	if err != nil {
		return nil, err
	}
	defer f.Close() //nolint:errcheck // read only
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return b, nil
}

package registry

import (
	"bytes"
	"crypto/sha256"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/ledger/core"
	"github.com/bias-iot/bias/internal/state"
	"github.com/bias-iot/bias/internal/state/statetest"
)

// snapChain is a chain that takes a snapshot every 3 heights, keeps 2, in
// small chunks, with some devices registered in each block; blocks holds
// the operations of each height, times its time.
func snapChain(t *testing.T) (c *chain, dir string, blocks map[int64][][]byte, times map[int64]time.Time) {
	t.Helper()
	appState, ps := genesis(t, 1)
	c = newChain(t, appState)
	dir = filepath.Join(t.TempDir(), "snapshots")
	blocks, times = map[int64][][]byte{}, map[int64]time.Time{}
	if err := c.app.EnableSnapshots(SnapshotConfig{Dir: dir, Interval: 3, Keep: 2, ChunkBytes: state.MinChunkBytes}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.app.StopSnapshots)
	for range 7 {
		var txs [][]byte
		for range 8 {
			tx, _, _ := register(t, ps[0].kid.Base(), cose.AlgEdDSA)
			txs = append(txs, tx)
		}
		res, _ := c.block(txs...)
		blocks[c.height], times[c.height] = txs, c.time
		for _, r := range res {
			if r.Code != 0 {
				t.Fatalf("register: %s", r.Log)
			}
		}
		c.app.snaps.wg.Wait() // one export at a time, as a test goes
	}
	return c, dir, blocks, times
}

// restorer is an empty application ready to restore.
func restorer(t *testing.T) *App {
	t.Helper()
	a := New(network, statetest.Open(t), slog.New(slog.DiscardHandler))
	if err := a.EnableSnapshots(SnapshotConfig{Dir: filepath.Join(t.TempDir(), "snapshots")}); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestSnapshotRestore: the application takes a snapshot every Interval
// heights and keeps the latest Keep on disk; a new application restores
// the newest chunk by chunk, and then holds the source's state at that
// height byte for byte (the root), answers Info with it, and applies the
// next block to the same app hash as the source.
func TestSnapshotRestore(t *testing.T) {
	t.Parallel()
	c, dir, blocks, times := snapChain(t)
	ctx := t.Context()
	list, err := c.app.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Heights 3 and 6 (block 1 is newChain's), 6 first.
	if len(list) != 2 || list[0].Height != 6 || list[1].Height != 3 || list[0].Chunks < 3 {
		t.Fatalf("snapshots: %+v", list)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 2 {
		t.Fatalf("%d snapshot directories: %v", len(entries), err)
	}
	snap := list[0]
	at, err := c.st.At(int64(snap.Height))
	if err != nil {
		t.Fatal(err)
	}
	dst := restorer(t)
	var restored int64
	dst.snaps.cfg.Restored = func(h int64) { restored = h }
	if r, err := dst.RestoreOffer(ctx, snap, at.Hash()); err != nil || r != core.OfferAccept {
		t.Fatalf("offer: %v %v", r, err)
	}
	for i := range snap.Chunks {
		chunk, err := c.app.SnapshotChunk(ctx, snap.Height, snap.Format, i)
		if err != nil || len(chunk) == 0 || len(chunk) > state.MinChunkBytes {
			t.Fatalf("chunk %d: %d bytes, %v", i, len(chunk), err)
		}
		if r, err := dst.RestoreChunk(ctx, i, chunk, "peer-a"); err != nil || r.Outcome != core.ApplyAccept {
			t.Fatalf("chunk %d: %+v %v", i, r, err)
		}
	}
	if restored != int64(snap.Height) {
		t.Fatalf("Restored was told of height %d", restored)
	}
	if dst.st.Version() != int64(snap.Height) || !bytes.Equal(dst.st.Hash(), at.Hash()) {
		t.Fatalf("after the restore: version %d root %x", dst.st.Version(), dst.st.Hash())
	}
	// Every key and value.
	var src, got [][]byte
	for _, x := range []struct {
		s   *state.Snapshot
		out *[][]byte
	}{{at, &src}, {dst.st.Latest(), &got}} {
		if err := x.s.Iterate(nil, nil, func(k, v []byte) bool {
			*x.out = append(*x.out, append(append(bytes.Clone(k), '='), v...))
			return true
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(src) < 40 || len(src) != len(got) {
		t.Fatalf("%d keys restored of %d", len(got), len(src))
	}
	for i := range src {
		if !bytes.Equal(src[i], got[i]) {
			t.Fatalf("key %d: %q, not %q", i, got[i], src[i])
		}
	}
	// The block after the snapshot, applied here, gives the source's app
	// hash.
	h := int64(snap.Height) + 1
	after := &chain{t: t, app: dst, st: dst.st, height: h - 1, time: times[h].Add(-time.Second)}
	_, appHash := after.block(blocks[h]...)
	next, err := c.st.At(h)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(appHash, next.Hash()) {
		t.Fatalf("the block after the snapshot: %x here, %x at the source", appHash, next.Hash())
	}

	// A restart reads the snapshots back, and drops an unfinished one.
	c.app.StopSnapshots()
	if err := os.Mkdir(filepath.Join(dir, "9.tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	again := New(network, c.st, slog.New(slog.DiscardHandler))
	if err := again.EnableSnapshots(SnapshotConfig{Dir: dir, Interval: 3, Keep: 2}); err != nil {
		t.Fatal(err)
	}
	relisted, _ := again.Snapshots(ctx)
	if len(relisted) != 2 || !bytes.Equal(relisted[0].Hash, snap.Hash) {
		t.Fatalf("after a restart: %+v", relisted)
	}
	if _, err := os.Stat(filepath.Join(dir, "9.tmp")); !os.IsNotExist(err) {
		t.Fatalf("an unfinished snapshot stayed: %v", err)
	}
}

// TestSnapshotRefusals: snapshots that do not describe themselves, of
// another format, or offered to a node with state are refused; a chunk
// that does not verify is fetched again from another peer and its sender
// rejected; a snapshot whose chunks do not rebuild the trusted app hash
// is rejected, and the state stays empty.
func TestSnapshotRefusals(t *testing.T) {
	t.Parallel()
	c, _, _, _ := snapChain(t)
	ctx := t.Context()
	list, _ := c.app.Snapshots(ctx)
	snap := list[0]
	at, err := c.st.At(int64(snap.Height))
	if err != nil {
		t.Fatal(err)
	}
	root := at.Hash()
	chunk := func(i uint32) []byte {
		b, err := c.app.SnapshotChunk(ctx, snap.Height, snap.Format, i)
		if err != nil || b == nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		return b
	}
	if b, err := c.app.SnapshotChunk(ctx, snap.Height, snap.Format, snap.Chunks); b != nil || err != nil {
		t.Fatalf("a chunk past the last: %d bytes, %v", len(b), err)
	}
	if b, err := c.app.SnapshotChunk(ctx, 4, snap.Format, 0); b != nil || err != nil {
		t.Fatalf("a chunk of a height without a snapshot: %d bytes, %v", len(b), err)
	}

	for _, tc := range []struct {
		name string
		snap func(s core.Snapshot) core.Snapshot
		hash []byte
		want core.OfferResult
	}{
		{"fail/format", func(s core.Snapshot) core.Snapshot { s.Format = 2; return s }, root, core.OfferRejectFormat},
		{"fail/hash", func(s core.Snapshot) core.Snapshot { s.Hash = bytes.Repeat([]byte{1}, 32); return s }, root, core.OfferReject},
		{"fail/chunk-count", func(s core.Snapshot) core.Snapshot { s.Chunks++; return s }, root, core.OfferReject},
		{"fail/too-many-chunks", func(s core.Snapshot) core.Snapshot { s.Chunks = state.MaxChunks + 1; return s }, root, core.OfferReject},
		{"fail/height-zero", func(s core.Snapshot) core.Snapshot { s.Height = 0; return s }, root, core.OfferReject},
		{"fail/app-hash", func(s core.Snapshot) core.Snapshot { return s }, []byte{1, 2}, core.OfferReject},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := restorer(t)
			if r, err := dst.RestoreOffer(ctx, tc.snap(snap), tc.hash); err != nil || r != tc.want {
				t.Fatalf("got %v %v, want %v", r, err, tc.want)
			}
		})
	}
	t.Run("fail/has-state", func(t *testing.T) {
		if r, err := c.app.RestoreOffer(ctx, snap, root); err != nil || r != core.OfferAbort {
			t.Fatalf("got %v %v", r, err)
		}
	})
	t.Run("fail/chunk-before-offer", func(t *testing.T) {
		if r, err := restorer(t).RestoreChunk(ctx, 0, chunk(0), "peer-a"); err != nil || r.Outcome != core.ApplyRetrySnapshot {
			t.Fatalf("got %+v %v", r, err)
		}
	})
	t.Run("fail/tampered-chunk", func(t *testing.T) {
		dst := restorer(t)
		if r, _ := dst.RestoreOffer(ctx, snap, root); r != core.OfferAccept {
			t.Fatal(r)
		}
		if r, err := dst.RestoreChunk(ctx, 0, chunk(0), "peer-a"); err != nil || r.Outcome != core.ApplyAccept {
			t.Fatalf("%+v %v", r, err)
		}
		bad := bytes.Clone(chunk(1))
		bad[0] ^= 1
		r, err := dst.RestoreChunk(ctx, 1, bad, "peer-b")
		if err != nil || r.Outcome != core.ApplyRetry || len(r.Refetch) != 1 || r.Refetch[0] != 1 || len(r.RejectSenders) != 1 || r.RejectSenders[0] != "peer-b" {
			t.Fatalf("a tampered chunk: %+v %v", r, err)
		}
		for i := uint32(1); i < snap.Chunks; i++ { // from an honest peer
			if r, err := dst.RestoreChunk(ctx, i, chunk(i), "peer-a"); err != nil || r.Outcome != core.ApplyAccept {
				t.Fatalf("chunk %d: %+v %v", i, r, err)
			}
		}
		if !bytes.Equal(dst.st.Hash(), root) {
			t.Fatal("not restored")
		}
	})
	t.Run("fail/out-of-order", func(t *testing.T) {
		dst := restorer(t)
		if r, _ := dst.RestoreOffer(ctx, snap, root); r != core.OfferAccept {
			t.Fatal(r)
		}
		if r, err := dst.RestoreChunk(ctx, 1, chunk(1), "peer-a"); err != nil || r.Outcome != core.ApplyRetrySnapshot {
			t.Fatalf("%+v %v", r, err)
		}
	})
	t.Run("fail/untrusted-root", func(t *testing.T) {
		dst := restorer(t)
		other := bytes.Repeat([]byte{7}, 32) // the header the light client trusts says another state
		if r, _ := dst.RestoreOffer(ctx, snap, other); r != core.OfferAccept {
			t.Fatal(r)
		}
		var last core.ApplyResult
		for i := range snap.Chunks {
			var err error
			if last, err = dst.RestoreChunk(ctx, i, chunk(i), "peer-a"); err != nil {
				t.Fatal(err)
			}
		}
		if last.Outcome != core.ApplyRejectSnapshot || dst.st.Version() != 0 {
			t.Fatalf("a snapshot of another state: %+v, version %d", last, dst.st.Version())
		}
		// The true one restores next.
		if r, _ := dst.RestoreOffer(ctx, snap, root); r != core.OfferAccept {
			t.Fatal(r)
		}
		for i := range snap.Chunks {
			if r, err := dst.RestoreChunk(ctx, i, chunk(i), "peer-a"); err != nil || r.Outcome != core.ApplyAccept {
				t.Fatalf("chunk %d: %+v %v", i, r, err)
			}
		}
		if dst.st.Version() != int64(snap.Height) {
			t.Fatalf("version %d", dst.st.Version())
		}
	})
	t.Run("fail/lying-snapshot", func(t *testing.T) {
		// A snapshot whose list of chunk hashes names a tampered chunk
		// (its peers made the list): each chunk matches the list, so the
		// lie shows in the tree; the snapshot is rejected with every
		// peer that sent a chunk of it, and an honest one restores next.
		dst := restorer(t)
		chunks := make([][]byte, snap.Chunks)
		for i := range snap.Chunks {
			chunks[i] = chunk(i)
		}
		chunks[1] = bytes.Clone(chunks[1])
		chunks[1][len(chunks[1])-1] ^= 1 // the last byte of the last value
		lie := snap
		lie.Metadata = nil
		for _, c := range chunks {
			h := sha256.Sum256(c)
			lie.Metadata = append(lie.Metadata, h[:]...)
		}
		sum := sha256.Sum256(lie.Metadata)
		lie.Hash = sum[:]
		if r, _ := dst.RestoreOffer(ctx, lie, root); r != core.OfferAccept {
			t.Fatal(r)
		}
		var last core.ApplyResult
		for i := range snap.Chunks {
			var err error
			if last, err = dst.RestoreChunk(ctx, i, chunks[i], []string{"peer-a", "peer-b"}[i%2]); err != nil {
				t.Fatal(err)
			}
			if last.Outcome != core.ApplyAccept {
				break
			}
		}
		if last.Outcome != core.ApplyRejectSnapshot || !slices.Equal(last.RejectSenders, []string{"peer-a", "peer-b"}) || dst.st.Version() != 0 {
			t.Fatalf("a lying snapshot: %+v, version %d", last, dst.st.Version())
		}
		if r, _ := dst.RestoreOffer(ctx, snap, root); r != core.OfferAccept {
			t.Fatal(r)
		}
		for i := range snap.Chunks {
			if r, err := dst.RestoreChunk(ctx, i, chunk(i), "peer-c"); err != nil || r.Outcome != core.ApplyAccept {
				t.Fatalf("chunk %d: %+v %v", i, r, err)
			}
		}
		if !bytes.Equal(dst.st.Hash(), root) {
			t.Fatal("the honest snapshot did not restore")
		}
	})
}

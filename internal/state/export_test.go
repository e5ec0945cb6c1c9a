package state

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"github.com/cosmos/iavl"
	ics23 "github.com/cosmos/ics23/go"
)

// fill writes versions of keys into a new store: sets, overwrites and
// deletes over several commits, so that the export holds nodes of many
// versions.
func fill(t *testing.T, keys, versions int) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	for v := range versions {
		for i := v; i < keys; i += 1 + v%3 {
			if err := s.Set(fmt.Appendf(nil, "key/%05d", i), fmt.Appendf(nil, "value %d of %d", v, i)); err != nil {
				t.Fatal(err)
			}
		}
		if v > 0 {
			if err := s.Delete(fmt.Appendf(nil, "key/%05d", v*7%keys)); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := s.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// export exports version v in chunks of chunkBytes.
func export(t *testing.T, s *Store, v int64, chunkBytes int) (*ExportInfo, [][]byte) {
	t.Helper()
	var chunks [][]byte
	info, err := s.Export(v, chunkBytes, func(c []byte) error {
		chunks = append(chunks, bytes.Clone(c))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return info, chunks
}

func emptyStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func importAll(s *Store, info *ExportInfo, chunks [][]byte) error {
	im, err := s.BeginImport(*info)
	if err != nil {
		return err
	}
	for i, c := range chunks {
		if err := im.Add(uint32(i), c); err != nil { //nolint:gosec // a test's few chunks
			return err
		}
	}
	if !im.Done() {
		return errors.New("not done after the last chunk")
	}
	return nil
}

// sameState fails unless a and b hold the same keys and values at their
// latest versions, read from the tree (Iterate) and the index (Get).
func sameState(t *testing.T, a, b *Store) {
	t.Helper()
	if a.Version() != b.Version() || !bytes.Equal(a.Hash(), b.Hash()) {
		t.Fatalf("version %d root %x, not %d %x", b.Version(), b.Hash(), a.Version(), a.Hash())
	}
	var ka, kb [][]byte
	collect := func(s *Store, out *[][]byte) {
		if err := s.Latest().Iterate(nil, nil, func(k, v []byte) bool {
			*out = append(*out, append(bytes.Clone(k), v...))
			got, err := s.Latest().Get(k)
			if err != nil || !bytes.Equal(got, v) {
				t.Errorf("key %q: the index says %q %v, the tree %q", k, got, err, v)
			}
			return true
		}); err != nil {
			t.Fatal(err)
		}
	}
	collect(a, &ka)
	collect(b, &kb)
	if len(ka) != len(kb) || len(ka) == 0 {
		t.Fatalf("%d keys, not %d", len(kb), len(ka))
	}
	for i := range ka {
		if !bytes.Equal(ka[i], kb[i]) {
			t.Fatalf("entry %d: %q, not %q", i, kb[i], ka[i])
		}
	}
	if b.index.version.Load() != b.Version() {
		t.Fatalf("the index is at %d, the tree at %d", b.index.version.Load(), b.Version())
	}
}

// TestExportImport: an export of a version, imported into an empty
// store, gives the same root and every key and value; the latest-value
// index is rebuilt; proofs from the import verify against the root; the
// import goes on committing; the export is deterministic and its chunks
// bounded.
func TestExportImport(t *testing.T) {
	t.Parallel()
	src := fill(t, 3000, 6)
	const chunkBytes = MinChunkBytes
	info, chunks := export(t, src, src.Version(), chunkBytes)
	if len(chunks) < 10 || len(chunks) != len(info.Chunks) || !bytes.Equal(info.Root, src.Hash()) {
		t.Fatalf("%d chunks, %d hashes, root %x", len(chunks), len(info.Chunks), info.Root)
	}
	for i, c := range chunks {
		if len(c) > chunkBytes || sha256.Sum256(c) != info.Chunks[i] {
			t.Fatalf("chunk %d: %d bytes, hash listed %v", i, len(c), sha256.Sum256(c) == info.Chunks[i])
		}
	}
	again, chunks2 := export(t, src, src.Version(), chunkBytes)
	if fmt.Sprint(again.Chunks) != fmt.Sprint(info.Chunks) || len(chunks2) != len(chunks) {
		t.Fatal("two exports of one version differ")
	}

	dst := emptyStore(t)
	if err := importAll(dst, info, chunks); err != nil {
		t.Fatal(err)
	}
	sameState(t, src, dst)
	k := []byte("key/00042")
	v, p, err := dst.Latest().Prove(k)
	if err != nil || v == nil || !ics23.VerifyMembership(ics23.IavlSpec, dst.Hash(), p, k, v) {
		t.Fatalf("proof of %q from the import: %v", k, err)
	}
	if _, err := dst.At(dst.Version() - 1); !errors.Is(err, ErrPruned) {
		t.Fatalf("a version before the import: %v", err)
	}
	// Both go on alike.
	for _, s := range []*Store{src, dst} {
		if err := s.Set([]byte("key/new"), []byte("after")); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete([]byte("key/00042")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	sameState(t, src, dst)
}

// TestExportPastVersion exports a version below the latest: the import
// holds that version's state.
func TestExportPastVersion(t *testing.T) {
	t.Parallel()
	src := fill(t, 500, 5)
	info, chunks := export(t, src, 3, 4096)
	dst := emptyStore(t)
	if err := importAll(dst, info, chunks); err != nil {
		t.Fatal(err)
	}
	at3, err := src.At(3)
	if err != nil {
		t.Fatal(err)
	}
	if dst.Version() != 3 || !bytes.Equal(dst.Hash(), at3.Hash()) {
		t.Fatalf("version %d %x, not 3 %x", dst.Version(), dst.Hash(), at3.Hash())
	}
}

// TestImportUnchangedVersion: the export of a version whose block wrote
// nothing holds a root of the version before; the import answers for
// that version with the same root (the same state), for none older.
func TestImportUnchangedVersion(t *testing.T) {
	t.Parallel()
	src := fill(t, 300, 3)
	if _, _, err := src.Commit(); err != nil { // an empty block
		t.Fatal(err)
	}
	info, chunks := export(t, src, src.Version(), MinChunkBytes)
	dst := emptyStore(t)
	if err := importAll(dst, info, chunks); err != nil {
		t.Fatal(err)
	}
	sameState(t, src, dst)
	prev := src.Version() - 1
	if got := mustHash(t, dst, prev); !bytes.Equal(got, mustHash(t, src, prev)) {
		t.Fatalf("version %d: %x, not %x", prev, got, mustHash(t, src, prev))
	}
	if _, err := dst.At(1); !errors.Is(err, ErrNoVersion) {
		t.Fatalf("version 1 after the import: %v", err)
	}
}

func mustHash(t *testing.T, s *Store, v int64) []byte {
	t.Helper()
	snap, err := s.At(v)
	if err != nil {
		t.Fatal(err)
	}
	return snap.Hash()
}

// TestImportRefusals: chunks out of order, missing, tampered or too large
// are refused and the import waits for the right one; an export that
// lies (a listed chunk that does not decode, a tree of the wrong shape,
// another root) ends the import and leaves the store empty; a store that
// holds a version refuses an import.
func TestImportRefusals(t *testing.T) {
	t.Parallel()
	src := fill(t, 800, 3)
	info, chunks := export(t, src, src.Version(), MinChunkBytes)
	if len(chunks) < 4 {
		t.Fatalf("%d chunks", len(chunks))
	}
	tampered := bytes.Clone(chunks[1])
	tampered[len(tampered)/2] ^= 1

	// Refused chunks: the import goes on with the right ones.
	for _, tc := range []struct {
		name  string
		index uint32
		chunk []byte
		want  error
	}{
		{"fail/out-of-order", 2, chunks[2], ErrChunkOrder},
		{"fail/missing-chunk", 3, chunks[3], ErrChunkOrder},
		{"fail/replayed-chunk", 0, chunks[0], ErrChunkOrder},
		{"fail/tampered-chunk", 1, tampered, ErrChunkHash},
		{"fail/other-chunk", 1, chunks[2], ErrChunkHash},
		{"fail/too-large", 1, make([]byte, MaxChunkBytes+1), ErrChunkTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := emptyStore(t)
			im, err := dst.BeginImport(*info)
			if err != nil {
				t.Fatal(err)
			}
			if err := im.Add(0, chunks[0]); err != nil {
				t.Fatal(err)
			}
			if err := im.Add(tc.index, tc.chunk); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if im.Next() != 1 || dst.Version() != 0 {
				t.Fatalf("next %d, version %d", im.Next(), dst.Version())
			}
			for i := 1; i < len(chunks); i++ {
				if err := im.Add(uint32(i), chunks[i]); err != nil { //nolint:gosec // a test's few chunks
					t.Fatal(err)
				}
			}
			sameState(t, src, dst)
		})
	}

	// Exports that lie, with a hash list that matches what is sent.
	relist := func(cs [][]byte) *ExportInfo {
		out := &ExportInfo{Version: info.Version, Root: info.Root}
		for _, c := range cs {
			out.Chunks = append(out.Chunks, sha256.Sum256(c))
		}
		return out
	}
	nodes := func(c []byte) []*iavl.ExportNode {
		ns, err := decodeChunk(c, info.Version)
		if err != nil {
			t.Fatal(err)
		}
		return ns
	}
	encode := func(ns []*iavl.ExportNode) []byte {
		var b []byte
		for _, n := range ns {
			var err error
			if b, err = appendNode(b, n); err != nil {
				t.Fatal(err)
			}
		}
		return b
	}
	// An inner node whose key is not its right subtree's first: the
	// root hash does not cover inner keys, lookups would go astray.
	var lyingKey [][]byte
	changed := false
	for _, c := range chunks {
		ns := nodes(c)
		for _, n := range ns {
			if n.Height > 0 && !changed {
				n.Key = append(bytes.Clone(n.Key), 0)
				changed = true
			}
		}
		lyingKey = append(lyingKey, encode(ns))
	}
	swapped := append([][]byte{chunks[1], chunks[0]}, chunks[2:]...)
	otherValue := append([][]byte(nil), chunks...)
	ns := nodes(chunks[0])
	ns[0].Value = []byte("not the value")
	otherValue[0] = encode(ns)
	garbage := append([][]byte{{0xff, 0xff}}, chunks[1:]...)
	// Leaves alone (no inner node): a stack an importer would grow
	// without bound.
	var leaves []*iavl.ExportNode
	for _, c := range chunks {
		for _, n := range nodes(c) {
			if n.Height == 0 {
				leaves = append(leaves, n)
			}
		}
	}
	leavesOnly := [][]byte{encode(leaves)}
	wrongRoot := *info
	wrongRoot.Root = bytes.Repeat([]byte{1}, 32)
	for _, tc := range []struct {
		name   string
		info   *ExportInfo
		chunks [][]byte
	}{
		{"fail/undecodable-chunk", relist(garbage), garbage},
		{"fail/inner-key-lies", relist(lyingKey), lyingKey},
		{"fail/chunks-swapped", relist(swapped), swapped},
		{"fail/other-value", relist(otherValue), otherValue},
		{"fail/truncated", relist(chunks[:len(chunks)-1]), chunks[:len(chunks)-1]},
		{"fail/wrong-root", &wrongRoot, chunks},
		{"fail/leaves-only", relist(leavesOnly), leavesOnly},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := emptyStore(t)
			if err := importAll(dst, tc.info, tc.chunks); !errors.Is(err, ErrBadExport) {
				t.Fatalf("got %v, want ErrBadExport", err)
			}
			if dst.Version() != 0 {
				t.Fatalf("version %d after a refused import", dst.Version())
			}
			// Emptied: the true export imports next.
			if err := importAll(dst, info, chunks); err != nil {
				t.Fatal(err)
			}
			sameState(t, src, dst)
		})
	}

	t.Run("fail/not-empty", func(t *testing.T) {
		if _, err := src.BeginImport(*info); !errors.Is(err, ErrNotEmpty) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("fail/no-version", func(t *testing.T) {
		if _, err := src.Export(src.Version()+1, MinChunkBytes, func([]byte) error { return nil }); !errors.Is(err, ErrNoVersion) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("fail/chunk-size", func(t *testing.T) {
		if _, err := src.Export(src.Version(), MinChunkBytes-1, func([]byte) error { return nil }); err == nil {
			t.Fatal("a chunk size below the least was taken")
		}
	})
}

// TestImportUnfinished: a store closed during an import (the process
// stopped) opens empty, and imports again.
func TestImportUnfinished(t *testing.T) {
	t.Parallel()
	src := fill(t, 800, 3)
	info, chunks := export(t, src, src.Version(), MinChunkBytes)
	dir := t.TempDir()
	dst, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := dst.BeginImport(*info)
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(chunks) - 1 {
		if err := im.Add(uint32(i), chunks[i]); err != nil { //nolint:gosec // a test's few chunks
			t.Fatal(err)
		}
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	dst, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dst.Close() })
	if dst.Version() != 0 {
		t.Fatalf("version %d", dst.Version())
	}
	if err := importAll(dst, info, chunks); err != nil {
		t.Fatal(err)
	}
	sameState(t, src, dst)
}

// TestExportHoldsVersion: a version being exported is not pruned by the
// commits that go on meanwhile.
func TestExportHoldsVersion(t *testing.T) {
	t.Parallel()
	s, err := Open(t.TempDir(), WithKeepVersions(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	commit := func(i int) {
		if err := s.Set(fmt.Appendf(nil, "key/%d", i%50), fmt.Appendf(nil, "v%d", i)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		commit(i)
	}
	v, root := s.Version(), s.Hash()
	commits := 0
	info, err := s.Export(v, MinChunkBytes, func([]byte) error {
		for range 5 { // blocks commit while the export reads
			commit(100 + commits)
			commits++
		}
		return nil
	})
	if err != nil || commits == 0 || !bytes.Equal(info.Root, root) {
		t.Fatalf("export during %d commits: %v", commits, err)
	}
	if s.first.Load() > v {
		t.Fatalf("version %d pruned during its export (first %d)", v, s.first.Load())
	}
	commit(999)
	if s.first.Load() <= v {
		t.Fatalf("version %d still held after its export (first %d)", v, s.first.Load())
	}
}

// FuzzDecodeChunk: the chunk decoder never panics, and what it takes
// re-encodes to the same bytes (one encoding per chunk).
func FuzzDecodeChunk(f *testing.F) {
	s, err := Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close() //nolint:errcheck // a test store
	for i := range 40 {
		if err := s.Set(fmt.Appendf(nil, "k%d", i), fmt.Appendf(nil, "v%d", i)); err != nil {
			f.Fatal(err)
		}
	}
	if _, _, err := s.Commit(); err != nil {
		f.Fatal(err)
	}
	if _, err := s.Export(1, MinChunkBytes, func(c []byte) error { f.Add(bytes.Clone(c)); return nil }); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{0, 1, 1, 'k', 0})
	f.Add([]byte{1, 0x81, 0, 1, 'k'})
	f.Fuzz(func(t *testing.T, b []byte) {
		ns, err := decodeChunk(b, 1)
		if err != nil {
			return
		}
		var out []byte
		for _, n := range ns {
			if out, err = appendNode(out, n); err != nil {
				t.Fatalf("decoded node does not encode: %v", err)
			}
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("re-encoded %x, read %x", out, b)
		}
	})
}

// decodeChunk decodes a whole chunk (the tests' view of chunkReader).
func decodeChunk(b []byte, maxVersion int64) ([]*iavl.ExportNode, error) {
	r, err := newChunkReader(b, maxVersion)
	if err != nil {
		return nil, err
	}
	var out []*iavl.ExportNode
	for {
		n, err := r.next()
		if err != nil {
			return nil, err
		}
		if n == nil {
			return out, nil
		}
		out = append(out, n)
	}
}

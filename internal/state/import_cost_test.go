package state

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
)

// TestImportChunkCost measures what a chunk that lies costs the node
// that imports it, in allocations beyond those of an import begun and
// abandoned (the same run's baseline). Not parallel: AllocsPerRun counts
// the whole process's allocations.
//
//   - fail/wrong-hash: a full-size chunk that is not the one the
//     snapshot's list names is refused before any of it is decoded;
//   - fail/lying-snapshot: a full-size chunk that matches a lying
//     snapshot's list (its sender made the list) and breaks the tree's
//     shape at its second node is refused there, without decoding the
//     2.5 million nodes after it (decoding the whole chunk first cost
//     about 12.6 million allocations and 290 MB).
func TestImportChunkCost(t *testing.T) {
	src := fill(t, 50, 1)
	info, chunks := export(t, src, src.Version(), MinChunkBytes)
	dst := emptyStore(t)

	// 5-byte leaves (height 0, version 1, a 1-byte key, an empty
	// value): 'b', then 'a' (out of order), then 'c' to the chunk's end.
	big := make([]byte, 0, MaxChunkBytes)
	big = append(big, 0, 1, 1, 'b', 0, 0, 1, 1, 'a', 0)
	for len(big)+5 <= MaxChunkBytes {
		big = append(big, 0, 1, 1, 'c', 0)
	}
	lying := ExportInfo{Version: 1, Root: bytes.Repeat([]byte{7}, 32), Chunks: [][32]byte{sha256.Sum256(big)}}

	begin := func(info ExportInfo) *Import {
		im, err := dst.BeginImport(info)
		if err != nil {
			t.Fatal(err)
		}
		return im
	}
	baseline := testing.AllocsPerRun(3, func() {
		if err := begin(*info).Abort(); err != nil {
			t.Fatal(err)
		}
	})
	for _, tc := range []struct {
		name  string
		info  ExportInfo
		want  error
		extra float64 // allocations allowed beyond the baseline
	}{
		{"fail/wrong-hash", *info, ErrChunkHash, 20},
		{"fail/lying-snapshot", lying, ErrBadExport, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			allocs := testing.AllocsPerRun(3, func() {
				im := begin(tc.info)
				err = im.Add(0, big)
				if errors.Is(err, ErrChunkHash) { // the import waits still
					err = errors.Join(err, im.Abort())
				}
			})
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if dst.Version() != 0 {
				t.Fatalf("the store holds version %d after a refused chunk", dst.Version())
			}
			if allocs-baseline > tc.extra {
				t.Fatalf("%.0f allocations for a refused chunk of %d bytes (an abandoned import: %.0f)", allocs, len(big), baseline)
			}
			t.Logf("%s: %.0f allocations, %.0f for an abandoned import", tc.name, allocs, baseline)
		})
	}
	if len(chunks) == 0 || bytes.Equal(chunks[0], big) {
		t.Fatal("the honest export is the lying chunk")
	}
}

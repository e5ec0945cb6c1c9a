package state

import (
	crand "crypto/rand"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// treeBytesPerKey writes 100 versions of 500 new keys (40 random bytes,
// 150-byte values: about a device's record), or with BIAS_BENCH_BIG set
// 50 versions of 2000 (as bulk enrollments write), to a store that keeps
// keep versions, compacts its tree's leveldb, and returns its bytes per
// key.
func treeBytesPerKey(b *testing.B, keep int64) float64 {
	dir := b.TempDir()
	s, err := Open(dir, WithKeepVersions(keep))
	if err != nil {
		b.Fatal(err)
	}
	versions, per := 100, 500
	if os.Getenv("BIAS_BENCH_BIG") != "" {
		versions, per = 50, 2000
	}
	for range versions {
		for range per {
			k := make([]byte, 40)
			_, _ = crand.Read(k)
			if err := s.Set(k, make([]byte, 150)); err != nil {
				b.Fatal(err)
			}
		}
		if _, _, err := s.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	tree := filepath.Join(dir, "state.db")
	db, err := leveldb.OpenFile(tree, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := db.CompactRange(util.Range{}); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	var n int64
	err = filepath.WalkDir(tree, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		n += fi.Size()
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return float64(n) / float64(versions*per)
}

// BenchmarkPruneDisk measures what WithKeepVersions(10) saves of the
// tree on disk, against keeping every version, in the same run (run with
// -benchtime 1x).
func BenchmarkPruneDisk(b *testing.B) {
	all, kept := treeBytesPerKey(b, 0), treeBytesPerKey(b, 10)
	b.ReportMetric(all, "B/key-all")
	b.ReportMetric(kept, "B/key-keep10")
	b.ReportMetric(kept/all, "ratio")
}

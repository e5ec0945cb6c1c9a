package state

import (
	crand "crypto/rand"
	"os"
	"strconv"
	"testing"
	"time"
)

// BenchmarkExportImport measures a snapshot of N keys (40 random bytes,
// 150-byte values: about a device's record; BIAS_BENCH_KEYS, default
// 50000) in default-size chunks: the export, the import (with its checks,
// the commit and the index rebuild) and, as the same run's baseline, one
// plain walk of every key of the tree. It reports each as ns/key and the
// export's and import's time as ratios to the walk, and the stream's
// bytes per key.
func BenchmarkExportImport(b *testing.B) {
	n := 50_000
	if v, err := strconv.Atoi(os.Getenv("BIAS_BENCH_KEYS")); err == nil && v > 0 {
		n = v
	}
	src, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close() //nolint:errcheck // a benchmark's store
	for i := range n {
		k := make([]byte, 40)
		_, _ = crand.Read(k)
		if err := src.Set(k, make([]byte, 150)); err != nil {
			b.Fatal(err)
		}
		if i%10_000 == 9_999 {
			if _, _, err := src.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, _, err := src.Commit(); err != nil {
		b.Fatal(err)
	}
	var walk, exp, imp time.Duration
	var bytes int
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		keys := 0
		if err := src.Latest().Iterate(nil, nil, func(_, _ []byte) bool { keys++; return true }); err != nil || keys != n {
			b.Fatalf("walk: %d keys, %v", keys, err)
		}
		t1 := time.Now()
		var chunks [][]byte
		info, err := src.Export(src.Version(), DefaultChunkBytes, func(c []byte) error {
			chunks = append(chunks, append([]byte(nil), c...))
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		b.StopTimer()
		dst, err := Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t3 := time.Now()
		im, err := dst.BeginImport(*info)
		if err != nil {
			b.Fatal(err)
		}
		bytes = 0
		for i, c := range chunks {
			bytes += len(c)
			if err := im.Add(uint32(i), c); err != nil { //nolint:gosec // bounded by MaxChunks
				b.Fatal(err)
			}
		}
		t4 := time.Now()
		b.StopTimer()
		if !im.Done() || dst.Version() != src.Version() {
			b.Fatal("not imported")
		}
		if err := dst.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		walk, exp, imp = walk+t1.Sub(t0), exp+t2.Sub(t1), imp+t4.Sub(t3)
	}
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) / float64(n) }
	b.ReportMetric(per(walk), "walk-ns/key")
	b.ReportMetric(per(exp), "export-ns/key")
	b.ReportMetric(per(imp), "import-ns/key")
	b.ReportMetric(float64(exp)/float64(walk), "export/walk")
	b.ReportMetric(float64(imp)/float64(walk), "import/walk")
	b.ReportMetric(float64(bytes)/float64(n), "stream-B/key")
}

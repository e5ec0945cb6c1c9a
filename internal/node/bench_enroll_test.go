package node_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
	"testing"
	"time"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"

	"github.com/bias-iot/bias/internal/node/nodetest"
)

// batchVerifyRate is this machine's Ed25519 batch verification rate now
// (curve25519-voi, batches of 1024, one per core at once), signatures/s:
// the ceiling the issue sets bulk enrollment against.
func batchVerifyRate(b *testing.B) float64 {
	const batch, rounds = 1024, 4
	pubs, msgs, sigs := make([]ed25519.PublicKey, batch), make([][]byte, batch), make([][]byte, batch)
	for i := range batch {
		pub, priv, _ := ed25519.GenerateKey(nil)
		msgs[i] = make([]byte, 200)
		_, _ = rand.Read(msgs[i])
		pubs[i], sigs[i] = pub, ed25519.Sign(priv, msgs[i])
	}
	workers := runtime.GOMAXPROCS(0)
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range rounds {
				v := voi.NewBatchVerifier()
				for i := range batch {
					v.Add(voi.PublicKey(pubs[i]), msgs[i], sigs[i])
				}
				if !v.VerifyBatchOnly(rand.Reader) {
					b.Error("batch verify")
				}
			}
		})
	}
	wg.Wait()
	return float64(batch*rounds*workers) / time.Since(start).Seconds()
}

// writeHeapProfile writes the live heap (after a collection) to path.
func writeHeapProfile(b *testing.B, path string) {
	runtime.GC()
	f, err := os.Create(path) //nolint:gosec // the benchmark's own output file, named by its runner
	if err != nil {
		b.Fatal(err)
	}
	if err := errors.Join(pprof.WriteHeapProfile(f), f.Close()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkBulkEnrollment: devices enrolled per second at one node in
// process (bulk enrollments of 2000, 4 in flight, each checked as the API
// checks it and submitted through the ledger; b.N devices, at least one
// enrollment), against the batch verification rate of the same run. Run
// with -benchtime 200000x; -cpuprofile shows where the time goes, and
// BIAS_BENCH_HEAPPROFILE=FILE writes the live heap after the enrollment.
func BenchmarkBulkEnrollment(b *testing.B) {
	h := nodetest.Start(b)
	base := batchVerifyRate(b)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime(b)
	populate(b, h, max(b.N, 2000))
	n := float64(max(b.N, 2000))
	rate, cpu := n/time.Since(start).Seconds(), (cpuTime(b)-cpu0).Seconds()/n
	b.StopTimer()
	if f := os.Getenv("BIAS_BENCH_HEAPPROFILE"); f != "" {
		writeHeapProfile(b, f) // what the node holds with the devices in
	}
	b.ReportMetric(rate, "devices/s")
	b.ReportMetric(base, "batch-verify/s")
	b.ReportMetric(rate/base, "ratio")
	// The process's CPU time per device: on a shared machine, what the
	// enrollment costs even when other work takes the cores.
	b.ReportMetric(cpu*1e6, "cpu-µs/device")
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package node_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
)

// batchRun is what one configuration did with one load.
type batchRun struct {
	p50, p99    time.Duration // a registration's commit latency
	blocksPerOp float64       // blocks made (proof blocks included) per registration
}

// commitLatencies submits n registrations at rate a second (one every
// 1/rate, each without waiting for the others: devices that come when
// they come) to h's node, and measures each registration from
// submission to commit, and the blocks made meanwhile.
func commitLatencies(b *testing.B, h *nodetest.Harness, rate, n int) batchRun {
	txs := make([][]byte, n)
	for i := range txs {
		s := nodetest.NewKey(b, cose.AlgEdDSA)
		txs[i], _ = h.SignRegister(s, h.RegisterPayload(op.KindDevice, h.Provider.DID, s))
	}
	var (
		wg   sync.WaitGroup
		lats = make([]time.Duration, n)
		errs = make([]error, n)
	)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	height := h.Node.Height()
	for i := range txs {
		<-tick.C
		wg.Go(func() {
			t0 := time.Now()
			for {
				r, err := h.Node.Ledger().Submit(context.Background(), txs[i])
				if errors.Is(err, ledger.ErrFull) {
					time.Sleep(time.Millisecond)
					continue
				}
				if err != nil || r.Code != 0 {
					errs[i] = fmt.Errorf("register: %+v %w", r, err)
				}
				break
			}
			lats[i] = time.Since(t0)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	// The last block with operations is followed by its proof block:
	// count it in every run.
	quiet(h)
	slices.Sort(lats)
	return batchRun{
		p50: lats[len(lats)/2], p99: lats[len(lats)*99/100],
		blocksPerOp: float64(h.Node.Height()-height) / float64(n),
	}
}

// withConfig starts a node whose configuration set changes.
func withConfig(b *testing.B, set func(*node.Config)) *nodetest.Harness {
	h := nodetest.Start(b)
	// Stop between heights (once the node's publications at start and
	// their proof block are made), so that the restart signs no proposal
	// twice.
	quiet(h)
	h.Stop()
	set(&h.Config)
	h.Restart()
	return h
}

// quiet returns once the node has made no block for half a second: it
// makes none while idle.
func quiet(h *nodetest.Harness) {
	for last := int64(-1); last != h.Node.Height(); {
		last = h.Node.Height()
		time.Sleep(500 * time.Millisecond)
	}
}

// BenchmarkBatching measures what timeoutCommit does to a registration's
// commit and to the blocks made per registration: the same loads
// (registrations arriving at 20 and at 200 a second, b.N of them, at
// least 100) on a node with timeoutCommit 0 (every block as soon as the
// votes are in: the former default) and with the default, in the same
// run, with the ratios after/before. BIAS_BENCH_TC sets another
// timeoutCommit to compare.
func BenchmarkBatching(b *testing.B) {
	after := time.Duration(node.Default().TimeoutCommit)
	if v, err := time.ParseDuration(os.Getenv("BIAS_BENCH_TC")); err == nil {
		after = v
	}
	for _, rate := range []int{20, 200} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
			n := max(b.N, 100)
			b.ResetTimer()
			run := func(tc time.Duration) batchRun {
				h := withConfig(b, func(c *node.Config) { c.TimeoutCommit = node.Duration(tc) })
				defer h.Stop()
				return commitLatencies(b, h, rate, n)
			}
			before, now := run(0), run(after)
			b.StopTimer()
			b.ReportMetric(float64(before.p50.Microseconds())/1000, "p50-ms-tc0")
			b.ReportMetric(float64(before.p99.Microseconds())/1000, "p99-ms-tc0")
			b.ReportMetric(float64(now.p50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(now.p99.Microseconds())/1000, "p99-ms")
			b.ReportMetric(now.p50.Seconds()/before.p50.Seconds(), "p50-ratio")
			b.ReportMetric(now.p99.Seconds()/before.p99.Seconds(), "p99-ratio")
			b.ReportMetric(before.blocksPerOp, "blocks/op-tc0")
			b.ReportMetric(now.blocksPerOp, "blocks/op")
			b.ReportMetric(now.blocksPerOp/before.blocksPerOp, "blocks-ratio")
		})
	}
}

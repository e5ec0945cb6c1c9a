package node_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// BenchmarkMetricsCost commits registrations over HTTP (the API's
// middleware and the registry's hooks in the path) at two nodes of the
// same run, one with metrics on and one with them off, in alternating
// rounds, and reports both rates and their ratio (on/off; the target is
// above 0.97: metrics cost under 3%), and the CPU time per registration
// of each, and its ratio (on/off; the target is below 1.03).
func BenchmarkMetricsCost(b *testing.B) {
	type run struct {
		c        *sdk.Client
		network  string
		provider string
		took     time.Duration
		cpu      time.Duration // the process's CPU time over its rounds
		n        int
	}
	start := func(off bool) *run {
		cfg := node.Test(b.TempDir())
		if _, err := node.Init(cfg); err != nil {
			b.Fatal(err)
		}
		cfg.NoMetrics = off
		n, err := node.Start(cfg, nodetest.Logger(b))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = n.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.WaitHeight(ctx, 1); err != nil {
			b.Fatal(err)
		}
		pd, err := os.ReadFile(filepath.Join(cfg.Home, "provider", "did"))
		if err != nil {
			b.Fatal(err)
		}
		return &run{c: sdk.NewClient(n.URL()), network: cfg.Network, provider: strings.TrimSpace(string(pd))}
	}
	on, off := start(false), start(true)
	const rounds, clients = 4, 64
	per := max(b.N/rounds, 50)
	batch := func(r *run) {
		txs := make([][]byte, per)
		for i := range txs {
			s := nodetest.NewKey(b, cose.AlgEdDSA)
			tx, _, err := op.SignRegister(s, "k1", op.Payload{Network: r.network, Register: &op.Register{
				Kind: op.KindDevice, Provider: r.provider, Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}},
			}})
			if err != nil {
				b.Fatal(err)
			}
			txs[i] = tx
		}
		c0, t0 := cpuTime(b), time.Now()
		if err := nodetest.Spread(len(txs), clients, func(i int) error {
			_, err := r.c.Submit(context.Background(), txs[i])
			return err
		}); err != nil {
			b.Fatal(err)
		}
		r.took += time.Since(t0)
		r.cpu += cpuTime(b) - c0
		r.n += per
	}
	b.ResetTimer()
	for i := range rounds {
		if i%2 == 0 {
			batch(on)
			batch(off)
		} else {
			batch(off)
			batch(on)
		}
	}
	b.StopTimer()
	rOn, rOff := float64(on.n)/on.took.Seconds(), float64(off.n)/off.took.Seconds()
	b.ReportMetric(rOn, "regs/s-metrics-on")
	b.ReportMetric(rOff, "regs/s-metrics-off")
	b.ReportMetric(rOn/rOff, "ratio-on/off")
	// CPU time per committed registration (of the whole process, in which
	// only the node of the round works), on/off: less at the mercy of the
	// scheduler than the rates on shared cores.
	cOn, cOff := on.cpu.Seconds()/float64(on.n), off.cpu.Seconds()/float64(off.n)
	b.ReportMetric(cOn*1e6, "cpu-µs/reg-metrics-on")
	b.ReportMetric(cOff*1e6, "cpu-µs/reg-metrics-off")
	b.ReportMetric(cOn/cOff, "cpu-ratio-on/off")
}

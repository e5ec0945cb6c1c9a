package evmledger_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"

	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/cometledger"
	"github.com/bias-iot/bias/internal/ledger/evmledger"
	"github.com/bias-iot/bias/internal/ledger/memledger"
)

// BenchmarkRegistrations: committed registrations per second with the
// registry, in the same run (compare the regs/s), 64 submitters at once,
// on memledger, on a real single-validator CometBFT in process
// (cometledger, timeout_commit 0, blocks on disk in a temp dir), and on
// the EVM engine over a simulated chain that seals a block every 10 ms,
// with its block store in memory and on disk (Config.DataDir).
// The EVM engine also reports the gas of its anchor transactions per
// registration.
func BenchmarkRegistrations(b *testing.B) {
	b.Run("memledger", func(b *testing.B) {
		appState, prov := genesis(b)
		m, err := memledger.New(newRegistry(b), network, appState, time.Unix(1_700_000_000, 0))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = m.Close() })
		submitAll(b, m, prov)
	})
	b.Run("cometbft", func(b *testing.B) {
		appState, prov := genesis(b)
		home := b.TempDir()
		id, err := cometledger.InitKeys(home)
		if err != nil {
			b.Fatal(err)
		}
		vals := []cometledger.GenesisValidator{{Name: "a", PubKey: id.ValidatorPubKey, Power: 10}}
		if err := cometledger.WriteGenesis(home, network, time.Now(), vals, appState); err != nil {
			b.Fatal(err)
		}
		l, err := cometledger.Start(cometledger.Config{Home: home, P2PListen: "tcp://127.0.0.1:0", Moniker: "a"},
			newRegistry(b), slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = l.Close() })
		ctx, cancel := context.WithTimeout(b.Context(), 30*time.Second)
		defer cancel()
		if err := l.WaitHeight(ctx, 1); err != nil {
			b.Fatal(err)
		}
		submitAll(b, l, prov)
	})
	for _, disk := range []bool{false, true} {
		name := "evm"
		if disk {
			name = "evm-datadir" // the block store on disk, synced at every block
		}
		b.Run(name, func(b *testing.B) {
			appState, prov := genesis(b)
			key := fund(b, 1)
			c := newSimChain(b, 10*time.Millisecond, key)
			cfg := c.deploy(b, key)
			cfg.Key, cfg.AppState, cfg.Logger = key, appState, slog.New(slog.DiscardHandler)
			if disk {
				cfg.DataDir = b.TempDir()
			}
			l, err := evmledger.New(b.Context(), c.client, newRegistry(b), cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = l.Close() })
			submitAll(b, l, prov)
			g := l.Gas()
			if g.Ops > 0 {
				b.ReportMetric(float64(g.Gas)/float64(g.Ops), "gas/reg")
				b.ReportMetric(float64(g.Ops)/float64(g.Batches), "regs/batch")
			}
		})
	}
}

// submitAll registers b.N devices, 64 at a time, and reports regs/s.
func submitAll(b *testing.B, l ledger.Submitter, prov did.DID) {
	txs := make([][]byte, b.N)
	for i := range txs {
		txs[i], _ = register(b, prov, i+1)
	}
	work := make(chan []byte)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	b.ResetTimer()
	start := time.Now()
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tx := range work {
				r, err := l.Submit(b.Context(), tx)
				if err == nil && r.Code != 0 {
					err = errors.New(r.Reason + ": " + r.Log)
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for _, tx := range txs {
		work <- tx
	}
	close(work)
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "regs/s")
}

// BenchmarkGas: the gas of one anchor transaction carrying one
// registration, and one carrying a batch of 100 (mainnet gas rules on the
// simulated chain).
func BenchmarkGas(b *testing.B) {
	_, prov := genesis(b)
	key := fund(b, 1)
	c := newSimChain(b, 5*time.Millisecond, key)
	cfg := c.deploy(b, key)
	anchor, auth := c.poster(b, cfg.Contract, key)
	gas := func(ops [][]byte) uint64 {
		data, err := evmledger.EncodeBatch(evmledger.Batch{Network: network, Ops: ops})
		if err != nil {
			b.Fatal(err)
		}
		tx, err := anchor.Anchor(auth, data)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(b.Context(), 30*time.Second)
		defer cancel()
		rc, err := bind.WaitMinedHash(ctx, c.client, tx.Hash())
		if err != nil {
			b.Fatal(err)
		}
		return rc.GasUsed
	}
	n := 0
	next := func(k int) [][]byte {
		out := make([][]byte, k)
		for i := range out {
			n++
			out[i], _ = register(b, prov, n)
		}
		return out
	}
	var one, hundred uint64
	for b.Loop() {
		one, hundred = gas(next(1)), gas(next(100))
	}
	b.ReportMetric(float64(one), "gas/reg-alone")
	b.ReportMetric(float64(hundred), "gas/batch100")
	b.ReportMetric(float64(hundred)/100, "gas/reg-in-batch100")
}

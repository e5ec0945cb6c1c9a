package node_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
)

// rawVerifyRate measures Ed25519 verifications per second on all cores:
// the same-run baseline that committed throughput is read against.
func rawVerifyRate(b *testing.B) float64 {
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := make([]byte, 200)
	sig := ed25519.Sign(priv, msg)
	const per = 4000
	workers := runtime.GOMAXPROCS(0)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if !ed25519.Verify(pub, msg, sig) {
					b.Error("verify")
				}
			}
		}()
	}
	wg.Wait()
	return float64(per*workers) / time.Since(start).Seconds()
}

// benchRegistrations commits b.N registrations through submit with
// clients concurrent submitters and reports registrations per second, against the
// raw verification rate of the same run.
func benchRegistrations(b *testing.B, clients int, submit func(h *nodetest.Harness, tx []byte) error) {
	h := nodetest.Start(b)
	txs := make([][]byte, b.N)
	for i := range txs {
		s := nodetest.NewKey(b, cose.AlgEdDSA)
		txs[i], _ = h.SignRegister(s, h.RegisterPayload(op.KindDevice, h.Provider.DID, s))
	}
	base := rawVerifyRate(b)
	startHeight := h.Node.Height()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	if err := nodetest.Spread(len(txs), clients, func(i int) error { return submit(h, txs[i]) }); err != nil {
		b.Error(err)
	}
	cpu := cpuTime(b) - cpu0
	b.StopTimer()
	rate := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "regs/s")
	// The process's CPU time per registration (checks, consensus, the
	// tree): what a shared machine's load disturbs least.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/reg")
	b.ReportMetric(base, "raw-verify/s")
	b.ReportMetric(rate/base, "ratio-to-raw")
	if blocks := h.Node.Height() - startHeight; blocks > 0 {
		b.ReportMetric(float64(b.N)/float64(blocks), "regs/block")
	}
}

// BenchmarkCommittedRegistrations submits in process, through the ledger
// interface, and waits for each commit.
func BenchmarkCommittedRegistrations(b *testing.B) {
	benchRegistrations(b, 1000, func(h *nodetest.Harness, tx []byte) error {
		if err := h.Node.Precheck(tx); err != nil {
			return err
		}
		for {
			r, err := h.Node.Ledger().Submit(context.Background(), tx)
			if err != nil {
				if err.Error() == "ledger is full" {
					time.Sleep(time.Millisecond)
					continue
				}
				return err
			}
			if r.Code != 0 {
				b.Fatalf("rejected: %s %s", r.Reason, r.Log)
			}
			return nil
		}
	})
}

// BenchmarkCommittedRegistrationsHTTP submits over the HTTP API.
func BenchmarkCommittedRegistrationsHTTP(b *testing.B) {
	benchRegistrations(b, 1000, func(h *nodetest.Harness, tx []byte) error {
		_, err := h.Submit(tx)
		return err
	})
}

// BenchmarkContractOverhead commits b.N registrations on a node whose
// provider has no registration contract, then on one whose provider has
// the TAC contract (evaluated in each registration's block), and reports
// both rates and the overhead of the contract.
func BenchmarkContractOverhead(b *testing.B) {
	run := func(withContract bool) float64 {
		h := nodetest.Start(b)
		if withContract {
			src, err := os.ReadFile("../../examples/contracts/tac.cel")
			if err != nil {
				b.Fatal(err)
			}
			h.MustSubmit(h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{
				Provider: h.Provider.DID.String(), Name: "tac", Kind: op.ContractRegistration, Source: string(src)}}))
		}
		txs := make([][]byte, b.N)
		for i := range txs {
			s := nodetest.NewKey(b, cose.AlgEdDSA)
			p := h.RegisterPayload(op.KindDevice, h.Provider.DID, s)
			p.Register.Doc.Attrs = []op.Attr{{K: "model", V: "cam-1"}}
			txs[i], _ = h.SignRegister(s, p)
		}
		start := time.Now()
		err := nodetest.Spread(len(txs), 1000, func(i int) error {
			if err := h.Node.Precheck(txs[i]); err != nil {
				return err
			}
			for {
				r, err := h.Node.Ledger().Submit(context.Background(), txs[i])
				if errors.Is(err, ledger.ErrFull) {
					time.Sleep(time.Millisecond)
					continue
				}
				if err != nil || r.Code != 0 {
					return fmt.Errorf("%+v %w", r, err)
				}
				return nil
			}
		})
		if err != nil {
			b.Error(err)
		}
		rate := float64(b.N) / time.Since(start).Seconds()
		h.Stop()
		return rate
	}
	// Alternate the two, twice, and keep the best of each: the machine is
	// shared and its speed drifts.
	b.ResetTimer()
	var without, with float64
	for i := 0; i < 2; i++ {
		without = max(without, run(false))
		with = max(with, run(true))
	}
	b.StopTimer()
	b.ReportMetric(without, "regs/s-without")
	b.ReportMetric(with, "regs/s-with-contract")
	b.ReportMetric(100*(without-with)/without, "overhead-%")
}

package node_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
)

// benchOrigin is the origin of the benchmarks' service.
const benchOrigin = "https://printer.example"

// authnFixture registers and validates a service (Ed25519) and a device
// (Ed25519) and pre-computes n challenge/proof pairs in enc.
func authnFixture(b *testing.B, n int, enc authn.Encoding) (*nodetest.Harness, nodetest.Entity, [][2][]byte, *authn.Issuer) {
	h := nodetest.Start(b)
	svc := h.RegisterValidated(op.KindService, cose.AlgEdDSA)
	dev := h.RegisterValidated(op.KindDevice, cose.AlgEdDSA)
	now := time.Now().Unix()
	store := authn.NewIssuer(svc.DID.WithFragment("k1"), benchOrigin, freshNonce(), authn.NewMemorySpentSet(n+1))
	pairs := make([][2][]byte, n)
	for i := range pairs {
		c, err := store.New(now, 300)
		if err != nil {
			b.Fatal(err)
		}
		cb, _ := authn.SignChallenge(svc.Signer, c, enc)
		pb, _ := authn.SignProof(dev.Signer, &authn.Proof{Device: dev.DID, Kid: dev.DID.WithFragment("k1"), Service: svc.DID, Origin: benchOrigin, ServiceNonce: c.Nonce, DeviceNonce: freshNonce(), IssuedAt: now}, enc)
		pairs[i] = [2][]byte{cb, pb}
	}
	return h, svc, pairs, store
}

// runAll decides the first half of pairs with 8 concurrent callers (full
// load: decisions per second, and the ratio of signatures verified per
// second to a raw Ed25519 verification rate measured in the same run on
// the same cores), then the second half paced at half that rate, and
// reports the latency percentiles at half load.
func runAll(b *testing.B, pairs [][2][]byte, sigsPerDecision float64, fn func(p [2][]byte) authn.Decision) {
	full, half := pairs[:len(pairs)/2], pairs[len(pairs)/2:]
	base := rawVerifyRate(b)
	var wg sync.WaitGroup
	next := make(chan int, len(full))
	for i := range full {
		next <- i
	}
	close(next)
	start := time.Now()
	b.ResetTimer()
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if d := fn(full[i]); !d.OK {
					b.Errorf("decision %d: %+v", i, d)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	rate := float64(len(full)) / time.Since(start).Seconds()

	// Half load: one request every 2/rate seconds, each on its own goroutine.
	lat := make([]time.Duration, len(half))
	lag := make([]time.Duration, len(half))
	gap := time.Duration(float64(time.Second) * 2 / rate)
	t0 := time.Now()
	for i := range half {
		time.Sleep(time.Until(t0.Add(time.Duration(i) * gap)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := time.Now()
			lag[i] = s.Sub(t0.Add(time.Duration(i) * gap))
			if d := fn(half[i]); !d.OK {
				b.Errorf("decision %d: %+v", i, d)
			}
			lat[i] = time.Since(s)
		}()
	}
	wg.Wait()
	sort.Slice(lag, func(i, j int) bool { return lag[i] < lag[j] })
	b.Logf("start lag p50 %v p99 %v max %v", lag[len(lag)/2], lag[len(lag)*99/100], lag[len(lag)-1])
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(rate, "decisions/s")
	b.ReportMetric(base, "raw-verify/s")
	b.ReportMetric(rate*sigsPerDecision/base, "ratio-sigs-to-raw")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs@half")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs@half")
	b.Logf("latency p90 %v p99 %v p99.9 %v max %v", lat[len(lat)*90/100], lat[len(lat)*99/100], lat[len(lat)*999/1000], lat[len(lat)-1])
}

// BenchmarkVerifyProof: a service decides proofs in process against its
// node's committed state (one signature per decision: the proof's).
func BenchmarkVerifyProof(b *testing.B) {
	for _, enc := range []authn.Encoding{authn.COSE, authn.JWS} {
		b.Run(string(enc), func(b *testing.B) {
			h, svc, pairs, store := authnFixture(b, 2*b.N, enc)
			view := h.Node.Resolver()
			now := time.Now().Unix()
			runAll(b, pairs, 1, func(p [2][]byte) authn.Decision {
				return authn.VerifyProof(context.Background(), view, store, svc.DID, benchOrigin, p[1], now)
			})
		})
	}
}

// BenchmarkVerifyPair: the node decides challenge+proof pairs (two
// signatures per decision), in process and over HTTP.
func BenchmarkVerifyPair(b *testing.B) {
	b.Run("in-process", func(b *testing.B) {
		h, _, pairs, _ := authnFixture(b, 2*b.N, authn.COSE)
		now := time.Now().Unix()
		runAll(b, pairs, 2, func(p [2][]byte) authn.Decision {
			d, _ := h.Node.Access().Verify(context.Background(), p[0], p[1], nil, now)
			return d
		})
	})
	b.Run("http", func(b *testing.B) {
		h, _, pairs, _ := authnFixture(b, 2*b.N, authn.COSE)
		runAll(b, pairs, 2, func(p [2][]byte) authn.Decision {
			d, err := h.Client.Verify(context.Background(), p[0], p[1])
			if err != nil {
				b.Fatal(err)
			}
			return *d
		})
	})
}

package node_test

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// populate enrolls n devices through consensus (bulk enrollments of 2000)
// and returns a sample of their DIDs.
func populate(b *testing.B, h *nodetest.Harness, n int) []string {
	b.Helper()
	const batch = op.MaxEnrollItems
	var (
		mu     sync.Mutex
		sample []string
		wg     sync.WaitGroup
		sem    = make(chan struct{}, 4)
		start  = time.Now()
	)
	prov := h.Provider.DID.String()
	for first := 0; first < n; first += batch {
		items := make([]op.EnrollEntry, min(batch, n-first))
		for i := range items {
			pub := make([]byte, 32) // an Ed25519 key is any 32 bytes to the registry
			crand.Read(pub)
			items[i] = op.EnrollEntry{Doc: op.Document{Keys: []op.Key{{ID: "k1", Alg: int64(cose.AlgEdDSA), Pub: pub}}}}
		}
		tx := h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeEnroll, Enroll: &op.Enroll{Provider: prov, Items: items}})
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := h.Node.Precheck(tx); err != nil {
				b.Error(err)
				return
			}
			r, err := h.Node.Ledger().Submit(context.Background(), tx)
			if err != nil || r.Code != 0 {
				b.Errorf("enroll: %+v %v", r, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for i := 0; i < len(items); i += 10 {
				id, _ := op.EnrollDID(h.Network, prov, items[i])
				sample = append(sample, id.String())
			}
		}()
	}
	wg.Wait()
	b.Logf("enrolled %d devices in %v", n, time.Since(start).Round(time.Millisecond))
	return sample
}

// BenchmarkResolve measures DID resolution latency (one at a time) and
// throughput (all cores) at one node, in process and over HTTP, with 10k
// registered entities, and with BIAS_BENCH_ENTITIES more (for instance
// 1000000; that run enrolls them first, a few minutes).
func BenchmarkResolve(b *testing.B) {
	sizes := []int{10_000}
	if v := os.Getenv("BIAS_BENCH_ENTITIES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("BIAS_BENCH_ENTITIES=%q", v)
		}
		sizes = append(sizes, n)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("entities=%d", n), func(b *testing.B) {
			h := nodetest.Start(b)
			sample := populate(b, h, n)
			r := sdk.NewClient(h.Node.URL())
			ctx := context.Background()
			pick := func(rng *rand.Rand) string { return sample[rng.IntN(len(sample))] }
			check := func(res *did.Result, err error) {
				if err != nil || res == nil || res.DocumentMetadata.Status != op.StatusValidated {
					b.Fatalf("resolve: %+v %v", res, err)
				}
			}
			b.Run("in-process", func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 2))
				for i := 0; i < b.N; i++ {
					check(h.Node.Resolver().Resolve(ctx, pick(rng), did.Options{}))
				}
			})
			b.Run("in-process-parallel", func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					rng := rand.New(rand.NewPCG(rand.Uint64(), 3))
					for pb.Next() {
						check(h.Node.Resolver().Resolve(ctx, pick(rng), did.Options{}))
					}
				})
			})
			b.Run("http", func(b *testing.B) {
				rng := rand.New(rand.NewPCG(3, 4))
				for i := 0; i < b.N; i++ {
					check(r.Resolve(ctx, pick(rng), did.Options{}))
				}
			})
			b.Run("http-parallel", func(b *testing.B) {
				b.SetParallelism(8)
				b.RunParallel(func(pb *testing.PB) {
					rng := rand.New(rand.NewPCG(rand.Uint64(), 5))
					for pb.Next() {
						check(r.Resolve(ctx, pick(rng), did.Options{}))
					}
				})
			})
		})
	}
}

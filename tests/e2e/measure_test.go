//go:build e2e

package e2e

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

func pct(d []time.Duration, p int) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[min(len(d)-1, len(d)*p/100)]
}

// TestMeasure measures, on four validator processes and two edge full
// nodes (loopback, the same 2 cores): registration throughput and commit
// latency, revocation propagation to the edge, and authentication latency
// at a foreign operator's edge node against the device's home node.
// docs/benchmarks.md reports its output.
func TestMeasure(t *testing.T) {
	ps, ops := startNetwork(t)
	h := &harness{t: t}
	ctx := context.Background()
	A, B := ops[0], ops[1]

	// Throughput: 3000 registrations from 1000 clients over the 4 validators.
	const n = 3000
	txs := make([][]byte, n)
	for i := range txs {
		s, _, _ := cose.GenerateKey(cose.AlgEdDSA)
		txs[i], _, _ = op.SignRegister(s, "k1", op.Payload{Network: "testnet", Register: &op.Register{Kind: op.KindDevice,
			Provider: A.provider.String(), Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}}}})
	}
	start := time.Now()
	if err := nodetest.Spread(n, 1000, func(i int) error { _, err := ps[i%4].c.Submit(ctx, txs[i]); return err }); err != nil {
		t.Error(err)
	}
	t.Logf("MEASURE registrations: %d committed in %v: %.0f/s on 4 validators", n, time.Since(start).Round(time.Millisecond), n/time.Since(start).Seconds())

	// Commit latency of one registration at a time.
	var lat []time.Duration
	for i := 0; i < 20; i++ {
		s, _, _ := cose.GenerateKey(cose.AlgEdDSA)
		tx, _, _ := op.SignRegister(s, "k1", op.Payload{Network: "testnet", Register: &op.Register{Kind: op.KindDevice,
			Provider: A.provider.String(), Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}}}})
		t0 := time.Now()
		h.must(ps[i%4], tx)
		lat = append(lat, time.Since(t0))
	}
	t.Logf("MEASURE commit latency (timeout_commit 200ms): p50 %v, p99 %v", pct(lat, 50).Round(time.Millisecond), pct(lat, 99).Round(time.Millisecond))

	// Authentication: a service of B, cars of A; at A's node (home) and at B's edge.
	svc, svcKey := h.register(ps[1], B, op.KindService)
	h.validate(ps[1], B, svc)
	type car struct {
		id  did.DID
		key cose.Signer
	}
	var cars []car
	for i := 0; i < 10; i++ {
		id, key := h.register(ps[0], A, op.KindDevice)
		h.validate(ps[0], A, id)
		cars = append(cars, car{id, key})
	}
	edges := []*proc{ps[4], ps[5]}
	for _, e := range edges {
		waitUntil(t, 20*time.Second, "edge caught up", func() bool {
			v, err := e.c.Entity(ctx, cars[9].id.String())
			return err == nil && v.Status == op.StatusValidated
		})
	}
	auth := func(at *proc, c car) authn.Decision {
		s := &sdk.Service{Signer: svcKey, Kid: svc.WithFragment("k1"), View: sdk.View{C: at.c}, URL: "coaps://mec.example"}
		d := &sdk.Device{Signer: c.key, Kid: c.id.WithFragment("k1"), View: sdk.View{C: at.c}}
		ch, err := s.Challenge()
		if err != nil {
			t.Fatal(err)
		}
		p, err := d.Answer(ctx, s.URL, ch)
		if err != nil {
			return authn.Decision{Reason: authn.FailRevoked}
		}
		dec, err := at.c.Verify(ctx, ch, p)
		if err != nil {
			t.Fatal(err)
		}
		return *dec
	}
	measureAt := func(at *proc) time.Duration {
		var l []time.Duration
		for i := 0; i < 100; i++ {
			t0 := time.Now()
			if d := auth(at, cars[i%len(cars)]); !d.OK {
				t.Fatalf("%+v", d)
			}
			l = append(l, time.Since(t0))
		}
		return pct(l, 50)
	}
	home, edge := measureAt(ps[0]), measureAt(ps[4])
	ratio := float64(edge) / float64(home)
	t.Logf("MEASURE authentication (challenge, device check, proof, node decision): p50 %v at the home node, %v at a foreign edge node: ratio %.2f", home.Round(time.Microsecond), edge.Round(time.Microsecond), ratio)
	if ratio > 3 {
		t.Fatalf("authentication at a foreign edge node is %.1f× slower than at home", ratio)
	}

	// Revocation propagation: revoke at A's node; time until each edge refuses.
	var prop []time.Duration
	for _, c := range cars {
		e, _ := ps[0].c.Entity(ctx, c.id.String())
		tx := h.sign(A, op.Payload{Type: op.TypeRevoke, Status: &op.Status{DID: c.id.String(), Version: e.Version}})
		t0 := time.Now()
		// Measured (and waited for) at the edges: their refusal.
		go func() { _, _ = ps[0].c.Submit(ctx, tx) }()
		for _, edge := range edges {
			waitUntil(t, 20*time.Second, "edge refuses the revoked car", func() bool { return auth(edge, c).Reason == authn.FailRevoked })
			prop = append(prop, time.Since(t0))
		}
	}
	t.Logf("MEASURE revocation (submitted at A's node → refused at B's and C's edge nodes): p50 %v, p99 %v over %d", pct(prop, 50).Round(time.Millisecond), pct(prop, 99).Round(time.Millisecond), len(prop))
}

package loadgen

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// AuthReport is the authentication benchmark: decisions over HTTP (the
// service's challenge and the device's COSE proof, decided by the node),
// first at full load, then paced at half that rate.
type AuthReport struct {
	// Full is the decisions per second at full load (Workers callers).
	Full    float64
	Workers int
	// P50 and P99 are the latencies at half load.
	P50, P99 time.Duration
	// Lag99 is the 99th percentile of how late the paced requests
	// started against their schedule: the load generator's own delay;
	// Skipped the paced requests not sent because they would have
	// started too late (see authBench).
	Lag99   time.Duration
	Skipped int
	// NodeP50 and NodeP99 bound the node's own time to serve the half
	// load's requests (the upper bounds of the buckets that hold them in
	// its bias_http_request_duration_seconds), and NodeWithin5ms is the
	// share of them served in 5 ms or less; all zero when the node
	// serves no metrics.
	NodeP50, NodeP99 time.Duration
	NodeWithin5ms    float64
}

// verifyRoute is the route the node's metrics name the decisions by.
const verifyRoute = "POST /v1/authn/verify"

// authWorkers are the concurrent callers at full load.
const authWorkers = 8

// maxAuthConns bounds the connections the benchmark keeps open.
const maxAuthConns = 1024

// pace starts n requests open-loop, request i at t0 + i·gap (t0 = now()
// on entry), and returns how many it skipped: those it could not start
// within lateAfter of their time. start must not block.
func pace(n int, gap, lateAfter time.Duration, now func() time.Time, sleep func(time.Duration), start func(i int, due time.Time)) (skipped int) {
	t0 := now()
	for i := range n {
		due := t0.Add(time.Duration(i) * gap)
		if d := due.Sub(now()); d > 0 {
			sleep(d)
		}
		if now().Sub(due) > lateAfter {
			skipped++
			continue
		}
		start(i, due)
	}
	return skipped
}

// keep returns the elements of d whose flag is set.
func keep(d []time.Duration, flags []bool) []time.Duration {
	out := d[:0]
	for i, v := range d {
		if flags[i] {
			out = append(out, v)
		}
	}
	return out
}

// authBench decides n pairs (computed first), half at full load, half at
// half that rate.
func (r *run) authBench(ctx context.Context, n int) (AuthReport, error) {
	rep := AuthReport{Workers: authWorkers}
	svc, err := r.registerValidated(ctx, op.KindService)
	if err != nil {
		return rep, err
	}
	r.mu.Lock()
	keyed := r.keyed
	r.mu.Unlock()
	if len(keyed) == 0 {
		return rep, errors.New("authentication: enroll more devices first")
	}
	nonceKey := make([]byte, 32)
	_, _ = rand.Read(nonceKey)
	iss := authn.NewIssuer(svc.id.WithFragment("k1"), soakOrigin, nonceKey, authn.NewMemorySpentSet(n+1))
	pairs := make([][2][]byte, n)
	now := time.Now().Unix()
	for i := range pairs {
		dev := keyed[i%len(keyed)]
		c, err := iss.New(now, authn.MaxValiditySeconds)
		if err != nil {
			return rep, err
		}
		cb, err := authn.SignChallenge(svc.key, c, authn.COSE)
		if err != nil {
			return rep, err
		}
		dn := make([]byte, authn.NonceLen)
		_, _ = rand.Read(dn)
		pb, err := authn.SignProof(dev.key, &authn.Proof{Device: dev.id, Kid: dev.id.WithFragment("k1"), Service: svc.id,
			Origin: soakOrigin, ServiceNonce: c.Nonce, DeviceNonce: dn, IssuedAt: now}, authn.COSE)
		if err != nil {
			return rep, err
		}
		pairs[i] = [2][]byte{cb, pb}
	}
	// The benchmark's own client keeps a connection per concurrent
	// request alive: the SDK's transport keeps at most 100 idle in all
	// (net/http's default MaxIdleConns), so that a burst past that
	// closed connections and dialled new ones, whose setup the node
	// was timed with.
	c := sdk.NewClient(r.c.Client.URL)
	if tr, ok := c.HTTP.Transport.(*http.Transport); ok {
		tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 0, maxAuthConns
	}
	defer c.HTTP.CloseIdleConnections()
	decide := func(p [2][]byte) error {
		d, err := c.Verify(ctx, p[0], p[1])
		if err == nil && !d.OK {
			err = fmt.Errorf("refused: %s %s", d.Reason, d.Detail)
		}
		return err
	}
	full, half := pairs[:n/2], pairs[n/2:]
	var (
		wg    sync.WaitGroup
		fmu   sync.Mutex
		first error
	)
	fail := func(err error) {
		fmu.Lock()
		defer fmu.Unlock()
		if first == nil {
			first = err
		}
	}
	next := make(chan [2][]byte, len(full))
	for _, p := range full {
		next <- p
	}
	close(next)
	start := time.Now()
	for range authWorkers {
		wg.Go(func() {
			for p := range next {
				if err := decide(p); err != nil {
					fail(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return rep, fmt.Errorf("authentication at full load: %w", first)
	}
	rep.Full = float64(len(full)) / time.Since(start).Seconds()
	r.log("authentication: %.0f decisions/s at full load; now %d at half that rate", rep.Full, len(half))
	lat, lag := make([]time.Duration, len(half)), make([]time.Duration, len(half))
	sent := make([]bool, len(half))
	// Open loop: request i is due at t0 + i·gap, whatever the answers
	// before it, so the node's own queueing is in the latency, which is
	// timed from the request's start. A request the generator could not
	// start within lateAfter of its time (its own core was taken: its
	// collector, the machine's other work) is skipped, not sent late:
	// sent late, the overdue ones would go at once, a burst that the
	// schedule never asked for and whose queueing the node would be
	// timed with. Skipped counts them; the generator's collector runs
	// less often meanwhile.
	gap := time.Duration(float64(time.Second) * 2 / rep.Full)
	lateAfter := max(2*gap, time.Millisecond)
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	before, herr := scrapeHistogram(ctx, r.c.Client, verifyRoute)
	rep.Skipped = pace(len(half), gap, lateAfter, time.Now, time.Sleep, func(i int, due time.Time) {
		sent[i] = true
		wg.Go(func() {
			s := time.Now()
			lag[i] = s.Sub(due)
			if err := decide(half[i]); err != nil {
				fail(err)
			}
			lat[i] = time.Since(s)
		})
	})
	wg.Wait()
	if first != nil {
		return rep, fmt.Errorf("authentication at half load: %w", first)
	}
	if rep.Skipped > len(half)/2 {
		return rep, fmt.Errorf("authentication at half load: the load generator could not keep its pace: %d of %d requests would have started more than %v late", rep.Skipped, len(half), lateAfter)
	}
	lat, lag = keep(lat, sent), keep(lag, sent)
	rep.P50, rep.P99, rep.Lag99 = Percentile(lat, 50), Percentile(lat, 99), Percentile(lag, 99)
	after, err := scrapeHistogram(ctx, r.c.Client, verifyRoute)
	if herr = errors.Join(herr, err); herr != nil {
		r.log("authentication: the node's own latency is not known: %v", herr)
		return rep, nil
	}
	h := after.since(before)
	rep.NodeP50, rep.NodeP99, rep.NodeWithin5ms = h.quantile(.5), h.quantile(.99), h.within(5*time.Millisecond)
	return rep, nil
}

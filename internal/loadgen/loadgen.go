// Package loadgen drives a running node the way scripts/scale.sh needs:
// it enrolls devices in bulk over the HTTP API, measures the node at
// checkpoints (resident memory from /proc, disk bytes per device from its
// home, resolution latency over HTTP), runs a mixed soak (registrations,
// resolutions, authentications, revocations) sampling memory over time,
// and checks the result against bounds.
//
//	r, err := loadgen.Run(ctx, loadgen.Config{Client: sdk.NewClient(url), Admin: s, AdminKid: kid, Devices: 200_000})
//	r.Table(os.Stdout)
//	if err == nil { err = r.Check(bounds) }
package loadgen

import (
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// Config is a run.
type Config struct {
	Client *sdk.Client
	// Admin signs as an admin key of the provider; AdminKid names it
	// (the provider's DID with the key's fragment).
	Admin    cose.Signer
	AdminKid did.DID
	// PID is the node's process (0: no memory samples); Home its home
	// directory ("": no disk samples).
	PID  int
	Home string
	// Devices is the count of devices the node holds at the end of the
	// enrollment, Existing the count it holds at the start (a node kept
	// from an earlier run): Devices − Existing are enrolled in bulk, in
	// enrollments of Batch (default op.MaxEnrollItems), InFlight at once
	// (default 4). Marks are the device counts (of the node: the
	// existing ones included) at which the node is measured (Devices is
	// always one).
	Devices, Existing, Batch, InFlight int
	Marks                              []int
	// Resolutions is how many sequential resolutions measure the latency
	// at each mark (default 2000).
	Resolutions int
	// Soak is how long the mixed load runs after the enrollment (0:
	// none), at Rate operations a second (default 200), sampling memory
	// every Sample (default Soak/30, at least 1s).
	Soak   time.Duration
	Rate   int
	Sample time.Duration
	// Auth is how many authentications the authentication benchmark
	// decides after the enrollment, half at full load and half at half
	// that rate (0: none).
	Auth int
	// Log reports progress (nil: none): each mark, and every Progress
	// (default 30s) of the enrollment the devices enrolled, the rate, the
	// node's RSS and the time left at that rate.
	Log      func(format string, args ...any)
	Progress time.Duration
}

// Report is what a run measured.
type Report struct {
	Marks []Mark
	Auth  AuthReport
	Soak  SoakReport
}

// Mark is the node measured with Devices enrolled.
type Mark struct {
	Devices int
	// Rate is the enrollment rate since the previous mark (devices/s).
	Rate float64
	// RSS is the node's resident memory (bytes); Disk its home's size.
	RSS, Disk int64
	// P50 and P99 are the resolution latencies over HTTP.
	P50, P99 time.Duration
}

// DiskPerDevice is the home's bytes per enrolled device.
func (m Mark) DiskPerDevice() float64 { return float64(m.Disk) / float64(m.Devices) }

// SoakReport is the mixed load.
type SoakReport struct {
	Duration time.Duration
	// Ops counts the operations done, by kind; Failed the ones that
	// failed, with the first failures.
	Ops      map[string]int
	Failed   int
	Failures []string
	// RSS is the node's resident memory over time.
	RSS []Sample
	// AuthP50 and AuthP99 are the latencies of authentications.
	AuthP50, AuthP99 time.Duration
}

// Sample is one memory sample.
type Sample struct {
	At  time.Duration
	RSS int64
}

// device is an enrolled device whose key the run holds.
type device struct {
	id  did.DID
	key cose.Signer
}

type run struct {
	c       Config
	network string
	prov    string
	mu      sync.Mutex
	sample  []did.DID // enrolled devices to resolve
	keyed   []device  // enrolled devices with their keys
	log     func(string, ...any)
	keyStep int
	// salt makes the devices of each run new (a second run against the
	// same node enrolls other devices).
	salt [16]byte
	// enrolled counts the devices whose enrollment committed.
	enrolled atomic.Int64
}

// keyStep: one enrolled device in keyStep gets a real key (the others a
// unique public key nobody holds, which costs the registry the same).
const keyStep = 500

// Run enrolls, measures and soaks. It returns what it measured so far
// with an error when an operation failed.
func Run(ctx context.Context, c Config) (*Report, error) {
	if c.Batch <= 0 {
		c.Batch = op.MaxEnrollItems
	}
	c.InFlight = max(c.InFlight, 1)
	if c.Resolutions <= 0 {
		c.Resolutions = 2000
	}
	if c.Rate <= 0 {
		c.Rate = 200
	}
	if c.Sample <= 0 {
		c.Sample = max(c.Soak/30, time.Second)
	}
	if c.Progress <= 0 {
		c.Progress = 30 * time.Second
	}
	r := &run{c: c, network: c.AdminKid.Network, prov: c.AdminKid.Base().String(), log: c.Log, keyStep: keyStep}
	if r.log == nil {
		r.log = func(string, ...any) {}
	}
	_, _ = crand.Read(r.salt[:]) // (never fails)
	marks := append(slices.Clone(c.Marks), c.Devices)
	slices.Sort(marks)
	marks = slices.Compact(marks)
	rep := &Report{}
	stopProgress := r.progress(ctx)
	defer stopProgress()
	if c.Existing < 0 || c.Existing >= c.Devices {
		return rep, fmt.Errorf("the node holds %d devices already: nothing to enroll up to %d", c.Existing, c.Devices)
	}
	start, last, done := time.Now(), time.Now(), c.Existing
	for _, m := range marks {
		if m > c.Devices || m <= done {
			continue
		}
		if err := r.enroll(ctx, done, m); err != nil {
			return rep, err
		}
		rate := float64(m-done) / time.Since(last).Seconds()
		mk, err := r.measure(ctx, m)
		if err != nil {
			return rep, err
		}
		mk.Rate = rate
		rep.Marks = append(rep.Marks, mk)
		r.log("mark %d devices: %.0f devices/s, RSS %d MiB, %.0f B/device, resolve p50 %v p99 %v (%v in)",
			m, rate, mk.RSS>>20, mk.DiskPerDevice(), mk.P50, mk.P99, time.Since(start).Round(time.Second))
		done, last = m, time.Now()
	}
	stopProgress()
	if c.Auth > 1 {
		a, err := r.authBench(ctx, c.Auth)
		rep.Auth = a
		if err != nil {
			return rep, err
		}
		r.log("authentication: %.0f decisions/s at full load; at half load p50 %v p99 %v (start lag p99 %v, %d skipped as late); the node's own p50 <= %v, p99 <= %v, %.2f%% within 5ms",
			a.Full, a.P50, a.P99, a.Lag99, a.Skipped, a.NodeP50, a.NodeP99, 100*a.NodeWithin5ms)
	}
	if c.Soak > 0 {
		s, err := r.soak(ctx)
		rep.Soak = s
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// progress logs the enrollment's progress every Config.Progress until the
// returned stop is called (more than once is fine): the time left is at
// the rate since the start (the rate falls as the state grows).
func (r *run) progress(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(r.c.Progress)
		defer t.Stop()
		first, start := int64(r.c.Existing)+r.enrolled.Load(), time.Now()
		prev, prevAt := first, start
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				n := int64(r.c.Existing) + r.enrolled.Load()
				rate := float64(n-prev) / now.Sub(prevAt).Seconds()
				prev, prevAt = n, now
				avg := float64(n-first) / now.Sub(start).Seconds()
				left := "unknown"
				if avg > 0 {
					left = (time.Duration(float64(int64(r.c.Devices)-n)/avg) * time.Second).Round(time.Second).String()
				}
				rss := "-"
				if r.c.PID > 0 {
					if b, err := RSS(r.c.PID); err == nil {
						rss = fmt.Sprint(b >> 20)
					}
				}
				r.log("enrolled %d of %d devices (%.1f%%): %.0f devices/s over the last %v, %.0f/s since the start, RSS %s MiB, about %s left at that average",
					n, r.c.Devices, 100*float64(n)/float64(r.c.Devices), rate, r.c.Progress, avg, rss, left)
			}
		}
	}()
	return func() { cancel(); <-done }
}

// entry makes device i's enrollment entry, and its key when it gets one.
func (r *run) entry(i int, rng *rand.ChaCha8) (op.EnrollEntry, cose.Signer, error) {
	var pub []byte
	var s cose.Signer
	if i%r.keyStep == 0 {
		seed := sha256.Sum256(binary.BigEndian.AppendUint64(append([]byte("biasload device"), r.salt[:]...), uint64(i)))
		var err error
		if s, err = cose.NewSigner(ed25519.NewKeyFromSeed(seed[:])); err != nil {
			return op.EnrollEntry{}, nil, err
		}
		pub = s.Public().Bytes()
	} else {
		pub = make([]byte, ed25519.PublicKeySize)
		_, _ = rng.Read(pub) // (ChaCha8 never fails)
	}
	return op.EnrollEntry{Doc: op.Document{
		Keys:  []op.Key{{ID: "k1", Alg: int64(cose.AlgEdDSA), Pub: pub}},
		Attrs: []op.Attr{{K: "model", V: "meter-1"}, {K: "serial", V: fmt.Sprintf("SN%010d", i)}},
	}}, s, nil
}

// enroll enrolls devices from (numbered from 0) up to to.
func (r *run) enroll(ctx context.Context, from, to int) error {
	type job struct{ first, n int }
	jobs := make(chan job)
	errc := make(chan error, r.c.InFlight)
	var wg sync.WaitGroup
	for w := range r.c.InFlight {
		rng := rand.NewChaCha8(sha256.Sum256(binary.BigEndian.AppendUint64(append([]byte("biasload worker"), r.salt[:]...), uint64(from)<<8|uint64(w))))
		wg.Go(func() {
			for j := range jobs {
				if err := r.enrollBatch(ctx, j.first, j.n, rng); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	var err error
feed:
	for first := from; first < to; first += r.c.Batch {
		select {
		case jobs <- job{first, min(r.c.Batch, to-first)}:
		case err = <-errc:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	return err
}

func (r *run) enrollBatch(ctx context.Context, first, n int, rng *rand.ChaCha8) error {
	items := make([]op.EnrollEntry, n)
	var keyed []device
	var sample []did.DID
	for i := range items {
		e, s, err := r.entry(first+i, rng)
		if err != nil {
			return err
		}
		items[i] = e
		// Every 100th device is resolved at the marks and in the soak;
		// those with a key authenticate or are revoked (never resolved:
		// a revoked one would not resolve).
		if s != nil || i%100 == 50 {
			id, err := op.EnrollDID(r.network, r.prov, e)
			if err != nil {
				return err
			}
			if s != nil {
				keyed = append(keyed, device{id, s})
			} else {
				sample = append(sample, id)
			}
		}
	}
	tx, err := op.Sign(r.c.Admin, r.c.AdminKid, op.Payload{Type: op.TypeEnroll, Network: r.network, Enroll: &op.Enroll{Provider: r.prov, Items: items}})
	if err != nil {
		return err
	}
	if err := submit(ctx, r.c.Client, tx); err != nil {
		return fmt.Errorf("enroll devices %d to %d: %w", first, first+n-1, err)
	}
	r.mu.Lock()
	r.sample = append(r.sample, sample...)
	r.keyed = append(r.keyed, keyed...)
	r.mu.Unlock()
	r.enrolled.Add(int64(n))
	return nil
}

// submit submits tx, and again while the node is busy (mempool-full, a
// timeout, too many large operations being checked at once): an
// overloaded node is back pressure, not a failure. An operation whose
// wait timed out may commit afterwards: its next attempt is then refused
// as replayed, which is its success.
func submit(ctx context.Context, c *sdk.Client, tx []byte) error {
	timedOut := false
	for attempt := 0; ; attempt++ {
		_, err := c.Submit(ctx, tx)
		var ae *sdk.APIError
		if errors.As(err, &ae) && timedOut && ae.Reason == string(op.ReasonReplayed) {
			return nil
		}
		if err == nil || !errors.As(err, &ae) || attempt >= 100 || !busy[ae.Reason] {
			return err
		}
		timedOut = timedOut || ae.Reason == string(op.ReasonTimeout)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(20*min(attempt+1, 25)) * time.Millisecond):
		}
	}
}

// busy are the reasons of a node that asks to be tried again later.
var busy = map[string]bool{string(op.ReasonMempoolFull): true, string(op.ReasonTimeout): true, "too-many-requests": true}

// measure samples the node with n devices enrolled.
func (r *run) measure(ctx context.Context, n int) (Mark, error) {
	m := Mark{Devices: n}
	var err error
	if r.c.PID > 0 {
		if m.RSS, err = RSS(r.c.PID); err != nil {
			return m, err
		}
	}
	if r.c.Home != "" {
		if m.Disk, err = DiskUsage(r.c.Home); err != nil {
			return m, err
		}
	}
	r.mu.Lock()
	sample := slices.Clone(r.sample)
	r.mu.Unlock()
	rng := rand.New(rand.NewPCG(uint64(n), 1)) //nolint:gosec // which devices to read, not a secret
	lat := make([]time.Duration, r.c.Resolutions)
	for i := range lat {
		id := sample[rng.IntN(len(sample))]
		t0 := time.Now()
		res, err := r.c.Client.Resolve(ctx, id.String(), did.Options{})
		if err != nil {
			return m, fmt.Errorf("resolve %s: %w", id, err)
		}
		lat[i] = time.Since(t0)
		if res.Document == nil {
			return m, fmt.Errorf("resolve %s: no document", id)
		}
	}
	m.P50, m.P99 = Percentile(lat, 50), Percentile(lat, 99)
	return m, nil
}

// Percentile returns the p-th percentile of d (which it sorts).
func Percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)*p/100, len(d)-1)]
}

// counter counts a soak's operations and failures.
type counter struct {
	mu       sync.Mutex
	ops      map[string]int
	failed   int
	failures []string
	auth     []time.Duration
}

func (c *counter) done(kind string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.failed++
		if len(c.failures) < 10 {
			c.failures = append(c.failures, kind+": "+err.Error())
		}
		return
	}
	c.ops[kind]++
}

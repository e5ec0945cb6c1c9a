package loadgen

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
)

// soakOrigin is the origin of the soak's service.
const soakOrigin = "https://soak.example"

// The soak's mix, in twentieths of its operations.
var soakMix = [20]string{
	"register", "register", "register", "register",
	"resolve", "resolve", "resolve", "resolve", "resolve", "resolve", "resolve", "resolve", "resolve", "resolve",
	"authenticate", "authenticate", "authenticate", "authenticate", "authenticate",
	"revoke",
}

// maxSoakInFlight bounds the soak's operations in flight; an operation
// due while that many wait is counted late and skipped.
const maxSoakInFlight = 512

func newSigner() (cose.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return cose.NewSigner(priv)
}

// registerValidated registers an entity of kind with a new key and has
// the provider validate it.
func (r *run) registerValidated(ctx context.Context, kind string) (device, error) {
	s, err := newSigner()
	if err != nil {
		return device{}, err
	}
	id, err := r.register(ctx, kind, s)
	if err != nil {
		return device{}, err
	}
	tx, err := op.Sign(r.c.Admin, r.c.AdminKid, op.Payload{Type: op.TypeValidate, Network: r.network, Status: &op.Status{DID: id.String(), Version: 1}})
	if err != nil {
		return device{}, err
	}
	if err := submit(ctx, r.c.Client, tx); err != nil {
		return device{}, fmt.Errorf("validate %s: %w", id, err)
	}
	return device{id, s}, nil
}

func (r *run) register(ctx context.Context, kind string, s cose.Signer) (did.DID, error) {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce) // (never fails)
	tx, id, err := op.SignRegister(s, "k1", op.Payload{Network: r.network, Register: &op.Register{
		Kind: kind, Provider: r.prov, Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}}, Nonce: nonce,
	}})
	if err != nil {
		return did.DID{}, err
	}
	if err := submit(ctx, r.c.Client, tx); err != nil {
		return did.DID{}, fmt.Errorf("register: %w", err)
	}
	return id, nil
}

// soak runs the mixed load for c.Soak at c.Rate operations a second.
func (r *run) soak(ctx context.Context) (SoakReport, error) {
	svc, err := r.registerValidated(ctx, op.KindService)
	if err != nil {
		return SoakReport{}, err
	}
	nonceKey := make([]byte, 32)
	_, _ = rand.Read(nonceKey)
	iss := authn.NewIssuer(svc.id.WithFragment("k1"), soakOrigin, nonceKey, authn.NewMemorySpentSet(1<<16))
	r.mu.Lock()
	keyed, sample := r.keyed, r.sample
	r.mu.Unlock()
	if len(keyed) < 2 || len(sample) == 0 {
		return SoakReport{}, errors.New("soak: enroll more devices first")
	}
	// The first half of the keyed devices authenticate; the second half,
	// then the devices the soak registers, are revoked in turn.
	authDevs, revocable := keyed[:len(keyed)/2], keyed[len(keyed)/2:]
	var revMu sync.Mutex
	registered := []did.DID{}
	nextRevoke := func() (did.DID, bool) {
		revMu.Lock()
		defer revMu.Unlock()
		switch {
		case len(revocable) > 0:
			d := revocable[0].id
			revocable = revocable[1:]
			return d, true
		case len(registered) > 0:
			d := registered[0]
			registered = registered[1:]
			return d, true
		}
		return did.DID{}, false
	}
	cnt := &counter{ops: map[string]int{}}
	var authMu sync.Mutex
	var late int
	do := func(i int) error {
		switch soakMix[i%len(soakMix)] {
		case "register":
			s, err := newSigner()
			if err != nil {
				return err
			}
			id, err := r.register(ctx, op.KindDevice, s)
			if err == nil {
				revMu.Lock()
				registered = append(registered, id)
				revMu.Unlock()
			}
			return err
		case "resolve":
			id := sample[i*7919%len(sample)]
			_, err := r.c.Client.Resolve(ctx, id.String(), did.Options{})
			return err
		case "authenticate":
			dev := authDevs[i%len(authDevs)]
			t0 := time.Now()
			if err := r.authenticate(ctx, iss, svc, dev); err != nil {
				return err
			}
			authMu.Lock()
			cnt.auth = append(cnt.auth, time.Since(t0))
			authMu.Unlock()
			return nil
		default:
			id, ok := nextRevoke()
			if !ok {
				return nil
			}
			return r.revoke(ctx, id)
		}
	}
	rep := SoakReport{}
	start := time.Now()
	gap := time.Second / time.Duration(r.c.Rate)
	sem := make(chan struct{}, maxSoakInFlight)
	var wg sync.WaitGroup
	nextSample := time.Duration(0)
	for i := 0; ; i++ {
		at := time.Duration(i) * gap
		if at >= r.c.Soak || ctx.Err() != nil {
			break
		}
		if at >= nextSample && r.c.PID > 0 {
			rss, err := RSS(r.c.PID)
			if err != nil {
				return rep, err
			}
			rep.RSS = append(rep.RSS, Sample{At: time.Since(start), RSS: rss})
			r.log("soak %v: RSS %d MiB, %d failed", time.Since(start).Round(time.Second), rss>>20, cnt.failedCount())
			nextSample += r.c.Sample
		}
		time.Sleep(time.Until(start.Add(at)))
		select {
		case sem <- struct{}{}:
		default:
			late++
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			kind := soakMix[i%len(soakMix)]
			cnt.done(kind, do(i))
		})
	}
	wg.Wait()
	rep.Duration = time.Since(start)
	if r.c.PID > 0 {
		if rss, err := RSS(r.c.PID); err == nil {
			rep.RSS = append(rep.RSS, Sample{At: rep.Duration, RSS: rss})
		}
	}
	rep.Ops, rep.Failed, rep.Failures = cnt.ops, cnt.failed, cnt.failures
	if late > 0 {
		rep.Ops["late (skipped)"] = late
	}
	rep.AuthP50, rep.AuthP99 = Percentile(cnt.auth, 50), Percentile(cnt.auth, 99)
	if rep.Failed > 0 {
		return rep, fmt.Errorf("soak: %d operations failed, first: %s", rep.Failed, rep.Failures[0])
	}
	return rep, nil
}

func (c *counter) failedCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

// authenticate runs one authentication: the service's challenge, the
// device's proof, the node's decision over HTTP.
func (r *run) authenticate(ctx context.Context, iss *authn.Issuer, svc, dev device) error {
	now := time.Now().Unix()
	c, err := iss.New(now, 300)
	if err != nil {
		return err
	}
	cb, err := authn.SignChallenge(svc.key, c, authn.COSE)
	if err != nil {
		return err
	}
	dn := make([]byte, authn.NonceLen)
	_, _ = rand.Read(dn)
	pb, err := authn.SignProof(dev.key, &authn.Proof{Device: dev.id, Kid: dev.id.WithFragment("k1"), Service: svc.id,
		Origin: soakOrigin, ServiceNonce: c.Nonce, DeviceNonce: dn, IssuedAt: now}, authn.COSE)
	if err != nil {
		return err
	}
	d, err := r.c.Client.Verify(ctx, cb, pb)
	if err != nil {
		return err
	}
	if !d.OK {
		return fmt.Errorf("authentication of %s refused: %s %s", dev.id, d.Reason, d.Detail)
	}
	return nil
}

// revoke has the provider revoke id at its current version.
func (r *run) revoke(ctx context.Context, id did.DID) error {
	e, err := r.c.Client.Entity(ctx, id.String())
	if err != nil {
		return err
	}
	tx, err := op.Sign(r.c.Admin, r.c.AdminKid, op.Payload{Type: op.TypeRevoke, Network: r.network,
		Status: &op.Status{DID: id.String(), Version: e.Version, Reason: "compromised"}})
	if err != nil {
		return err
	}
	return submit(ctx, r.c.Client, tx)
}

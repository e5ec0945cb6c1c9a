package sdk

import (
	"context"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// fakeView is an in-memory ledger view: validated entities with real keys.
type fakeView struct {
	entities map[did.DID]*authn.Entity
}

func (f *fakeView) Entity(_ context.Context, id did.DID) (*authn.Entity, error) {
	return f.entities[id.Base()], nil
}

// Contract: there are no contracts.
func (f *fakeView) Contract(context.Context, string) (*record.Contract, error) { return nil, nil }

// add registers a validated entity of kind with a new key "k1" and
// returns its signer and key's DID URL.
func (f *fakeView) add(t testing.TB, name, kind string) (cose.Signer, did.DID) {
	t.Helper()
	return f.addAlg(t, name, kind, cose.AlgEdDSA)
}

// addAlg is add with a key of alg.
func (f *fakeView) addAlg(t testing.TB, name, kind string, alg cose.Alg) (cose.Signer, did.DID) {
	t.Helper()
	s, _, err := cose.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	id := did.New("local", []byte(name))
	f.entities[id] = &authn.Entity{DID: id.String(), Kind: kind, Status: op.StatusValidated, Keys: []op.Key{op.KeyFrom("k1", s.Public())}}
	return s, id.WithFragment("k1")
}

// TestChallengeConcurrentOnFreshService: the first requests a new Service
// (its zero value, as a new middleware has) meets may come at once; every
// challenge they are given must be answerable, none lost to a second
// challenge store made alongside the first. Each round is a fresh Service
// and 64 goroutines started together: under -race the detector catches
// the unsynchronized store in any round; without it, a lost challenge
// (fail/unknown-challenge) shows only when two goroutines meet in the
// store's making, which the rounds give a few chances.
func TestChallengeConcurrentOnFreshService(t *testing.T) {
	ctx := t.Context()
	v := &fakeView{entities: map[did.DID]*authn.Entity{}}
	svcKey, svcKid := v.add(t, "printer", op.KindService)
	devKey, devKid := v.add(t, "camera", op.KindDevice)
	now := time.Unix(1_800_000_000, 0)
	const rounds, n = 10, 64
	for round := range rounds {
		s := &Service{Signer: svcKey, Kid: svcKid, View: v, Now: func() time.Time { return now }, URL: "https://printer.example/"}
		challenges := make([][]byte, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				challenges[i], errs[i] = s.Challenge()
			})
		}
		close(start)
		wg.Wait()

		for i, b := range challenges {
			if errs[i] != nil {
				t.Fatalf("round %d, challenge %d: %v", round, i, errs[i])
			}
			c, d := authn.VerifyChallenge(ctx, v, "https://printer.example", b, now.Unix())
			if !d.OK {
				t.Fatalf("round %d, challenge %d: the device rejects it: %+v", round, i, d)
			}
			dn := make([]byte, authn.NonceLen)
			rand.Read(dn)
			p := &authn.Proof{Device: devKid.Base(), Kid: devKid, Service: c.Service, Origin: c.Origin, ServiceNonce: c.Nonce, DeviceNonce: dn, IssuedAt: now.Unix()}
			proof, err := authn.SignProof(devKey, p, authn.JWS)
			if err != nil {
				t.Fatal(err)
			}
			if d := s.Verify(ctx, proof); !d.OK {
				t.Errorf("round %d, challenge %d of %d: the answer is refused: %s (%s)", round, i, n, d.Reason, d.Detail)
			}
		}
	}
}

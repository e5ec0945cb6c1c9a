package sdk

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
)

// TestAnonymousChallengesDoNotDenyDevices (issue 18, finding 2): more
// anonymous requests for challenges than the old store held (65,536)
// leave a service able to admit a device, at once; unanswered challenges
// are kept nowhere.
func TestAnonymousChallengesDoNotDenyDevices(t *testing.T) {
	t.Parallel()
	v := &fakeView{entities: map[did.DID]*authn.Entity{}}
	// ES256: its signing is assembly, which the race detector does not
	// slow down (Ed25519's is Go).
	svcKey, svcKid := v.addAlg(t, "printer", op.KindService, cose.AlgES256)
	devKey, devKid := v.add(t, "camera", op.KindDevice)
	s := &Service{Signer: svcKey, Kid: svcKid, View: v, Encoding: authn.COSE}
	h := s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	const anonymous = 1<<16 + 4096
	var refused atomic.Int64
	var wg sync.WaitGroup
	next := make(chan struct{}, anonymous)
	for range anonymous {
		next <- struct{}{}
	}
	close(next)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for range next {
				if _, err := s.Challenge(); err != nil {
					refused.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := refused.Load(); n > 0 {
		t.Fatalf("%d of %d anonymous requests got no challenge", n, anonymous)
	}
	// One more anonymous request through the middleware gets its challenge.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") == "" {
		t.Fatalf("an anonymous request after the load: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	// A device, over a real socket, is admitted.
	c := &http.Client{Transport: &Transport{Device: &Device{Signer: devKey, Kid: devKid, View: v}}}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Fatalf("after %d anonymous challenges the device gets %d %q", anonymous, resp.StatusCode, body)
	}
}

// BenchmarkAnonymousChallenges: a service under 100,000 anonymous
// challenge requests (through its middleware) still admits a device; it
// reports the challenges per second against a raw signature rate measured
// in the same run (a challenge costs one signature and no memory).
func BenchmarkAnonymousChallenges(b *testing.B) {
	v := &fakeView{entities: map[did.DID]*authn.Entity{}}
	svcKey, svcKid := v.add(b, "printer", op.KindService)
	devKey, devKid := v.add(b, "camera", op.KindDevice)
	s := &Service{Signer: svcKey, Kid: svcKid, View: v, Encoding: authn.COSE}
	h := s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	s.URL = srv.URL
	const anonymous = 100_000
	msg := []byte("a message of about a challenge's size: 100 bytes, more or less, to sign with Ed25519 now")
	t0 := time.Now()
	for range 2000 {
		if _, err := svcKey.SignMessage(msg); err != nil {
			b.Fatal(err)
		}
	}
	raw := 2000 / time.Since(t0).Seconds()
	for range b.N {
		var wg sync.WaitGroup
		next := make(chan struct{}, anonymous)
		for range anonymous {
			next <- struct{}{}
		}
		close(next)
		start := time.Now()
		for range runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				for range next {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
					if rec.Code != http.StatusUnauthorized {
						b.Errorf("anonymous request: %d", rec.Code)
						return
					}
				}
			})
		}
		wg.Wait()
		rate := anonymous / time.Since(start).Seconds()
		c := &http.Client{Transport: &Transport{Device: &Device{Signer: devKey, Kid: devKid, View: v}}}
		resp, err := c.Get(srv.URL)
		if err != nil {
			b.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("after %d anonymous challenges the device gets %d", anonymous, resp.StatusCode)
		}
		b.ReportMetric(rate, "challenges/s")
		b.ReportMetric(rate/raw, "ratio-to-1-core-signing")
	}
}

package node_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/internal/oauth"
)

// rawES256VerifyRate is this machine's ECDSA P-256 verification rate on
// all cores now: the baseline of introspection, which verifies one ES256
// signature (the token key's).
func rawES256VerifyRate(b *testing.B) float64 {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	h := sha256.Sum256(make([]byte, 200))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, h[:])
	const per = 2000
	workers := runtime.GOMAXPROCS(0)
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range per {
				if !ecdsa.VerifyASN1(&k.PublicKey, h[:], sig) {
					b.Error("verify")
				}
			}
		})
	}
	wg.Wait()
	return float64(per*workers) / time.Since(start).Seconds()
}

// BenchmarkOAuth: at one node, access tokens issued per second (jwt-bearer
// of a P-256 camera: one ES256 verification of its assertion, the ledger
// reads and the contract run of the decision, one ES256 signature) and
// introspections per second (one ES256 verification of the token, one
// Ed25519 verification of the resource server's client assertion, the
// ledger reads),
// in process and over HTTP with 8 concurrent clients, each against the
// raw P-256 verification rate of the same run on the same cores (a token
// also signs once, which costs about as much: its ceiling is near 0.45).
func BenchmarkOAuth(b *testing.B) {
	w := newOAuthWorld(b)
	svc := w.svc.DID.String()
	as := w.h.Node.OAuth()
	for _, mode := range []string{"inprocess", "http"} {
		b.Run("token/"+mode, func(b *testing.B) {
			forms := make([]url.Values, b.N)
			for i := range forms {
				forms[i] = w.bearer(b, w.cam, svc, "read")
			}
			base := rawES256VerifyRate(b)
			b.ResetTimer()
			err := nodetest.Spread(b.N, 8, func(i int) error {
				if mode == "http" {
					return postOK(w.token, forms[i])
				}
				r, e := oauth.ParseTokenRequest([]byte(forms[i].Encode()), nil)
				if e == nil {
					_, e = as.Token(b.Context(), r, time.Now().Unix())
				}
				if e != nil {
					return e
				}
				return nil
			})
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			rate := float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(rate, "tokens/s")
			b.ReportMetric(base, "raw-es256-verify/s")
			b.ReportMetric(rate/base, "ratio")
		})
		b.Run("introspect/"+mode, func(b *testing.B) {
			code, out := post(b, w.token, w.bearer(b, w.cam, svc, "read"), "")
			if code != 200 {
				b.Fatalf("token: %d %v", code, out)
			}
			tok := out["access_token"].(string)
			// Each request authenticates its resource server (an Ed25519
			// private_key_jwt, used once), as RFC 7662 wants.
			forms := make([]url.Values, b.N)
			for i := range forms {
				now, id := time.Now().Unix(), w.svc.DID.String()
				forms[i] = url.Values{"token": {tok}, "client_assertion_type": {oauth.ClientAssertionType},
					"client_assertion": {assertion(b, w.svc.Signer, w.svc.DID.WithFragment("k1").String(),
						map[string]any{"iss": id, "sub": id, "aud": w.introspectPath, "iat": now, "exp": now + 300, "jti": randomJTI(b)})}}
			}
			base := rawES256VerifyRate(b)
			b.ResetTimer()
			err := nodetest.Spread(b.N, 8, func(i int) error {
				if mode == "http" {
					return postOK(w.introspectPath, forms[i])
				}
				r, e := oauth.ParseIntrospectRequest([]byte(forms[i].Encode()))
				if e != nil {
					return e
				}
				res, e := as.IntrospectFor(b.Context(), r, time.Now().Unix())
				if e != nil {
					return e
				}
				if !res.Active {
					return errInactiveToken
				}
				return nil
			})
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			rate := float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(rate, "introspections/s")
			b.ReportMetric(base, "raw-es256-verify/s")
			b.ReportMetric(rate/base, "ratio")
		})
	}
}

type benchError string

func (e benchError) Error() string { return string(e) }

const errInactiveToken = benchError("the token is not active")

// postOK posts a form and requires a 200 whose body is not an error.
func postOK(u string, form url.Values) error {
	resp, err := http.Post(u, "application/x-www-form-urlencoded", strings.NewReader(form.Encode())) //nolint:noctx // a benchmark's client
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	var buf [256]byte
	n, _ := resp.Body.Read(buf[:])
	if resp.StatusCode != http.StatusOK || strings.Contains(string(buf[:n]), `"active": false`) {
		return benchError(resp.Status + " " + string(buf[:n]))
	}
	return nil
}

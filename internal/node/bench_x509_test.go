package node_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/node/nodetest"
)

// rawSignRate measures P-256 ECDSA signatures per second on every core
// (the CA's signature of a certificate), in the same run.
func rawSignRate(b *testing.B) float64 {
	b.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256(make([]byte, 600))
	const per = 2000
	workers := runtime.GOMAXPROCS(0)
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range per {
				if _, err := ecdsa.SignASN1(rand.Reader, k, d[:]); err != nil {
					b.Error(err)
				}
			}
		})
	}
	wg.Wait()
	return float64(per*workers) / time.Since(start).Seconds()
}

// BenchmarkX509Issue: certificates issued per second at one node over
// HTTP (8 concurrent devices' requests, signed beforehand: the device's
// signature is the device's cost), against the raw P-256 signing rate of
// the same run. Each issuance verifies the request, reads the ledger,
// signs the certificate and syncs the index file before answering.
func BenchmarkX509Issue(b *testing.B) {
	h := nodetest.Start(b)
	h.Stop()
	h.Config.X509.PerDevice = 1 << 16 // b.N/8 certificates a device
	h.Restart()
	prov := h.Provider.DID.String()
	const devices = 8
	var devs []x509Device
	for range devices {
		devs = append(devs, newX509Device(b, h, cose.AlgES256, h.Provider))
	}
	reqs := make([][]byte, b.N)
	for i := range reqs {
		reqs[i] = devs[i%devices].request(b, prov, nil)
	}
	base := rawSignRate(b)
	next := make(chan []byte, len(reqs))
	for _, r := range reqs {
		next <- r
	}
	close(next)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range devices {
		wg.Go(func() {
			for r := range next {
				if _, err := h.Client.IssueCertificate(b.Context(), r); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	rate := float64(len(reqs)) / time.Since(start).Seconds()
	b.ReportMetric(rate, "certs/s")
	b.ReportMetric(base, "raw-signs/s")
	b.ReportMetric(rate/base, "ratio-to-raw")
}

// BenchmarkX509OCSP: OCSP answers per second at one node over HTTP (8
// concurrent clients asking about a good certificate: each answer reads
// the ledger and signs), against the raw P-256 signing rate.
func BenchmarkX509OCSP(b *testing.B) {
	h := nodetest.Start(b)
	d := newX509Device(b, h, cose.AlgES256, h.Provider)
	c, err := issue(b, h, d.request(b, h.Provider.DID.String(), nil))
	if err != nil {
		b.Fatal(err)
	}
	cert, caCert := parsed(b, c)
	req, err := ocsp.CreateRequest(cert, caCert, nil)
	if err != nil {
		b.Fatal(err)
	}
	url := h.Node.URL() + "/v1/x509/ocsp/" + h.Provider.DID.String()
	base := rawSignRate(b)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan struct{}, b.N)
	for range b.N {
		next <- struct{}{}
	}
	close(next)
	for range 8 {
		wg.Go(func() {
			for range next {
				resp, err := http.Post(url, "application/ocsp-request", bytes.NewReader(req))
				if err != nil {
					b.Error(err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if r, err := ocsp.ParseResponse(body, caCert); err != nil || r.Status != ocsp.Good {
					b.Errorf("OCSP: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	rate := float64(b.N) / time.Since(start).Seconds()
	b.ReportMetric(rate, "answers/s")
	b.ReportMetric(base, "raw-signs/s")
	b.ReportMetric(rate/base, "ratio-to-raw")
}

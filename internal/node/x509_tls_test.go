package node_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/sdk"
)

// TestX509SDKCertificates: sdk.Certificates gives a Go TLS client the
// device's certificate, which a TLS server that trusts only the
// provider's published CA accepts, reading the DID from the URI SAN; it
// renews the certificate once two thirds of its lifetime have passed,
// and keeps the one it has while the node cannot renew it.
func TestX509SDKCertificates(t *testing.T) {
	h := nodetest.Start(t)
	d := newX509Device(t, h, cose.AlgEdDSA, h.Provider)

	// The server trusts the CA the provider publishes on the ledger.
	var cas [][]byte
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var err error
		if cas, err = h.Client.CACertificates(t.Context(), h.Provider.DID.String()); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	pool := x509.NewCertPool()
	for _, der := range cas {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		pool.AddCert(c)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, r.TLS.PeerCertificates[0].URIs[0].String()) //nolint:gosec // text/plain, a test
	}))
	srv.TLS = &tls.Config{ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS13}
	srv.StartTLS()
	defer srv.Close()

	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	certs := &sdk.Certificates{Client: h.Client, Key: d.priv, Kid: d.DID.WithFragment("k1"), Provider: h.Provider.DID.String(), Lifetime: time.Hour, Now: clock}
	client := srv.Client()
	client.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate = certs.GetClientCertificate
	get := func() string {
		t.Helper()
		client.CloseIdleConnections() // a new handshake each time
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := get(); got != d.DID.String() {
		t.Fatalf("the server saw %q, want %s", got, d.DID)
	}
	first, _ := certs.Certificate(t.Context())
	if get(); mustCert(t, certs) != first {
		t.Error("renewed before its time")
	}
	mu.Lock()
	now = now.Add(41 * time.Minute)
	mu.Unlock()
	if got := get(); got != d.DID.String() {
		t.Fatalf("after renewal the server saw %q", got)
	}
	second := mustCert(t, certs)
	if second == first || second.Leaf.SerialNumber.Cmp(first.Leaf.SerialNumber) == 0 {
		t.Fatal("not renewed after two thirds of its lifetime")
	}
	// The node down: the certificate (issued by the node's clock, so due
	// for renewal on the test's) is kept while it is valid, and given up
	// once it has expired.
	h.Stop()
	if c := mustCert(t, certs); c != second {
		t.Error("lost the valid certificate when renewal failed")
	}
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	if c, err := certs.Certificate(t.Context()); err == nil {
		t.Errorf("an expired certificate (until %v) returned", c.Leaf.NotAfter)
	}
}

func mustCert(t *testing.T, c *sdk.Certificates) *tls.Certificate {
	t.Helper()
	got, err := c.Certificate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return got
}

package ca

import (
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // RFC 5280's key identifier method
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
	"github.com/bias-iot/bias/x509ca"
)

// issueWorld is an authority of provider p and one validated device.
type issueWorld struct {
	a    *Authority
	dev  cose.Signer
	kid  did.DID
	view *switchView
	now  time.Time
}

// switchView is a ledger of one entity whose record a test may swap.
type switchView struct {
	mu    sync.Mutex
	e     *record.Entity
	reads int
	left  int            // reads of e before later is read
	later *record.Entity // if set
}

func (v *switchView) EntityRecord(_ context.Context, _ string) (*record.Entity, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.reads++
	if v.later != nil && v.reads > v.left {
		return v.later, nil
	}
	return v.e, nil
}

// after makes the view answer e for n reads, then later.
func (v *switchView) after(n int, later *record.Entity) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.reads, v.left, v.later = 0, n, later
}

func newIssueWorld(t *testing.T, mod func(*Config)) *issueWorld {
	t.Helper()
	prov := did.New("local", []byte("p")).String()
	c, err := Ensure(t.TempDir(), prov, "p")
	if err != nil {
		t.Fatal(err)
	}
	dev, _, err := cose.GenerateKey(cose.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	id := did.New("local", []byte("device"))
	w := &issueWorld{dev: dev, kid: id.WithFragment("k1"), now: time.Now()}
	w.view = &switchView{e: &record.Entity{DID: id.String(), Kind: op.KindDevice, Provider: prov, Status: op.StatusValidated,
		Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", dev.Public())}}}}
	cfg := Config{CA: c, View: w.view, Network: "local", Dir: t.TempDir(), Now: func() time.Time { return w.now }}
	if mod != nil {
		mod(&cfg)
	}
	if w.a, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.a.Close() })
	return w
}

func (w *issueWorld) request(t *testing.T) []byte {
	t.Helper()
	jti, err := x509ca.NewID()
	if err != nil {
		t.Fatal(err)
	}
	b, err := x509ca.SignRequest(w.dev, w.kid, x509ca.Request{Audience: w.a.Provider(), IssuedAt: w.now.Unix(), ID: jti})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestIssueBounds: a device's limit holds under concurrent requests; a
// certificate never outlives its CA's; it names its key (subject key
// identifier, RFC 5280 section 4.2.1.2's method 1).
func TestIssueBounds(t *testing.T) {
	w := newIssueWorld(t, func(c *Config) { c.PerDevice = 3 })
	reqs := make([][]byte, 12)
	for i := range reqs {
		reqs[i] = w.request(t)
	}
	var ok, tooMany atomic.Int32
	var wg sync.WaitGroup
	for _, r := range reqs {
		wg.Go(func() {
			_, err := w.a.Issue(t.Context(), r)
			var xe *x509ca.Error
			switch {
			case err == nil:
				ok.Add(1)
			case errors.As(err, &xe) && xe.Reason == x509ca.ReasonTooMany:
				tooMany.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 3 || tooMany.Load() != 9 {
		t.Fatalf("issued %d, refused %d as too many: the limit is 3", ok.Load(), tooMany.Load())
	}

	// Near the end of the CA's validity, a certificate ends with it.
	w = newIssueWorld(t, nil)
	w.now = w.a.ca.Cert.NotAfter.Add(-time.Hour)
	c, err := w.a.Issue(t.Context(), w.request(t))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Cert.NotAfter.Equal(w.a.ca.Cert.NotAfter) {
		t.Errorf("notAfter %v; the CA's is %v", c.Cert.NotAfter, w.a.ca.Cert.NotAfter)
	}
	w.now = w.a.ca.Cert.NotAfter.Add(time.Second)
	var xe *x509ca.Error
	if _, err := w.a.Issue(t.Context(), w.request(t)); !errors.As(err, &xe) || xe.Reason != x509ca.ReasonNoCA {
		t.Errorf("fail/ca-expired: %v", err)
	}

	// The subject key identifier is the SHA-1 of the key's bits.
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.Cert.RawSubjectPublicKeyInfo, &spki); err != nil {
		t.Fatal(err)
	}
	if want := sha1.Sum(spki.PublicKey.RightAlign()); !bytes.Equal(c.Cert.SubjectKeyId, want[:]) { //nolint:gosec // as above
		t.Errorf("SKI %x, want %x", c.Cert.SubjectKeyId, want)
	}
	if !bytes.Equal(c.Cert.AuthorityKeyId, w.a.ca.Cert.SubjectKeyId) {
		t.Errorf("AKI %x; the CA's SKI %x", c.Cert.AuthorityKeyId, w.a.ca.Cert.SubjectKeyId)
	}
	if err := c.Cert.CheckSignatureFrom(w.a.ca.Cert); err != nil {
		t.Error(err)
	}
}

// TestIssueRevokedMeanwhile: a device revoked between the CA's first
// read and its recheck gets no certificate; the one made is revoked.
func TestIssueRevokedMeanwhile(t *testing.T) {
	w := newIssueWorld(t, nil)
	revoked := *w.view.e
	revoked.Status = op.StatusRevoked
	w.view.after(1, &revoked) // the signer's read sees it validated, the recheck revoked
	var xe *x509ca.Error
	if _, err := w.a.Issue(t.Context(), w.request(t)); !errors.As(err, &xe) || xe.Reason != x509ca.ReasonRevoked {
		t.Fatalf("issued to a device revoked meanwhile: %v", err)
	}
	if n := w.a.idx.Len(); n != 1 {
		t.Fatalf("index holds %d", n)
	}
	if r := w.a.idx.RevokedUnexpired(w.now.Unix()); len(r) != 1 {
		t.Errorf("the certificate made is not revoked: %+v", r)
	}
}

package node_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/ca"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// ocspStatus asks the node's OCSP responder about cert (POST), checks the
// response's signature by the CA, and returns it.
func ocspStatus(t *testing.T, h *nodetest.Harness, cert, caCert *x509.Certificate) *ocsp.Response {
	t.Helper()
	req, err := ocsp.CreateRequest(cert, caCert, &ocsp.RequestOptions{Hash: 0})
	if err != nil {
		t.Fatal(err)
	}
	// The node's URL, not the certificate's: a restart moves the port.
	resp, err := http.Post(h.Node.URL()+"/v1/x509/ocsp/"+h.Provider.DID.String(), "application/ocsp-request", bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/ocsp-response" {
		t.Fatalf("OCSP: %d %s %v", resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	r, err := ocsp.ParseResponseForCert(b, cert, caCert)
	if err != nil {
		t.Fatalf("OCSP response: %v", err)
	}
	if r.SerialNumber.Cmp(cert.SerialNumber) != 0 || r.ThisUpdate.After(time.Now().Add(time.Second)) || !r.NextUpdate.After(time.Now()) {
		t.Errorf("OCSP response for %v, %v..%v", r.SerialNumber, r.ThisUpdate, r.NextUpdate)
	}
	return r
}

// crl fetches the CA's CRL, checks its signature, and returns it.
func crl(t *testing.T, h *nodetest.Harness, caCert *x509.Certificate) *x509.RevocationList {
	t.Helper()
	b, err := h.Client.CRL(t.Context(), h.Provider.DID.String())
	if err != nil {
		t.Fatal(err)
	}
	l, err := x509.ParseRevocationList(b)
	if err != nil {
		t.Fatalf("CRL: %v", err)
	}
	if err := l.CheckSignatureFrom(caCert); err != nil {
		t.Fatalf("CRL signature: %v", err)
	}
	return l
}

func listed(l *x509.RevocationList, serial *big.Int) (x509.RevocationListEntry, bool) {
	for _, e := range l.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(serial) == 0 {
			return e, true
		}
	}
	return x509.RevocationListEntry{}, false
}

// waitListed waits until the CRL lists serial (the node re-signs it after
// the block that revoked it), for at most 10 s.
func waitListed(t *testing.T, h *nodetest.Harness, caCert *x509.Certificate, serial *big.Int) x509.RevocationListEntry {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if e, ok := listed(crl(t, h, caCert), serial); ok {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("serial %x is not in the CRL", serial)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestX509Revocation: OCSP and the CRL follow the ledger: a certificate is
// good while its device is validated and its key current; a revocation,
// a rejection after a self-update, a deactivation and a key rotation each
// revoke it (OCSP at once, the CRL file and endpoint after the block), and
// a restart forgets nothing.
func TestX509Revocation(t *testing.T) {
	h := nodetest.Start(t)
	prov := h.Provider.DID.String()
	get := func(d x509Device) (*x509.Certificate, *x509.Certificate) {
		c, err := issue(t, h, d.request(t, prov, nil))
		if err != nil {
			t.Fatal(err)
		}
		return parsed(t, c)
	}

	revokedDev := newX509Device(t, h, cose.AlgES256, h.Provider)
	rc, caCert := get(revokedDev)
	rotatedDev := newX509Device(t, h, cose.AlgEdDSA, h.Provider)
	oc, _ := get(rotatedDev)
	deactDev := newX509Device(t, h, cose.AlgES256, h.Provider)
	dc, _ := get(deactDev)

	if r := ocspStatus(t, h, rc, caCert); r.Status != ocsp.Good {
		t.Fatalf("OCSP before revocation: %d", r.Status)
	}
	if _, ok := listed(crl(t, h, caCert), rc.SerialNumber); ok {
		t.Fatal("listed before revocation")
	}
	// An unknown serial.
	fake := *rc
	fake.SerialNumber = big.NewInt(12345)
	if r := ocspStatus(t, h, &fake, caCert); r.Status != ocsp.Unknown {
		t.Errorf("OCSP of an unknown serial: %d", r.Status)
	}

	// The index is on disk: a restart between issuance and revocation.
	h.Stop()
	h.Restart()

	h.MustSubmit(h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeRevoke, Status: &op.Status{DID: revokedDev.DID.String(), Version: 2, Reason: "compromised"}}))
	if r := ocspStatus(t, h, rc, caCert); r.Status != ocsp.Revoked {
		t.Errorf("OCSP after revocation: %d", r.Status)
	}
	if e := waitListed(t, h, caCert, rc.SerialNumber); e.ReasonCode != 9 {
		t.Errorf("CRL reason %d, want privilegeWithdrawn (9)", e.ReasonCode)
	}

	k2 := nodetest.NewKey(t, cose.AlgEdDSA)
	h.MustSubmit(h.Sign(rotatedDev.Signer, rotatedDev.DID.WithFragment("k1"), op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: rotatedDev.DID.String(), Version: 2, Doc: op.Document{Keys: []op.Key{op.KeyFrom("k2", k2.Public())}}}}))
	if e := waitListed(t, h, caCert, oc.SerialNumber); e.ReasonCode != 4 {
		t.Errorf("CRL reason %d, want superseded (4)", e.ReasonCode)
	}
	if r := ocspStatus(t, h, oc, caCert); r.Status != ocsp.Revoked || r.RevocationReason != ocsp.Superseded {
		t.Errorf("OCSP after rotation: %d %d", r.Status, r.RevocationReason)
	}

	h.MustSubmit(h.Sign(deactDev.Signer, deactDev.DID.WithFragment("k1"), op.Payload{Type: op.TypeDeactivate, Status: &op.Status{DID: deactDev.DID.String(), Version: 2}}))
	if e := waitListed(t, h, caCert, dc.SerialNumber); e.ReasonCode != 5 {
		t.Errorf("CRL reason %d, want cessationOfOperation (5)", e.ReasonCode)
	}

	// The CRL file holds what the endpoint serves (PEM); it is written
	// after the endpoint's CRL changes, so it may lag a moment.
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(h.Home, "x509", "crl.pem"))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != "X509 CRL" {
			t.Fatalf("CRL file: %q", b[:min(len(b), 40)])
		}
		l, err := x509.ParseRevocationList(blk.Bytes)
		if err != nil {
			t.Fatalf("CRL file: %v", err)
		}
		if n := len(l.RevokedCertificateEntries); n == 3 {
			break
		} else if n > 3 || time.Now().After(deadline) {
			t.Fatalf("CRL file: %d entries, want 3", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestX509RejectedAfterSelfUpdate: a device whose own update sends it back
// to pending loses its certificate until validated again (the cert stays
// revoked: a new one is issued).
func TestX509PendingRevokes(t *testing.T) {
	h := nodetest.Start(t)
	d := newX509Device(t, h, cose.AlgES256, h.Provider)
	c, err := issue(t, h, d.request(t, h.Provider.DID.String(), nil))
	if err != nil {
		t.Fatal(err)
	}
	cert, caCert := parsed(t, c)
	doc := op.Document{Keys: []op.Key{op.KeyFrom("k1", d.Signer.Public())}, Attrs: []op.Attr{{K: "fw", V: "2"}}}
	r := h.MustSubmit(h.Sign(d.Signer, d.DID.WithFragment("k1"), op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: d.DID.String(), Version: 2, Doc: doc}}))
	if r.EntityStatus != op.StatusPending {
		t.Fatalf("after self-update: %s", r.EntityStatus)
	}
	waitListed(t, h, caCert, cert.SerialNumber)
	if o := ocspStatus(t, h, cert, caCert); o.Status != ocsp.Revoked {
		t.Errorf("OCSP: %d", o.Status)
	}
}

// TestX509CAPublished: the node publishes its CA certificate on the
// ledger at start, keeping the provider's token keys; GET
// /v1/x509/ca/{provider} serves it, and it is the certificate that
// chains what the node issues.
func TestX509CAPublished(t *testing.T) {
	h := nodetest.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var cas [][]byte
	for ctx.Err() == nil {
		var err error
		if cas, err = h.Client.CACertificates(ctx, h.Provider.DID.String()); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(cas) != 1 {
		t.Fatalf("published CA certificates: %d", len(cas))
	}
	d := newX509Device(t, h, cose.AlgES256, h.Provider)
	c, err := issue(t, h, d.request(t, h.Provider.DID.String(), nil))
	if err != nil {
		t.Fatal(err)
	}
	_, caCert := parsed(t, c)
	if !bytes.Equal(caCert.Raw, cas[0]) {
		t.Error("the published CA is not the issuing CA")
	}
	// A token key published beside it (as the OAuth side does) survives
	// a restart's check of the publication. (First the node's own
	// publications at start settle: its CA and its OAuth token key.)
	var p *sdk.ProviderView
	for {
		if p, err = h.Client.Provider(ctx, h.Provider.DID.String()); err != nil {
			t.Fatal(err)
		}
		if p.Publication != nil && len(p.Publication.CA) == 1 && len(p.Publication.TokenKeys) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	tk := nodetest.NewKey(t, cose.AlgEdDSA)
	h.MustSubmit(h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypePublish, Publish: &op.Publish{
		Provider: h.Provider.DID.String(), Version: p.Publication.Version, CA: cas, TokenKeys: append(tokenKeysOf(t, p), op.KeyFrom("tk1", tk.Public())),
	}}))
	h.Stop()
	h.Restart()
	time.Sleep(500 * time.Millisecond)
	p, err = h.Client.Provider(ctx, h.Provider.DID.String())
	if err != nil || len(p.Publication.CA) != 1 || !slices.ContainsFunc(p.Publication.TokenKeys, func(k sdk.KeyView) bool { return k.ID == "tk1" }) {
		t.Fatalf("after restart: %+v %v", p.Publication, err)
	}
	if _, err := h.Client.CACertificates(ctx, h.Other.DID.String()); !x509Reason(err, "x509-no-ca") {
		t.Errorf("a provider without a CA: %v", err)
	}
}

func x509Reason(err error, r string) bool {
	var ae *sdk.APIError
	return errors.As(err, &ae) && ae.Reason == r
}

// TestX509OCSPForms: the GET form (RFC 6960 A.1, base64 in the path, as
// nginx sends it) answers as POST does; junk gets malformedRequest, a
// request about another CA's certificate unauthorized (OCSP error
// responses), a provider whose CA this node does not run 404 x509-no-ca,
// and a POST of another type 415.
func TestX509OCSPForms(t *testing.T) {
	h := nodetest.Start(t)
	d := newX509Device(t, h, cose.AlgES256, h.Provider)
	c, err := issue(t, h, d.request(t, h.Provider.DID.String(), nil))
	if err != nil {
		t.Fatal(err)
	}
	cert, caCert := parsed(t, c)
	base := h.Node.URL() + "/v1/x509/ocsp/" + h.Provider.DID.String()
	do := func(method, url, ctype string, body []byte) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	der, err := ocsp.CreateRequest(cert, caCert, nil)
	if err != nil {
		t.Fatal(err)
	}
	code, b := do(http.MethodGet, base+"/"+url.PathEscape(base64.StdEncoding.EncodeToString(der)), "", nil)
	if code != http.StatusOK {
		t.Fatalf("GET: %d %s", code, b)
	}
	if r, err := ocsp.ParseResponseForCert(b, cert, caCert); err != nil || r.Status != ocsp.Good {
		t.Fatalf("GET answer: %v", err)
	}
	code, b = do(http.MethodPost, base, "application/ocsp-request", []byte("junk"))
	if _, err := ocsp.ParseResponse(b, nil); code != http.StatusOK || !errors.Is(err, ocsp.ResponseError{Status: ocsp.Malformed}) {
		t.Errorf("junk: %d %v", code, err)
	}
	// A certificate of another CA (the othernet-free way: a self-made one).
	otherCA := *caCert
	otherCA.RawSubject = []byte{0x30, 0x00}
	der2, err := ocsp.CreateRequest(cert, &otherCA, nil)
	if err != nil {
		t.Fatal(err)
	}
	code, b = do(http.MethodPost, base, "application/ocsp-request", der2)
	if _, err := ocsp.ParseResponse(b, nil); code != http.StatusOK || !errors.Is(err, ocsp.ResponseError{Status: ocsp.Unauthorized}) {
		t.Errorf("another issuer: %d %v", code, err)
	}
	// Refusals are in OCSP's form too: a client reads them as it reads
	// any answer.
	code, b = do(http.MethodPost, h.Node.URL()+"/v1/x509/ocsp/"+h.Other.DID.String(), "application/ocsp-request", der)
	if _, err := ocsp.ParseResponse(b, nil); code != http.StatusOK || !errors.Is(err, ocsp.ResponseError{Status: ocsp.Unauthorized}) {
		t.Errorf("another provider: %d %v", code, err)
	}
	code, b = do(http.MethodPost, base, "text/plain", der)
	if _, err := ocsp.ParseResponse(b, nil); code != http.StatusUnsupportedMediaType || !errors.Is(err, ocsp.ResponseError{Status: ocsp.Malformed}) {
		t.Errorf("text/plain: %d %v", code, err)
	}
	for name, path := range map[string]string{
		"fail/not-base64": base + "/not*base64",
		"fail/oversized":  base + "/" + strings.Repeat("A", 4*ca.MaxOCSPRequest),
	} {
		code, b = do(http.MethodGet, path, "", nil)
		if _, err := ocsp.ParseResponse(b, nil); code != http.StatusOK || !errors.Is(err, ocsp.ResponseError{Status: ocsp.Malformed}) {
			t.Errorf("%s: %d %v", name, code, err)
		}
	}
	// A GET as clients send it: base64 unescaped in the path, "+" and "/"
	// as they are, "//" too (which a path cleaner would redirect), after
	// the client's own "/". Requests for serials this CA never issued
	// make such a base64 soon.
	var doubled string
	for i := int64(1); doubled == "" && i < 1<<16; i++ {
		probe := *cert
		probe.SerialNumber = big.NewInt(i)
		d, err := ocsp.CreateRequest(&probe, caCert, nil)
		if err != nil {
			t.Fatal(err)
		}
		if enc := base64.StdEncoding.EncodeToString(d); strings.Contains(enc, "//") {
			doubled = enc
		}
	}
	for _, enc := range []string{doubled, base64.StdEncoding.EncodeToString(der)} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base, nil)
		req.URL.Opaque = "//" + req.URL.Host + strings.TrimPrefix(base, h.Node.URL()) + "//" + enc
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if r, err := ocsp.ParseResponse(b, caCert); resp.StatusCode != http.StatusOK || err != nil || r == nil {
			t.Errorf("GET %s: %d %v", enc, resp.StatusCode, err)
		}
	}
	if code, b = do(http.MethodPost, h.Node.URL()+"/v1/x509/issue", "text/plain", []byte("x")); code != http.StatusUnsupportedMediaType {
		t.Errorf("issue as text/plain: %d %s", code, b)
	}
	if code, b = do(http.MethodGet, h.Node.URL()+"/v1/x509/crl/"+h.Other.DID.String(), "", nil); code != http.StatusNotFound || !strings.Contains(string(b), "x509-no-ca") {
		t.Errorf("CRL of another provider: %d %s", code, b)
	}
}

// tokenKeysOf is a publication's token keys, as op keys.
func tokenKeysOf(t *testing.T, p *sdk.ProviderView) []op.Key {
	t.Helper()
	var out []op.Key
	for _, k := range p.Publication.TokenKeys {
		pub, err := base64.RawURLEncoding.DecodeString(k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		alg, err := cose.ParseAlg(k.Alg)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, op.Key{ID: k.ID, Alg: int64(alg), Pub: pub})
	}
	return out
}

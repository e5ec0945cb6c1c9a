package node_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
	"github.com/bias-iot/bias/x509ca"
)

// x509Device is a validated device with its private key (for CSRs).
type x509Device struct {
	nodetest.Entity
	priv crypto.Signer
}

func newX509Device(t testing.TB, h *nodetest.Harness, alg cose.Alg, provider nodetest.Provider, aliases ...string) x509Device {
	t.Helper()
	s, priv, err := cose.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	p := h.RegisterPayload(op.KindDevice, provider.DID, s)
	tx, id := h.SignRegister(s, p)
	h.MustSubmit(tx)
	h.MustSubmit(h.Sign(provider.Signer, provider.Kid, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: id.String(), Version: 1}}))
	if len(aliases) > 0 {
		doc := p.Register.Doc
		doc.Aliases = aliases
		h.MustSubmit(h.Sign(provider.Signer, provider.Kid, op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: id.String(), Version: 2, Doc: doc}}))
	}
	return x509Device{Entity: nodetest.Entity{Signer: s, KeyID: "k1", DID: id}, priv: priv}
}

func (d x509Device) request(t testing.TB, aud string, mod func(*x509ca.Request)) []byte {
	t.Helper()
	jti, err := x509ca.NewID()
	if err != nil {
		t.Fatal(err)
	}
	r := x509ca.Request{Audience: aud, IssuedAt: time.Now().Unix(), ID: jti}
	if mod != nil {
		mod(&r)
	}
	b, err := x509ca.SignRequest(d.Signer, d.DID.WithFragment(d.KeyID), r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func csr(t testing.TB, priv crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	b, err := x509.CreateCertificateRequest(rand.Reader, tmpl, priv)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func issue(t testing.TB, h *nodetest.Harness, req []byte) (*sdk.X509Certificate, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	return h.Client.IssueCertificate(ctx, req)
}

// parsed parses an issued certificate and its CA with crypto/x509 and
// checks the chain for client authentication.
func parsed(t testing.TB, c *sdk.X509Certificate) (*x509.Certificate, *x509.Certificate) {
	t.Helper()
	cb, _ := pem.Decode([]byte(c.Certificate))
	ab, _ := pem.Decode([]byte(c.CA))
	if cb == nil || ab == nil {
		t.Fatalf("not PEM: %+v", c)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatalf("issued certificate: %v", err)
	}
	caCert, err := x509.ParseCertificate(ab.Bytes)
	if err != nil {
		t.Fatalf("CA certificate: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("chain: %v", err)
	}
	return cert, caCert
}

// TestX509Issue: a validated device gets a certificate for its registered
// key, P-256 and Ed25519, with and without a CSR; every field checked.
func TestX509Issue(t *testing.T) {
	h := nodetest.Start(t)
	prov := h.Provider.DID.String()
	for _, tc := range []struct {
		name string
		alg  cose.Alg
		csr  bool
		mac  string
	}{
		{"ok/p256", cose.AlgES256, false, "urn:dev:mac:0024befffe804ff1"}, {"ok/ed25519", cose.AlgEdDSA, false, "urn:dev:mac:0024befffe804ff2"},
		{"ok/p256-csr", cose.AlgES256, true, "urn:dev:mac:0024befffe804ff3"}, {"ok/ed25519-csr", cose.AlgEdDSA, true, "urn:dev:mac:0024befffe804ff4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newX509Device(t, h, tc.alg, h.Provider, tc.mac)
			req := d.request(t, prov, func(r *x509ca.Request) {
				r.Lifetime = 3600
				if tc.csr {
					r.CSR = csr(t, d.priv, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ignored"}, URIs: []*url.URL{{Scheme: "did", Opaque: strings.TrimPrefix(d.DID.String(), "did:")}}})
				}
			})
			before := time.Now()
			got, err := issue(t, h, req)
			if err != nil {
				t.Fatalf("issue: %v", err)
			}
			cert, caCert := parsed(t, got)
			pk, err := cose.PublicKeyFrom(cert.PublicKey)
			if err != nil || !pk.Equal(d.Signer.Public()) {
				t.Errorf("the certificate's key is not the registered key")
			}
			var uris []string
			for _, u := range cert.URIs {
				uris = append(uris, u.String())
			}
			if want := append([]string{d.DID.String()}, h.Entity(d.DID).Aliases...); len(want) != 2 || !slices.Equal(uris, want) {
				t.Errorf("URI SANs %v, want %v", uris, want)
			}
			if cert.Subject.CommonName != d.DID.String() || got.DID != d.DID.String() || got.Provider != prov {
				t.Errorf("subject %q, view %+v", cert.Subject, got)
			}
			if cert.IsCA || !cert.BasicConstraintsValid || cert.KeyUsage != x509.KeyUsageDigitalSignature || !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
				t.Errorf("usage: CA %v, KU %v, EKU %v", cert.IsCA, cert.KeyUsage, cert.ExtKeyUsage)
			}
			if len(cert.DNSNames)+len(cert.IPAddresses)+len(cert.EmailAddresses) != 0 {
				t.Errorf("names other than URIs: %v %v %v", cert.DNSNames, cert.IPAddresses, cert.EmailAddresses)
			}
			if life := cert.NotAfter.Sub(before); life < 59*time.Minute || life > 61*time.Minute {
				t.Errorf("lifetime %v, want 1h", life)
			}
			if len(cert.OCSPServer) != 1 || !strings.HasSuffix(cert.OCSPServer[0], "/v1/x509/ocsp/"+prov) ||
				len(cert.CRLDistributionPoints) != 1 || !strings.HasSuffix(cert.CRLDistributionPoints[0], "/v1/x509/crl/"+prov) {
				t.Errorf("OCSP %v, CRL %v", cert.OCSPServer, cert.CRLDistributionPoints)
			}
			if len(caCert.URIs) != 1 || caCert.URIs[0].String() != prov || !caCert.IsCA {
				t.Errorf("CA certificate: %v", caCert.URIs)
			}
			if len(cert.SerialNumber.Bytes()) != 16 {
				t.Errorf("serial of %d bytes", len(cert.SerialNumber.Bytes()))
			}
		})
	}
	t.Run("ok/default-lifetime", func(t *testing.T) {
		d := newX509Device(t, h, cose.AlgES256, h.Provider)
		got, err := issue(t, h, d.request(t, prov, nil))
		if err != nil {
			t.Fatal(err)
		}
		cert, _ := parsed(t, got)
		if life := time.Until(cert.NotAfter); life < 23*time.Hour || life > 24*time.Hour+time.Minute {
			t.Errorf("default lifetime %v, want 24h", life)
		}
	})
}

// TestX509Refusals: a named case for every refusal of the issuing
// endpoint; nothing is issued for any of them.
func TestX509Refusals(t *testing.T) {
	h := nodetest.Start(t)
	prov := h.Provider.DID.String()
	good := newX509Device(t, h, cose.AlgES256, h.Provider)
	ed := newX509Device(t, h, cose.AlgEdDSA, h.Provider)

	pending := h.Register(op.KindDevice, h.Provider.DID, cose.AlgES256)
	rejected := h.Register(op.KindDevice, h.Provider.DID, cose.AlgES256)
	h.MustSubmit(h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeReject, Status: &op.Status{DID: rejected.DID.String(), Version: 1}}))
	revoked := newX509Device(t, h, cose.AlgES256, h.Provider)
	h.MustSubmit(h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeRevoke, Status: &op.Status{DID: revoked.DID.String(), Version: 2}}))
	deactivated := newX509Device(t, h, cose.AlgES256, h.Provider)
	h.MustSubmit(h.Sign(deactivated.Signer, deactivated.DID.WithFragment("k1"), op.Payload{Type: op.TypeDeactivate, Status: &op.Status{DID: deactivated.DID.String(), Version: 2}}))
	svc := h.RegisterValidated(op.KindService, cose.AlgES256)
	rotated := newX509Device(t, h, cose.AlgES256, h.Provider)
	k2 := nodetest.NewKey(t, cose.AlgES256)
	h.MustSubmit(h.Sign(rotated.Signer, rotated.DID.WithFragment("k1"), op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: rotated.DID.String(), Version: 2, Doc: op.Document{Keys: []op.Key{op.KeyFrom("k2", k2.Public())}}}}))

	stranger := nodetest.NewKey(t, cose.AlgES256)
	unregistered := did.New(h.Network, []byte("nobody")).WithFragment("k1")
	otherNet := did.DID{Network: "othernet", Suffix: good.DID.Suffix, Fragment: "k1"}
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, otherEd, _ := ed25519.GenerateKey(rand.Reader)

	sign := func(s cose.Signer, kid did.DID, mod func(*x509ca.Request)) []byte {
		jti, _ := x509ca.NewID()
		r := x509ca.Request{Audience: prov, IssuedAt: time.Now().Unix(), ID: jti}
		if mod != nil {
			mod(&r)
		}
		b, err := x509ca.SignRequest(s, kid, r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	withCSR := func(d x509Device, tmpl *x509.CertificateRequest) []byte {
		return d.request(t, prov, func(r *x509ca.Request) { r.CSR = csr(t, d.priv, tmpl) })
	}
	bcCA, _ := asn1.Marshal(struct{ IsCA bool }{true})
	replayed := good.request(t, prov, nil)
	if _, err := issue(t, h, replayed); err != nil {
		t.Fatalf("first use: %v", err)
	}
	full := newX509Device(t, h, cose.AlgEdDSA, h.Provider)
	for i := range 16 {
		if _, err := issue(t, h, full.request(t, prov, nil)); err != nil {
			t.Fatalf("certificate %d of 16: %v", i+1, err)
		}
	}
	tampered := good.request(t, prov, nil)
	tampered[len(tampered)-1] ^= 1

	for _, tc := range []struct {
		name string
		req  []byte
		want x509ca.Reason
	}{
		{"fail/malformed", []byte("not cose"), x509ca.ReasonMalformed},
		{"fail/malformed-payload", mustCOSE(t, good.Signer, good.DID.WithFragment("k1"), []byte{0xa0}), x509ca.ReasonMalformed},
		{"fail/short-jti", good.request(t, prov, func(r *x509ca.Request) { r.ID = r.ID[:8] }), x509ca.ReasonMalformed},
		{"fail/oversized", make([]byte, x509ca.MaxRequestBytes+1), x509ca.ReasonOversized},
		{"fail/other-network", sign(good.Signer, otherNet, nil), x509ca.ReasonWrongNetwork},
		{"fail/other-audience", good.request(t, h.Other.DID.String(), nil), x509ca.ReasonWrongAudience},
		{"fail/unknown-did", sign(stranger, unregistered, nil), x509ca.ReasonUnknownDID},
		{"fail/unknown-key", sign(good.Signer, good.DID.WithFragment("k9"), nil), x509ca.ReasonUnknownKey},
		{"fail/rotated-key", rotated.request(t, prov, nil), x509ca.ReasonUnknownKey},
		{"fail/key-the-ledger-does-not-hold", sign(stranger, good.DID.WithFragment("k1"), nil), x509ca.ReasonBadSignature},
		{"fail/tampered", tampered, x509ca.ReasonBadSignature},
		{"fail/pending", sign(pending.Signer, pending.DID.WithFragment("k1"), nil), x509ca.ReasonNotValidated},
		{"fail/rejected", sign(rejected.Signer, rejected.DID.WithFragment("k1"), nil), x509ca.ReasonNotValidated},
		{"fail/revoked", revoked.request(t, prov, nil), x509ca.ReasonRevoked},
		{"fail/deactivated", deactivated.request(t, prov, nil), x509ca.ReasonRevoked},
		{"fail/service", sign(svc.Signer, svc.DID.WithFragment("k1"), nil), x509ca.ReasonWrongKind},
		{"fail/stale", good.request(t, prov, func(r *x509ca.Request) { r.IssuedAt -= 120 }), x509ca.ReasonStale},
		{"fail/future", good.request(t, prov, func(r *x509ca.Request) { r.IssuedAt += 120 }), x509ca.ReasonStale},
		{"fail/replayed", replayed, x509ca.ReasonReplayed},
		{"fail/too-many", full.request(t, prov, nil), x509ca.ReasonTooMany},
		{"fail/longer-lifetime", good.request(t, prov, func(r *x509ca.Request) { r.Lifetime = 25 * 3600 }), x509ca.ReasonLifetime},
		{"fail/lifetime-over-30d", good.request(t, prov, func(r *x509ca.Request) { r.Lifetime = 31 * 24 * 3600 }), x509ca.ReasonLifetime},
		{"fail/lifetime-too-short", good.request(t, prov, func(r *x509ca.Request) { r.Lifetime = 1 }), x509ca.ReasonLifetime},
		{"fail/csr-malformed", good.request(t, prov, func(r *x509ca.Request) { r.CSR = []byte{0x30, 0x03, 0x02, 0x01, 0x00} }), x509ca.ReasonBadCSR},
		{"fail/csr-oversized", good.request(t, prov, func(r *x509ca.Request) { r.CSR = make([]byte, x509ca.MaxCSRBytes+1) }), x509ca.ReasonBadCSR},
		{"fail/csr-bad-signature", good.request(t, prov, func(r *x509ca.Request) {
			b := csr(t, good.priv, &x509.CertificateRequest{})
			b[len(b)-3] ^= 1
			r.CSR = b
		}), x509ca.ReasonBadCSR},
		{"fail/csr-other-key", good.request(t, prov, func(r *x509ca.Request) { r.CSR = csr(t, otherKey, &x509.CertificateRequest{}) }), x509ca.ReasonCSRKey},
		{"fail/csr-other-key-ed25519", ed.request(t, prov, func(r *x509ca.Request) { r.CSR = csr(t, otherEd, &x509.CertificateRequest{}) }), x509ca.ReasonCSRKey},
		{"fail/csr-dns-name", withCSR(good, &x509.CertificateRequest{DNSNames: []string{"bank.example"}}), x509ca.ReasonCSRNames},
		{"fail/csr-other-uri", withCSR(good, &x509.CertificateRequest{URIs: []*url.URL{{Scheme: "spiffe", Host: "example.org", Path: "/admin"}}}), x509ca.ReasonCSRNames},
		{"fail/csr-other-did", withCSR(good, &x509.CertificateRequest{URIs: []*url.URL{{Scheme: "did", Opaque: strings.TrimPrefix(ed.DID.String(), "did:")}}}), x509ca.ReasonCSRNames},
		{"fail/csr-email", withCSR(good, &x509.CertificateRequest{EmailAddresses: []string{"a@example.org"}}), x509ca.ReasonCSRNames},
		{"fail/csr-ca", withCSR(good, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Critical: true, Value: bcCA}}}), x509ca.ReasonCSRCA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.Node.X509Issued()
			got, err := issue(t, h, tc.req)
			var ae *sdk.APIError
			if !errors.As(err, &ae) || ae.Reason != string(tc.want) {
				t.Fatalf("got %+v, %v; want %s", got, err, tc.want)
			}
			if after := h.Node.X509Issued(); after != before {
				t.Errorf("issued %d certificates on a refusal", after-before)
			}
		})
	}
}

func mustCOSE(t *testing.T, s cose.Signer, kid did.DID, payload []byte) []byte {
	t.Helper()
	b, err := cose.Sign1(s, []byte(kid.String()), payload, x509ca.ExternalAAD)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

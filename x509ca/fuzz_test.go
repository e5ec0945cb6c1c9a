package x509ca

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"net/url"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
)

const fuzzProvider = "did:bias:local:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

// fuzzKey is a fixed Ed25519 key, the same in every fuzz worker, so that
// seeded requests and CSRs verify.
func fuzzKey(t testing.TB) (cose.Signer, crypto.Signer) {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	s, err := cose.NewSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, priv
}

// FuzzDecodeRequest: any bytes either decode to a request whose fields
// are in bounds and whose payload is the canonical encoding of what it
// decoded to, or are refused with an *Error of a request reason; a CSR
// inside is then checked against the signing key without panicking.
func FuzzDecodeRequest(f *testing.F) {
	s, priv := fuzzKey(f)
	kid := did.DID{Network: "local", Suffix: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", Fragment: "k1"}
	dev := Device{DID: kid.Base().String(), Aliases: []string{"urn:imei:49015420-323751-8"}}
	u, _ := url.Parse(dev.DID)
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{URIs: []*url.URL{u}}, priv)
	if err != nil {
		f.Fatal(err)
	}
	for _, r := range []Request{
		{Audience: fuzzProvider, IssuedAt: 1700000000, ID: bytes.Repeat([]byte{1}, IDLen)},
		{Audience: fuzzProvider, IssuedAt: 1700000000, ID: bytes.Repeat([]byte{2}, IDLen), Lifetime: 3600, CSR: csr},
	} {
		b, err := SignRequest(s, kid, r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRequest(b)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("not an *Error: %v", err)
			}
			switch e.Reason {
			case ReasonMalformed, ReasonOversized, ReasonLifetime, ReasonBadCSR:
			default:
				t.Fatalf("decoding refused with %s", e.Reason)
			}
			return
		}
		if len(b) > MaxRequestBytes || len(r.Request.ID) != IDLen || len(r.Request.CSR) > MaxCSRBytes || r.Kid.Fragment == "" {
			t.Fatalf("out of bounds: %+v", r.Request)
		}
		again, err := op.Marshal(r.Request)
		if err != nil || !bytes.Equal(again, r.Msg.Payload) {
			t.Fatalf("payload is not canonical")
		}
		if len(r.Request.CSR) > 0 {
			if err := CheckCSR(r.Request.CSR, s.Public(), dev); err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("CheckCSR: not an *Error: %v", err)
				}
			}
		}
	})
}

// FuzzCheckCSR: any bytes as a CSR are accepted only when they are a
// well-signed PKCS #10 request for the key, naming only the device.
func FuzzCheckCSR(f *testing.F) {
	s, priv := fuzzKey(f)
	dev := Device{DID: "did:bias:local:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}
	u, _ := url.Parse(dev.DID)
	for _, tmpl := range []*x509.CertificateRequest{{}, {URIs: []*url.URL{u}}, {DNSNames: []string{"x.example"}}} {
		b, err := x509.CreateCertificateRequest(rand.Reader, tmpl, priv)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := CheckCSR(b, s.Public(), dev)
		if err == nil {
			c, perr := x509.ParseCertificateRequest(b)
			if perr != nil || c.CheckSignature() != nil || len(c.DNSNames) > 0 {
				t.Fatalf("accepted a CSR that does not hold: %v", perr)
			}
			for _, u := range c.URIs {
				if u.String() != dev.DID {
					t.Fatalf("accepted the name %s", u)
				}
			}
		}
	})
}

package ca

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"

	"golang.org/x/crypto/ocsp"
)

// ocspRequest builds an OCSP request for serials of w's CA in hash h,
// with extensions.
func (w *issueWorld) ocspRequest(t *testing.T, h crypto.Hash, exts []pkix.Extension, serials ...*big.Int) []byte {
	t.Helper()
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(w.a.ca.Cert.RawSubjectPublicKeyInfo, &spki); err != nil {
		t.Fatal(err)
	}
	name, key := h.New(), h.New()
	name.Write(w.a.ca.Cert.RawSubject)
	key.Write(spki.PublicKey.RightAlign())
	var req ocspRequestDER
	for _, s := range serials {
		req.TBS.RequestList = append(req.TBS.RequestList, singleRequestDER{Cert: certID{
			HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: hashOIDs[h], Parameters: asn1.NullRawValue},
			NameHash:      name.Sum(nil), IssuerKeyHash: key.Sum(nil), SerialNumber: s}})
	}
	req.TBS.Extensions = exts
	b, err := asn1.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func nonceExt(t *testing.T, n []byte) pkix.Extension {
	t.Helper()
	v, err := asn1.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidOCSPNonce, Value: v}
}

// responseNonce reads the nonce a response echoes.
func responseNonce(t *testing.T, resp []byte) []byte {
	t.Helper()
	var r ocspResponseDER
	if _, err := asn1.Unmarshal(resp, &r); err != nil {
		t.Fatal(err)
	}
	var basic basicResponseDER
	if _, err := asn1.Unmarshal(r.Bytes.Response, &basic); err != nil {
		t.Fatal(err)
	}
	var data responseDataDER
	if _, err := asn1.Unmarshal(basic.TBS.FullBytes, &data); err != nil {
		t.Fatal(err)
	}
	for _, e := range data.Extensions {
		if e.Id.Equal(oidOCSPNonce) {
			var n []byte
			if _, err := asn1.Unmarshal(e.Value, &n); err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	return nil
}

// TestOCSPResponder: each certificate a request asks about is answered,
// in its order and hash; the nonce is echoed (RFC 8954); producedAt is
// thisUpdate; refusals are OCSP's own statuses. The responses are read
// with golang.org/x/crypto/ocsp, an independent parser.
func TestOCSPResponder(t *testing.T) {
	w := newIssueWorld(t, nil)
	c, err := w.a.Issue(t.Context(), w.request(t))
	if err != nil {
		t.Fatal(err)
	}
	other := big.NewInt(12345) // a serial it never issued
	nonce := []byte("0123456789abcdef")
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
		resp, err := w.a.OCSP(t.Context(), w.ocspRequest(t, h, []pkix.Extension{nonceExt(t, nonce)}, c.Cert.SerialNumber, other))
		if err != nil {
			t.Fatal(err)
		}
		good, err := ocsp.ParseResponseForCert(resp, c.Cert, w.a.ca.Cert)
		if err != nil || good.Status != ocsp.Good || good.IssuerHash != h {
			t.Fatalf("%v: the issued certificate: %+v %v", h, good, err)
		}
		if !good.ProducedAt.Equal(good.ThisUpdate) || !good.ThisUpdate.Equal(w.now.UTC().Truncate(1e9)) {
			t.Errorf("producedAt %v, thisUpdate %v, now %v", good.ProducedAt, good.ThisUpdate, w.now)
		}
		unknown, err := ocsp.ParseResponseForCert(resp, &x509.Certificate{SerialNumber: other}, w.a.ca.Cert)
		if err != nil || unknown.Status != ocsp.Unknown {
			t.Errorf("%v: a serial never issued: %+v %v", h, unknown, err)
		}
		if n := responseNonce(t, resp); string(n) != string(nonce) {
			t.Errorf("nonce %q", n)
		}
	}
	resp, err := w.a.OCSP(t.Context(), w.ocspRequest(t, crypto.SHA1, nil, c.Cert.SerialNumber))
	if err != nil {
		t.Fatal(err)
	}
	if n := responseNonce(t, resp); n != nil {
		t.Errorf("a nonce nobody sent: %q", n)
	}
	many := make([]*big.Int, MaxOCSPCerts+1)
	for i := range many {
		many[i] = big.NewInt(int64(i + 1))
	}
	for name, der := range map[string][]byte{
		"fail/nonce-33-octets":       w.ocspRequest(t, crypto.SHA1, []pkix.Extension{nonceExt(t, make([]byte, 33))}, c.Cert.SerialNumber),
		"fail/nonce-empty":           w.ocspRequest(t, crypto.SHA1, []pkix.Extension{nonceExt(t, nil)}, c.Cert.SerialNumber),
		"fail/two-nonces":            w.ocspRequest(t, crypto.SHA1, []pkix.Extension{nonceExt(t, nonce), nonceExt(t, nonce)}, c.Cert.SerialNumber),
		"fail/unknown-critical-ext":  w.ocspRequest(t, crypto.SHA1, []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Critical: true, Value: []byte{5, 0}}}, c.Cert.SerialNumber),
		"fail/no-certificate":        w.ocspRequest(t, crypto.SHA1, nil),
		"fail/too-many-certificates": w.ocspRequest(t, crypto.SHA1, nil, many...),
		"fail/serial-zero":           w.ocspRequest(t, crypto.SHA1, nil, big.NewInt(0)),
		"fail/trailing-data":         append(w.ocspRequest(t, crypto.SHA1, nil, c.Cert.SerialNumber), 0),
	} {
		resp, err := w.a.OCSP(t.Context(), der)
		if _, perr := ocsp.ParseResponse(resp, nil); err != nil || !errors.Is(perr, ocsp.ResponseError{Status: ocsp.Malformed}) {
			t.Errorf("%s: %v %v", name, err, perr)
		}
	}
	// An unknown non-critical extension is ignored (RFC 6960 section 4.4).
	resp, err = w.a.OCSP(t.Context(), w.ocspRequest(t, crypto.SHA1, []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Value: []byte{5, 0}}}, c.Cert.SerialNumber))
	if r, perr := ocsp.ParseResponseForCert(resp, c.Cert, w.a.ca.Cert); err != nil || perr != nil || r.Status != ocsp.Good {
		t.Errorf("an unknown non-critical extension: %v %v", err, perr)
	}
}

package x509ca

import (
	"crypto"
	"crypto/sha1" //nolint:gosec // RFC 5280's key identifier, not a security hash
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"time"

	"github.com/bias-iot/bias/cose"
)

// Backdate is how far before the request a certificate's validity
// starts, for clocks a little behind the CA's.
const Backdate = time.Minute

// maxCN is X.520's upper bound on a common name.
const maxCN = 64

// Device is what a device certificate says of its device: its DID and
// its validated legacy identifiers (URIs such as urn:imei:...).
type Device struct {
	DID     string
	Aliases []string
}

// URIs are the certificate's URI subject alternative names: the DID
// first, then each legacy identifier that is a URI.
func (d Device) URIs() []*url.URL {
	var out []*url.URL
	for _, s := range append([]string{d.DID}, d.Aliases...) {
		u, err := url.Parse(s)
		if err != nil || u.Scheme == "" {
			continue
		}
		out = append(out, u)
	}
	return out
}

// Template is the certificate a CA issues for a device's key pub: subject
// CN the DID (when it fits X.520's 64 characters), the DID and the legacy
// identifiers as URI SANs, key usage digitalSignature, extended key usage
// clientAuth, no CA, a subject key identifier (RFC 5280 section 4.2.1.2);
// with the CA's OCSP and CRL URLs when given.
func Template(d Device, pub crypto.PublicKey, serial *big.Int, notBefore, notAfter time.Time, ocspURL, crlURL string) (*x509.Certificate, error) {
	ski, err := SubjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	t := &x509.Certificate{
		SubjectKeyId:          ski,
		SerialNumber:          serial,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		URIs:                  d.URIs(),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	if len(d.DID) <= maxCN {
		t.Subject = pkix.Name{CommonName: d.DID}
	}
	if ocspURL != "" {
		t.OCSPServer = []string{ocspURL}
	}
	if crlURL != "" {
		t.CRLDistributionPoints = []string{crlURL}
	}
	return t, nil
}

// SubjectKeyID is the key identifier of pub by RFC 5280 section
// 4.2.1.2's method (1): the SHA-1 of its subjectPublicKey bits.
func SubjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, err
	}
	h := sha1.Sum(spki.PublicKey.RightAlign()) //nolint:gosec // an identifier (RFC 5280's method), not a security hash
	return h[:], nil
}

var (
	oidSAN              = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
)

// CheckCSR checks a PKCS #10 request against what the CA would issue for
// the device: it parses, its signature verifies, its key is key (the key
// that signed the bias request), it asks for no names but d's URIs and
// for no CA. Its subject and other extensions are not copied: the
// certificate follows Template. A refusal is an *Error.
func CheckCSR(der []byte, key cose.PublicKey, d Device) error {
	if len(der) == 0 || len(der) > MaxCSRBytes {
		return Refuse(ReasonBadCSR, fmt.Sprintf("a CSR is 1 to %d bytes of DER", MaxCSRBytes))
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return Refuse(ReasonBadCSR, "the CSR does not parse as PKCS #10")
	}
	if err := csr.CheckSignature(); err != nil {
		return Refuse(ReasonBadCSR, "the CSR's signature does not verify")
	}
	pk, err := cose.PublicKeyFrom(csr.PublicKey)
	if err != nil || !pk.Equal(key) {
		return Refuse(ReasonCSRKey, "the CSR's key is not the key that signed the request")
	}
	if len(csr.DNSNames) > 0 || len(csr.EmailAddresses) > 0 || len(csr.IPAddresses) > 0 {
		return Refuse(ReasonCSRNames, "a device certificate holds only URI names: the DID and its legacy identifiers")
	}
	allowed := map[string]bool{}
	for _, u := range d.URIs() {
		allowed[u.String()] = true
	}
	for _, u := range csr.URIs {
		if !allowed[u.String()] {
			return Refuse(ReasonCSRNames, fmt.Sprintf("the CSR asks for the name %.80q, which the device does not hold", u.String()))
		}
	}
	for _, ext := range csr.Extensions {
		switch {
		case ext.Id.Equal(oidBasicConstraints):
			var bc struct {
				IsCA bool `asn1:"optional"`
				Max  int  `asn1:"optional,default:-1"`
			}
			if rest, err := asn1.Unmarshal(ext.Value, &bc); err != nil || len(rest) > 0 || bc.IsCA {
				return Refuse(ReasonCSRCA, "a device certificate is not a CA")
			}
		case ext.Id.Equal(oidSAN):
			// Parsed by crypto/x509 above; a SAN of another kind (a
			// directory name, say) is refused.
			if !onlyKnownSANs(ext.Value) {
				return Refuse(ReasonCSRNames, "the CSR asks for names of another kind")
			}
		}
	}
	return nil
}

// onlyKnownSANs reports whether a subjectAltName extension holds only
// DNS names (2), IP addresses (7), e-mail (1) and URIs (6): the kinds
// crypto/x509 reads (others would be dropped unseen).
func onlyKnownSANs(v []byte) bool {
	var seq asn1.RawValue
	rest, err := asn1.Unmarshal(v, &seq)
	if err != nil || len(rest) > 0 || !seq.IsCompound || seq.Tag != asn1.TagSequence {
		return false
	}
	b := seq.Bytes
	for len(b) > 0 {
		var n asn1.RawValue
		if b, err = asn1.Unmarshal(b, &n); err != nil {
			return false
		}
		if n.Class != asn1.ClassContextSpecific || !slices.Contains([]int{1, 2, 6, 7}, n.Tag) {
			return false
		}
	}
	return true
}

// MaxCACerts is how many CA certificates a provider publishes at most
// (op.MaxCACerts).
const MaxCACerts = 4

// WithCA returns the CA list of a publication with der in it: the list
// as it is when it holds der already (false), else der added last, the
// oldest dropped beyond MaxCACerts (a rotation: the new CA beside the
// old ones).
func WithCA(cur [][]byte, der []byte) ([][]byte, bool) {
	for _, c := range cur {
		if string(c) == string(der) {
			return cur, false
		}
	}
	out := append(append([][]byte(nil), cur...), der)
	if len(out) > MaxCACerts {
		out = out[len(out)-MaxCACerts:]
	}
	return out, true
}

// WithoutCA returns the CA list of a publication without der, and
// whether it held it (the end of a rotation: the old CA withdrawn once
// nothing it issued is still valid).
func WithoutCA(cur [][]byte, der []byte) ([][]byte, bool) {
	var out [][]byte
	for _, c := range cur {
		if string(c) != string(der) {
			out = append(out, c)
		}
	}
	return out, len(out) != len(cur)
}

package ca

import (
	"bytes"
	"context"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"time"
)

// MaxOCSPRequest bounds an OCSP request's DER.
const MaxOCSPRequest = 1024

// OCSPError is the OCSP answer (unsigned, RFC 6960 section 4.2.1) to a
// request that could not be read: for the HTTP layer, which answers an
// unreadable request in OCSP's own form.
func OCSPError() []byte { return ocspError(ocspMalformedRequest) }

// OCSPUnauthorized is the OCSP answer for a responder that does not
// answer for the issuer asked about.
func OCSPUnauthorized() []byte { return ocspError(ocspUnauthorized) }

// OCSP answers an OCSP request (RFC 6960, DER) with a response signed by
// the CA itself, one status for each certificate it asks about (at most
// MaxOCSPCerts): good while the certificate's device is validated and
// its key current, from the ledger's committed state at the time of the
// request; revoked otherwise (and from then on); unknown for a serial it
// did not issue or that has expired. Each CertID is answered in the hash
// it used (RFC 6960 section 4.1.1), a nonce is echoed (RFC 8954), and
// producedAt is thisUpdate, the time of the answer. A request it cannot
// read gets malformedRequest, one about another issuer's certificates
// unauthorized. An error is the node's.
func (a *Authority) OCSP(ctx context.Context, der []byte) ([]byte, error) {
	if len(der) > MaxOCSPRequest {
		return ocspError(ocspMalformedRequest), nil
	}
	q, err := parseOCSPRequest(der)
	if err != nil {
		// RFC 6960: an unreadable request is answered, not failed.
		return ocspError(ocspMalformedRequest), nil //nolint:nilerr // the answer carries the error
	}
	for _, c := range q.Certs {
		if !a.issues(c) {
			return ocspError(ocspUnauthorized), nil
		}
	}
	now := a.now().UTC().Truncate(time.Second)
	answers := make([]certAnswer, 0, len(q.Certs))
	for _, qc := range q.Certs {
		ans := certAnswer{ID: qc.ID, Hash: qc.Hash, Status: statusUnknown, ThisUpdate: now, NextUpdate: now.Add(DefaultOCSPValid)}
		serial := hex.EncodeToString(qc.ID.SerialNumber.Bytes())
		if c, ok := a.idx.Get(serial); ok && (c.Revoked != 0 || c.NotAfter > now.Unix()) {
			// (An expired certificate that was never revoked is unknown:
			// "good" holds within a validity period, RFC 6960 section 2.2.)
			if c.Revoked == 0 {
				e, err := a.c.View.EntityRecord(ctx, c.DID)
				if err != nil {
					a.log.Warn("x509: reading the ledger failed", "did", c.DID, "err", err)
					return ocspError(ocspTryLater), nil
				}
				if ok, reason := verdict(e, c); !ok {
					a.revoke(c.Serial, reason)
					c, _ = a.idx.Get(serial)
				}
			}
			ans.Status = statusGood
			if c.Revoked != 0 {
				ans.Status, ans.RevokedAt, ans.Reason = statusRevoked, time.Unix(c.Revoked, 0).UTC(), c.Reason
			}
		}
		answers = append(answers, ans)
	}
	b, err := signOCSP(a.ca.Key, a.ca.Cert.RawSubject, now, answers, q.Nonce)
	if err != nil {
		return nil, fmt.Errorf("sign OCSP response: %w", err)
	}
	return b, nil
}

// issues reports whether a CertID names this CA as the issuer (the
// hashes of its name and key, in the CertID's hash).
func (a *Authority) issues(c queryCert) bool {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(a.ca.Cert.RawSubjectPublicKeyInfo, &spki); err != nil {
		return false
	}
	name, key := c.Hash.New(), c.Hash.New()
	name.Write(a.ca.Cert.RawSubject)
	key.Write(spki.PublicKey.RightAlign())
	return bytes.Equal(name.Sum(nil), c.ID.NameHash) && bytes.Equal(key.Sum(nil), c.ID.IssuerKeyHash)
}

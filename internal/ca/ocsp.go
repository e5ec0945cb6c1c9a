package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"time"

	"golang.org/x/crypto/ocsp"
)

// MaxOCSPRequest bounds an OCSP request's DER.
const MaxOCSPRequest = 1024

// OCSP answers an OCSP request (RFC 6960, DER) with a response signed by
// the CA itself: good while the certificate's device is validated and
// its key current, from the ledger's committed state at the time of the
// request; revoked otherwise (and from then on); unknown for a serial it
// did not issue or that has expired. A request it cannot read, or for
// another issuer, gets an OCSP error response. An error is the node's.
func (a *Authority) OCSP(ctx context.Context, der []byte) ([]byte, error) {
	if len(der) > MaxOCSPRequest {
		return ocsp.MalformedRequestErrorResponse, nil
	}
	req, perr := ocsp.ParseRequest(der)
	if perr != nil {
		// RFC 6960: an unreadable request is answered, not failed.
		return ocsp.MalformedRequestErrorResponse, nil //nolint:nilerr // the answer carries the error
	}
	if !a.issues(req) {
		return ocsp.UnauthorizedErrorResponse, nil
	}
	if req.SerialNumber.Sign() <= 0 {
		return ocsp.MalformedRequestErrorResponse, nil // serials are positive (RFC 5280 section 4.1.2.2)
	}
	now := a.now().UTC().Truncate(time.Second)
	// The CertID in the hash the request used (RFC 6960 section 4.1.1).
	tmpl := ocsp.Response{SerialNumber: req.SerialNumber, ThisUpdate: now, NextUpdate: now.Add(DefaultOCSPValid), Status: ocsp.Unknown, IssuerHash: req.HashAlgorithm}
	serial := hex.EncodeToString(req.SerialNumber.Bytes())
	if c, ok := a.idx.Get(serial); ok && (c.Revoked != 0 || c.NotAfter > now.Unix()) {
		// (An expired certificate that was never revoked is unknown: "good"
		// holds within a validity period, RFC 6960 section 2.2.)
		if c.Revoked == 0 {
			e, err := a.c.View.EntityRecord(ctx, c.DID)
			if err != nil {
				a.log.Warn("x509: reading the ledger failed", "did", c.DID, "err", err)
				return ocsp.TryLaterErrorResponse, nil
			}
			if ok, reason := verdict(e, c); !ok {
				a.revoke(c.Serial, reason)
				c, _ = a.idx.Get(serial)
			}
		}
		tmpl.Status = ocsp.Good
		if c.Revoked != 0 {
			tmpl.Status, tmpl.RevokedAt, tmpl.RevocationReason = ocsp.Revoked, time.Unix(c.Revoked, 0).UTC(), c.Reason
		}
	}
	b, err := ocsp.CreateResponse(a.ca.Cert, a.ca.Cert, tmpl, a.ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign OCSP response: %w", err)
	}
	return b, nil
}

// issues reports whether an OCSP request names this CA as the issuer
// (the hashes of its name and key, with the request's hash).
func (a *Authority) issues(req *ocsp.Request) bool {
	h := req.HashAlgorithm
	if h != crypto.SHA1 && h != crypto.SHA256 && h != crypto.SHA384 && h != crypto.SHA512 {
		return false
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(a.ca.Cert.RawSubjectPublicKeyInfo, &spki); err != nil {
		return false
	}
	name, key := h.New(), h.New()
	name.Write(a.ca.Cert.RawSubject)
	key.Write(spki.PublicKey.RightAlign())
	return bytes.Equal(name.Sum(nil), req.IssuerNameHash) && bytes.Equal(key.Sum(nil), req.IssuerKeyHash)
}

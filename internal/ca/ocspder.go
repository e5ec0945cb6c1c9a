package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	_ "crypto/sha1" //nolint:gosec // CertIDs in SHA-1 (RFC 6960's default), an identifier

	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// The OCSP messages of RFC 6960 section 4, in DER, with the nonce of RFC
// 8954. golang.org/x/crypto/ocsp reads only a request's first CertID and
// none of its extensions, and stamps producedAt from the wall clock to
// the minute (before thisUpdate); the responder encodes its answers
// itself.

// MaxOCSPCerts bounds the certificates one OCSP request asks about.
const MaxOCSPCerts = 8

// maxNonce is RFC 8954's bound on a nonce (1 to 32 octets).
const maxNonce = 32

var (
	oidOCSPBasic = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}
	oidOCSPNonce = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}
	oidECDSA256  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSA384  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidEd25519   = asn1.ObjectIdentifier{1, 3, 101, 112}
	hashOIDs     = map[crypto.Hash]asn1.ObjectIdentifier{
		crypto.SHA1:   {1, 3, 14, 3, 2, 26},
		crypto.SHA256: {2, 16, 840, 1, 101, 3, 4, 2, 1},
		crypto.SHA384: {2, 16, 840, 1, 101, 3, 4, 2, 2},
		crypto.SHA512: {2, 16, 840, 1, 101, 3, 4, 2, 3},
	}
)

// OCSP response statuses (RFC 6960 section 4.2.1).
const (
	ocspSuccessful       = 0
	ocspMalformedRequest = 1
	ocspTryLater         = 3
	ocspUnauthorized     = 6
)

// Certificate statuses.
const (
	statusGood = iota
	statusRevoked
	statusUnknown
)

type certID struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	NameHash      []byte
	IssuerKeyHash []byte
	SerialNumber  *big.Int
}

type ocspRequestDER struct {
	TBS       tbsRequestDER
	Signature asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

type tbsRequestDER struct {
	Version       int           `asn1:"explicit,tag:0,default:0,optional"`
	RequestorName asn1.RawValue `asn1:"explicit,tag:1,optional"`
	RequestList   []singleRequestDER
	Extensions    []pkix.Extension `asn1:"explicit,tag:2,optional"`
}

type singleRequestDER struct {
	Cert       certID
	Extensions []pkix.Extension `asn1:"explicit,tag:0,optional"`
}

type ocspResponseDER struct {
	Status asn1.Enumerated
	Bytes  responseBytesDER `asn1:"explicit,tag:0,optional"`
}

type responseBytesDER struct {
	Type     asn1.ObjectIdentifier
	Response []byte
}

type basicResponseDER struct {
	TBS       asn1.RawValue
	Algorithm pkix.AlgorithmIdentifier
	Signature asn1.BitString
}

type responseDataDER struct {
	ResponderID asn1.RawValue
	ProducedAt  time.Time `asn1:"generalized"`
	Responses   []singleResponseDER
	Extensions  []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

type singleResponseDER struct {
	CertID     certID
	Good       asn1.Flag      `asn1:"tag:0,optional"`
	Revoked    revokedInfoDER `asn1:"tag:1,optional"`
	Unknown    asn1.Flag      `asn1:"tag:2,optional"`
	ThisUpdate time.Time      `asn1:"generalized"`
	NextUpdate time.Time      `asn1:"generalized,explicit,tag:0,optional"`
}

type revokedInfoDER struct {
	Time   time.Time       `asn1:"generalized"`
	Reason asn1.Enumerated `asn1:"explicit,tag:0,optional"`
}

// ocspQuery is what a request asks: the certificates (with the hash
// each CertID uses) and the nonce extension to echo, if any.
type ocspQuery struct {
	Certs []queryCert
	Nonce *pkix.Extension
}

type queryCert struct {
	Hash crypto.Hash
	ID   certID
}

// errMalformed is a request to answer with malformedRequest.
var errMalformed = errors.New("malformed OCSP request")

// parseOCSPRequest reads an OCSP request (RFC 6960 section 4.1.1): one
// to MaxOCSPCerts CertIDs in hashes the responder knows, positive
// serials, a nonce of 1 to 32 octets (RFC 8954), and no critical
// extension it does not know. A signature, if any, is not required and
// not read.
func parseOCSPRequest(der []byte) (*ocspQuery, error) {
	var req ocspRequestDER
	rest, err := asn1.Unmarshal(der, &req)
	if err != nil || len(rest) > 0 {
		return nil, errMalformed
	}
	n := len(req.TBS.RequestList)
	if n == 0 || n > MaxOCSPCerts || req.TBS.Version != 0 {
		return nil, errMalformed
	}
	q := &ocspQuery{}
	for _, e := range req.TBS.Extensions {
		switch {
		case e.Id.Equal(oidOCSPNonce):
			if q.Nonce != nil || !nonceOK(e.Value) {
				return nil, errMalformed
			}
			q.Nonce = &pkix.Extension{Id: e.Id, Value: e.Value}
		case e.Critical:
			return nil, errMalformed
		}
	}
	for _, r := range req.TBS.RequestList {
		for _, e := range r.Extensions {
			if e.Critical {
				return nil, errMalformed
			}
		}
		h := hashOf(r.Cert.HashAlgorithm.Algorithm)
		if h == 0 || r.Cert.SerialNumber == nil || r.Cert.SerialNumber.Sign() <= 0 ||
			len(r.Cert.NameHash) != h.Size() || len(r.Cert.IssuerKeyHash) != h.Size() {
			return nil, errMalformed
		}
		q.Certs = append(q.Certs, queryCert{Hash: h, ID: r.Cert})
	}
	return q, nil
}

// nonceOK checks a nonce extension's value: the DER of an OCTET STRING
// of 1 to 32 octets (RFC 8954 section 2.1).
func nonceOK(v []byte) bool {
	var n []byte
	rest, err := asn1.Unmarshal(v, &n)
	return err == nil && len(rest) == 0 && len(n) >= 1 && len(n) <= maxNonce
}

func hashOf(oid asn1.ObjectIdentifier) crypto.Hash {
	for h, o := range hashOIDs {
		if o.Equal(oid) {
			return h
		}
	}
	return 0
}

// certAnswer is the status of one certificate.
type certAnswer struct {
	ID         certID
	Hash       crypto.Hash
	Status     int
	RevokedAt  time.Time
	Reason     int
	ThisUpdate time.Time
	NextUpdate time.Time
}

// ocspError is an unsigned OCSP answer with an error status.
func ocspError(status int) []byte {
	b, err := asn1.Marshal(ocspResponseDER{Status: asn1.Enumerated(status)})
	if err != nil {
		panic(err) // a fixed structure
	}
	return b
}

// signOCSP makes a successful basic OCSP response: the responder named by
// its subject (responderName, the CA's raw subject), produced at
// producedAt, one SingleResponse per answer in the request's order, the
// nonce echoed (RFC 8954 section 2.1), signed by key (P-256 or P-384
// ECDSA, or Ed25519).
func signOCSP(key crypto.Signer, responderName []byte, producedAt time.Time, answers []certAnswer, nonce *pkix.Extension) ([]byte, error) {
	data := responseDataDER{
		ResponderID: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: responderName},
		ProducedAt:  producedAt.UTC(),
	}
	for _, a := range answers {
		id := a.ID
		id.HashAlgorithm = pkix.AlgorithmIdentifier{Algorithm: hashOIDs[a.Hash], Parameters: asn1.NullRawValue}
		r := singleResponseDER{CertID: id, ThisUpdate: a.ThisUpdate.UTC(), NextUpdate: a.NextUpdate.UTC()}
		switch a.Status {
		case statusGood:
			r.Good = true
		case statusRevoked:
			r.Revoked = revokedInfoDER{Time: a.RevokedAt.UTC(), Reason: asn1.Enumerated(a.Reason)}
		default:
			r.Unknown = true
		}
		data.Responses = append(data.Responses, r)
	}
	if nonce != nil {
		data.Extensions = []pkix.Extension{*nonce}
	}
	tbs, err := asn1.Marshal(data)
	if err != nil {
		return nil, err
	}
	alg, sig, err := signDER(key, tbs)
	if err != nil {
		return nil, err
	}
	basic, err := asn1.Marshal(basicResponseDER{TBS: asn1.RawValue{FullBytes: tbs}, Algorithm: alg, Signature: asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(ocspResponseDER{Status: ocspSuccessful, Bytes: responseBytesDER{Type: oidOCSPBasic, Response: basic}})
}

// signDER signs tbs with key, and names the algorithm.
func signDER(key crypto.Signer, tbs []byte) (pkix.AlgorithmIdentifier, []byte, error) {
	switch pub := key.Public().(type) {
	case *ecdsa.PublicKey:
		h, oid := crypto.SHA256, oidECDSA256
		if pub.Curve == elliptic.P384() {
			h, oid = crypto.SHA384, oidECDSA384
		}
		d := h.New()
		d.Write(tbs)
		sig, err := key.Sign(rand.Reader, d.Sum(nil), h)
		return pkix.AlgorithmIdentifier{Algorithm: oid}, sig, err
	case ed25519.PublicKey:
		sig, err := key.Sign(rand.Reader, tbs, crypto.Hash(0))
		return pkix.AlgorithmIdentifier{Algorithm: oidEd25519}, sig, err
	default:
		return pkix.AlgorithmIdentifier{}, nil, fmt.Errorf("OCSP: a %T key signs no response here", pub)
	}
}

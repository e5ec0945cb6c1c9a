package ca

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
	"github.com/bias-iot/bias/x509ca"
)

// Defaults.
const (
	DefaultSkew        = time.Minute
	DefaultOCSPValid   = 5 * time.Minute
	DefaultCRLValid    = 48 * time.Hour
	DefaultReplayLimit = 1 << 18
	DefaultPerDevice   = 16
	hookTimeout        = 30 * time.Second
)

// View reads entities from the ledger's committed state (the node's
// resolver): nil, nil for an unknown DID.
type View interface {
	EntityRecord(ctx context.Context, did string) (*record.Entity, error)
}

// Config is an Authority's configuration.
type Config struct {
	CA      *CA
	View    View
	Network string
	// Dir holds the index of issued certificates (issued.jsonl).
	Dir string
	// Lifetime of a certificate unless a request asks for less (default
	// x509ca.DefaultLifetime, at most x509ca.MaxLifetime).
	Lifetime time.Duration
	// Skew is how far a request's iat may lie from the clock (default
	// DefaultSkew); a request is single use within that window.
	Skew time.Duration
	// URL is the node's public base URL: certificates name its OCSP
	// responder and CRL ("" names none).
	URL string
	// CRLFile is where the CRL is written (PEM) at each change; "" for
	// Dir/crl.pem. CRLHook, if set, runs after each write (argv, no
	// shell), with BIAS_CRL_FILE in its environment.
	CRLFile string
	CRLHook []string
	// ReplayLimit bounds the requests remembered (default
	// DefaultReplayLimit; a device takes at most a sixteenth).
	ReplayLimit int
	// PerDevice bounds the unexpired, unrevoked certificates a device
	// holds of this CA (default DefaultPerDevice): the index, and the
	// work a device can make the CA do, stay bounded.
	PerDevice int
	Now       func() time.Time
	Log       *slog.Logger
}

// Authority issues device certificates and answers for them.
type Authority struct {
	c     Config
	ca    *CA
	idx   *Index
	spent *authn.MemorySpentSet
	log   *slog.Logger
	now   func() time.Time
	dirty chan struct{} // a revocation outside Follow: the CRL is to be re-signed

	issueMu sync.Mutex // a device's count of live certificates, and the next one's addition

	crlMu     sync.Mutex
	crlDER    []byte
	crlNumber int64
	crlAt     time.Time
	// fileMu orders the CRL file's writes; written is the number of the
	// CRL the file holds, so that a slower refresh never puts an older
	// CRL back over a newer one.
	fileMu  sync.Mutex
	written int64
}

// New opens the index in c.Dir and signs a first CRL.
func New(c Config) (*Authority, error) {
	if c.Lifetime == 0 {
		c.Lifetime = x509ca.DefaultLifetime
	}
	if c.Lifetime < x509ca.MinLifetime || c.Lifetime > x509ca.MaxLifetime {
		return nil, fmt.Errorf("x509 lifetime %v: must be %v to %v", c.Lifetime, x509ca.MinLifetime, x509ca.MaxLifetime)
	}
	if c.Skew == 0 {
		c.Skew = DefaultSkew
	}
	if c.ReplayLimit == 0 {
		c.ReplayLimit = DefaultReplayLimit
	}
	if c.PerDevice == 0 {
		c.PerDevice = DefaultPerDevice
	}
	if c.CRLFile == "" {
		c.CRLFile = filepath.Join(c.Dir, "crl.pem")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	idx, err := OpenIndex(filepath.Join(c.Dir, "issued.jsonl"), c.Now())
	if err != nil {
		return nil, err
	}
	a := &Authority{c: c, ca: c.CA, idx: idx, spent: authn.NewMemorySpentSet(c.ReplayLimit), log: c.Log, now: c.Now, dirty: make(chan struct{}, 1)}
	a.crlNumber = lastCRLNumber(c.CRLFile)
	if err := a.refreshCRL(context.Background(), true); err != nil {
		return nil, errors.Join(err, idx.Close())
	}
	return a, nil
}

// Close closes the index.
func (a *Authority) Close() error { return a.idx.Close() }

// Provider is the DID of the provider whose CA this is.
func (a *Authority) Provider() string { return a.ca.Provider }

// CACert is the CA's certificate (DER).
func (a *Authority) CACert() []byte { return a.ca.DER }

// Index is the CA's record of what it issued.
func (a *Authority) Index() *Index { return a.idx }

// Certificate is an issued certificate with its chain.
type Certificate struct {
	DER  []byte
	Cert *x509.Certificate
	CA   []byte // the issuing CA's certificate (DER)
}

// Issue checks a request (an x509ca request) and issues a certificate
// for the key that signed it. A refusal is an *x509ca.Error; any other
// error is the node's.
func (a *Authority) Issue(ctx context.Context, req []byte) (*Certificate, error) {
	s, err := x509ca.DecodeRequest(req)
	if err != nil {
		return nil, err
	}
	r := s.Request
	now := a.now()
	if s.Kid.Network != a.c.Network {
		return nil, x509ca.Refuse(x509ca.ReasonWrongNetwork, "this node's CA serves network "+a.c.Network)
	}
	if r.Audience != a.ca.Provider {
		return nil, x509ca.Refuse(x509ca.ReasonWrongAudience, "this node's CA is "+a.ca.Provider+"'s")
	}
	if d := time.Unix(r.IssuedAt, 0).Sub(now); d > a.c.Skew || d < -a.c.Skew {
		return nil, x509ca.Refuse(x509ca.ReasonStale, fmt.Sprintf("iat must be within %v of the node's clock", a.c.Skew))
	}
	life := a.c.Lifetime
	if r.Lifetime > 0 {
		if time.Duration(r.Lifetime)*time.Second > a.c.Lifetime {
			return nil, x509ca.Refuse(x509ca.ReasonLifetime, fmt.Sprintf("this CA issues for at most %v", a.c.Lifetime))
		}
		life = time.Duration(r.Lifetime) * time.Second
	}
	e, key, err := a.signer(ctx, s)
	if err != nil {
		return nil, err
	}
	dev := x509ca.Device{DID: e.DID, Aliases: e.Doc.Aliases}
	if len(r.CSR) > 0 {
		if err := x509ca.CheckCSR(r.CSR, key, dev); err != nil {
			return nil, err
		}
	}
	// The count and the addition below are one step: two requests of a
	// device at once do not both take its last place.
	a.issueMu.Lock()
	defer a.issueMu.Unlock()
	if len(a.idx.Live(e.DID, now.Unix())) >= a.c.PerDevice {
		return nil, x509ca.Refuse(x509ca.ReasonTooMany, fmt.Sprintf("a device holds at most %d unexpired certificates of this CA", a.c.PerDevice))
	}
	// Spent only now: a request refused above, or one nobody signed, takes
	// no room in the replay cache.
	if !a.spent.Spend(s.Kid.Base(), r.ID, r.IssuedAt+int64(a.c.Skew/time.Second)+1, now.Unix()) {
		return nil, x509ca.Refuse(x509ca.ReasonReplayed, "this request was already used (or the replay cache is full: retry with a new one)")
	}
	serial, err := Serial()
	if err != nil {
		return nil, err
	}
	nb := now.Add(-x509ca.Backdate).UTC().Truncate(time.Second)
	// No certificate outlives its CA's (RFC 5280 section 6: a path is
	// valid only within each certificate's validity).
	na := now.Add(life)
	if na.After(a.ca.Cert.NotAfter) {
		na = a.ca.Cert.NotAfter
	}
	na = na.UTC().Truncate(time.Second)
	if !na.After(now) {
		return nil, x509ca.Refuse(x509ca.ReasonNoCA, "this node's CA certificate has expired")
	}
	tmpl, err := x509ca.Template(dev, key.Crypto(), serial, nb, na, a.ocspURL(), a.crlURL())
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.ca.Cert, key.Crypto(), a.ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse issued certificate: %w", err)
	}
	issued := Issued{Serial: hex.EncodeToString(serial.Bytes()), DID: e.DID, KeyID: s.Kid.Fragment, Alg: int64(key.Alg()), Pub: key.Bytes(), NotAfter: na.Unix(),
		Aliases: append([]string(nil), dev.Aliases...)}
	if err := a.idx.Add(issued); err != nil {
		return nil, err
	}
	// A block that revoked the device after the read above, and that
	// Follow handled before the index held this certificate, would be
	// missed: read again now that it is held.
	a.recheck(ctx, e.DID)
	if c, _ := a.idx.Get(issued.Serial); c.Revoked != 0 {
		// The device lost its standing meanwhile: what was issued is
		// revoked already, and is not handed out.
		return nil, x509ca.Refuse(x509ca.ReasonRevoked, "the device's standing changed while its certificate was issued; it is revoked")
	}
	return &Certificate{DER: der, Cert: cert, CA: a.ca.DER}, nil
}

// signer reads the request's device and checks that kid is a current key
// of a validated device that signed the request.
func (a *Authority) signer(ctx context.Context, s *x509ca.Signed) (*record.Entity, cose.PublicKey, error) {
	e, err := a.c.View.EntityRecord(ctx, s.Kid.Base().String())
	if err != nil {
		a.log.Warn("x509: reading the ledger failed", "err", err)
		return nil, cose.PublicKey{}, x509ca.Refuse(x509ca.ReasonUnavailable, "the ledger could not be read; retry")
	}
	if e == nil {
		return nil, cose.PublicKey{}, x509ca.Refuse(x509ca.ReasonUnknownDID, s.Kid.Base().String()+" is not registered")
	}
	k, ok := e.Key(s.Kid.Fragment)
	if !ok {
		return nil, cose.PublicKey{}, x509ca.Refuse(x509ca.ReasonUnknownKey, s.Kid.String()+" is not a current key")
	}
	pk, err := k.Public()
	if err != nil {
		return nil, cose.PublicKey{}, fmt.Errorf("ledger key %s: %w", s.Kid, err)
	}
	if err := s.Verify(pk); err != nil {
		return nil, cose.PublicKey{}, x509ca.Refuse(x509ca.ReasonBadSignature, "the signature does not verify with "+s.Kid.String())
	}
	switch e.Status {
	case op.StatusValidated:
	case op.StatusRevoked, op.StatusDeactivated:
		return nil, cose.PublicKey{}, x509ca.Refuse(x509ca.ReasonRevoked, e.DID+" is "+e.Status)
	default:
		return nil, cose.PublicKey{}, x509ca.Refuse(x509ca.ReasonNotValidated, e.DID+" is "+e.Status)
	}
	if e.Kind != op.KindDevice {
		return nil, cose.PublicKey{}, x509ca.Refuse(x509ca.ReasonWrongKind, e.DID+" is a "+e.Kind+", not a device")
	}
	return e, pk, nil
}

func (a *Authority) ocspURL() string {
	if a.c.URL == "" {
		return ""
	}
	return a.c.URL + "/v1/x509/ocsp/" + a.ca.Provider
}

func (a *Authority) crlURL() string {
	if a.c.URL == "" {
		return ""
	}
	return a.c.URL + "/v1/x509/crl/" + a.ca.Provider
}

// CRL reasons (RFC 5280, 5.3.1).
const (
	reasonSuperseded           = 4
	reasonCessationOfOperation = 5
	reasonPrivilegeWithdrawn   = 9
)

// verdict decides whether a certificate still stands with the entity's
// current record: validated, and its key still a current key (the same
// id and bytes). Else the CRL reason of its revocation.
func verdict(e *record.Entity, c Issued) (ok bool, reason int) {
	switch {
	case e == nil || e.Status == op.StatusDeactivated:
		return false, reasonCessationOfOperation
	case e.Status != op.StatusValidated:
		return false, reasonPrivilegeWithdrawn
	}
	k, found := e.Key(c.KeyID)
	if !found || k.Alg != c.Alg || string(k.Pub) != string(c.Pub) {
		return false, reasonSuperseded
	}
	// Each legacy identifier it names must still be the device's (one
	// dropped may be another device's now: RFC 5280 section 4.2.1.6).
	for _, a := range c.Aliases {
		if !slices.Contains(e.Doc.Aliases, a) {
			return false, reasonSuperseded
		}
	}
	return true, 0
}

// recheck reads a DID's record and revokes its certificates that no
// longer stand; it reports whether it revoked any. A failed read changes
// nothing (the next event or OCSP request reads again).
func (a *Authority) recheck(ctx context.Context, id string) bool {
	live := a.idx.Live(id, a.now().Unix())
	if len(live) == 0 {
		return false
	}
	e, err := a.c.View.EntityRecord(ctx, id)
	if err != nil {
		a.log.Warn("x509: reading the ledger failed", "did", id, "err", err)
		return false
	}
	revoked := false
	for _, c := range live {
		if ok, reason := verdict(e, c); !ok {
			if a.revoke(c.Serial, reason) {
				revoked = true
			}
		}
	}
	return revoked
}

func (a *Authority) revoke(serial string, reason int) bool {
	changed, err := a.idx.Revoke(serial, a.now().Unix(), reason)
	if err != nil {
		a.log.Error("x509: recording a revocation failed", "serial", serial, "err", err)
		return false
	}
	if changed {
		a.log.Info("x509: certificate revoked", "serial", serial, "reason", reason)
		select {
		case a.dirty <- struct{}{}:
		default:
		}
	}
	return changed
}

// validDID reports whether s is a DID of the CA's network.
func (a *Authority) validDID(s string) bool {
	d, err := did.ParseNoFragment(s)
	return err == nil && d.Network == a.c.Network
}

package authn

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"sync"

	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// Reason is the stable code of an authentication decision.
type Reason string

// The reasons (an append-only list).
const (
	OK                   Reason = "ok"
	FailMalformed        Reason = "fail/malformed"         // not a message of this protocol
	FailUnknownDID       Reason = "fail/unknown-did"       // the signer is not registered
	FailUnknownKey       Reason = "fail/unknown-key"       // the kid is not a current key (e.g. rotated away)
	FailBadSignature     Reason = "fail/bad-signature"     // tampered bytes, or another key signed
	FailRevoked          Reason = "fail/revoked"           // the signer is revoked or deactivated
	FailNotValidated     Reason = "fail/not-validated"     // the signer is pending or rejected
	FailWrongService     Reason = "fail/wrong-service"     // the proof is for another service
	FailExpiredChallenge Reason = "fail/expired-challenge" // the challenge is past its validity
	FailReplayedNonce    Reason = "fail/replayed-nonce"    // the challenge was already answered
	FailUnknownChallenge Reason = "fail/unknown-challenge" // this service did not issue that nonce
	FailWrongKind        Reason = "fail/wrong-kind"        // a device where a service is due, or the reverse
	FailContractDenied   Reason = "fail/contract-denied"   // an access contract said no
	FailUnavailable      Reason = "fail/unavailable"       // the ledger view could not be read
	FailExpiredToken     Reason = "fail/expired-token"     // a session token past its exp
	FailUnboundToken     Reason = "fail/unbound-token"     //nolint:gosec // a reason, no credential: a session token without a DPoP proof, or bound to no key
	FailBadDPoP          Reason = "fail/bad-dpop"          // a DPoP proof that does not hold for this request, token or key
	FailWrongOrigin      Reason = "fail/wrong-origin"      // a challenge or proof of another origin than the one the device talks to, or the service is reached at
	// Selective disclosure (the device's credential).
	FailCredentialMissing   Reason = "fail/credential-missing"   //nolint:gosec // a reason, no credential: the challenge requires claims and the proof carries no credential
	FailClaimMissing        Reason = "fail/claim-missing"        // a claim the challenge (or a contract) requires is not disclosed
	FailBadCredential       Reason = "fail/bad-credential"       //nolint:gosec // a reason, no credential: the issuer's signature does not verify with a key it publishes, or the credential is expired or malformed
	FailWrongIssuer         Reason = "fail/wrong-issuer"         // the credential is not issued by the device's provider
	FailWrongSubject        Reason = "fail/wrong-subject"        // the credential is of another device
	FailCredentialRevoked   Reason = "fail/credential-revoked"   //nolint:gosec // a reason, no credential: the provider revoked the credential (credential.status)
	FailBadDisclosure       Reason = "fail/bad-disclosure"       // a disclosure the credential does not reference (tampered, or of another), or a presentation the proof does not sign
	FailDuplicateDisclosure Reason = "fail/duplicate-disclosure" // a disclosure presented twice, or a digest twice in the credential
	FailOversizedCredential Reason = "fail/oversized-credential" // a presentation past its bounds
)

// Reasons lists the reasons, in the order they were added: the list that
// the API's documentation is checked against.
func Reasons() []Reason {
	return []Reason{
		OK, FailMalformed, FailUnknownDID, FailUnknownKey, FailBadSignature, FailRevoked, FailNotValidated,
		FailWrongService, FailExpiredChallenge, FailReplayedNonce, FailUnknownChallenge, FailWrongKind,
		FailContractDenied, FailUnavailable, FailExpiredToken, FailUnboundToken, FailBadDPoP, FailWrongOrigin,
		FailCredentialMissing, FailClaimMissing, FailBadCredential, FailWrongIssuer, FailWrongSubject, FailCredentialRevoked,
		FailBadDisclosure, FailDuplicateDisclosure, FailOversizedCredential,
	}
}

// Entity is what a decision needs to know of an entity, from the ledger.
type Entity struct {
	DID      string
	Kind     string // device or service
	Provider string
	Status   string
	Keys     []op.Key
	// Access lists a service's bound access contracts ("<provider
	// DID>/<name>"): services bound to the same one accept each other's
	// session tokens.
	Access []string
}

// EntityOf is what a decision needs of an entity record.
func EntityOf(e *record.Entity) *Entity {
	return &Entity{DID: e.DID, Kind: e.Kind, Provider: e.Provider, Status: e.Status, Keys: e.Doc.Keys, Access: e.Doc.Access}
}

// View reads the ledger: a node's committed state, or a client of a node.
// Entity returns nil, nil for an unknown DID; Contract the current version
// of the contract ref ("<provider DID>/<name>"), nil, nil if there is none.
type View interface {
	Entity(ctx context.Context, id did.DID) (*Entity, error)
	Contract(ctx context.Context, ref string) (*record.Contract, error)
}

// Decision is the outcome of a verification.
type Decision struct {
	OK       bool     `json:"ok"`
	Reason   Reason   `json:"reason"`
	Detail   string   `json:"detail,omitempty"`
	Device   string   `json:"device,omitempty"`
	Service  string   `json:"service,omitempty"`
	Kid      string   `json:"kid,omitempty"`
	Encoding Encoding `json:"encoding,omitempty"`
	At       int64    `json:"at"` // Unix seconds of the decision
	// Signed is set when the proof's signature verified with a current
	// key of the device it names: only then is the decision the device's
	// (an audit trail attributes nothing else to it). Not sent.
	Signed bool `json:"-"`
	// Contract names the access contracts that decided, each as
	// "<provider DID>/<name>@<version>"; for a session token accepted under
	// a shared contract, that contract ("<provider DID>/<name>").
	Contract []string `json:"contract,omitempty"`
	// Disclosed holds the values of the claims the challenge asked that
	// the device disclosed, each verified against its issuer's credential
	// (its digest signed by the device's provider, the credential of this
	// device, not revoked).
	Disclosed map[string]string `json:"disclosed,omitempty"`
}

func deny(r Reason, format string, args ...any) Decision {
	return Decision{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Standing reads id from v and decides whether it stands: registered,
// validated (not pending, rejected, revoked or deactivated) and, unless
// kind is "", of that kind.
func Standing(ctx context.Context, v View, id did.DID, kind string) (*Entity, Decision) {
	e, err := v.Entity(ctx, id.Base())
	if err != nil {
		return nil, deny(FailUnavailable, "the ledger view failed")
	}
	if e == nil {
		return nil, deny(FailUnknownDID, "%s is not registered", id.Base())
	}
	switch e.Status {
	case op.StatusValidated:
	case op.StatusRevoked, op.StatusDeactivated:
		return nil, deny(FailRevoked, "%s is %s", e.DID, e.Status)
	default:
		return nil, deny(FailNotValidated, "%s is %s", e.DID, e.Status)
	}
	if kind != "" && e.Kind != kind {
		return nil, deny(FailWrongKind, "%s is a %s, not a %s", e.DID, e.Kind, kind)
	}
	return e, Decision{OK: true, Reason: OK}
}

// signer checks that a message's kid is a current key of a live,
// validated entity of the wanted kind, and that it signed.
func signer(ctx context.Context, v View, s *Signed, kind string) (*Entity, Decision) {
	e, d := Standing(ctx, v, s.Kid, kind)
	if !d.OK {
		return nil, d
	}
	var key *op.Key
	for i := range e.Keys {
		if e.Keys[i].ID == s.Kid.Fragment {
			key = &e.Keys[i]
		}
	}
	if key == nil {
		return nil, deny(FailUnknownKey, "%s is not a current key", s.Kid)
	}
	pk, err := key.Public()
	if err != nil || !s.Verify(pk) {
		return nil, deny(FailBadSignature, "the signature does not verify with %s", s.Kid)
	}
	return e, Decision{OK: true, Reason: OK}
}

// VerifyChallenge is the device's side: the challenge names origin, the
// origin the device sent the request that the challenge answered to (in
// any form ParseOrigin reads), is signed by a current key of a validated
// service and has not expired at now (Unix seconds). A challenge of
// another origin is refused (fail/wrong-origin) before the ledger is
// read: the host the device talks to relays another service's challenge,
// and would use the device's proof there.
func VerifyChallenge(ctx context.Context, v View, origin string, msg []byte, now int64) (*Challenge, Decision) {
	want, err := ParseOrigin(origin)
	if err != nil {
		return nil, deny(FailWrongOrigin, "the device's origin: %v", err)
	}
	c, d := verifyChallenge(ctx, v, msg, now, func(c *Challenge) Decision {
		if c.Origin != want {
			return deny(FailWrongOrigin, "the challenge is for %s, and the device talks to %s", c.Origin, want)
		}
		return Decision{OK: true}
	})
	return c, d
}

// verifyChallenge decodes and checks a challenge; first, when set, checks
// its claims before the ledger is read.
func verifyChallenge(ctx context.Context, v View, msg []byte, now int64, first func(*Challenge) Decision) (*Challenge, Decision) {
	c, s, err := DecodeChallenge(msg)
	if err != nil {
		return nil, deny(FailMalformed, "%v", err)
	}
	if first != nil {
		if d := first(c); !d.OK {
			d.Service, d.Kid, d.Encoding, d.At = c.Service.String(), c.Kid.String(), s.Encoding, now
			return nil, d
		}
	}
	if now >= c.Expires || now < c.IssuedAt-clockSkew {
		return nil, deny(FailExpiredChallenge, "challenge valid from %d to %d; now %d", c.IssuedAt, c.Expires, now)
	}
	if _, d := signer(ctx, v, s, op.KindService); !d.OK {
		return nil, d
	}
	d := Decision{OK: true, Reason: OK, Service: c.Service.String(), Kid: c.Kid.String(), Encoding: s.Encoding, At: now}
	return c, d
}

// clockSkew is how far ahead of the verifier's clock a message may be dated.
const clockSkew = 30

// Issued finds the challenge a service issued with a nonce and spends it:
// it answers each nonce once (Issuer). A refusal is a decision
// (unknown, expired or replayed challenge).
type Issued interface {
	Spend(nonce []byte, now int64) (*Challenge, Decision)
}

// VerifyProof is the service's side: the proof is signed by a current key
// of a validated device, made for origin (the service's own, as
// ParseOrigin returns it), and answers a challenge that this service
// issued for that origin, unexpired and not answered before.
func VerifyProof(ctx context.Context, v View, issued Issued, service did.DID, origin string, msg []byte, now int64) Decision {
	p, s, err := DecodeProof(msg, origin)
	if err != nil {
		return deny(sdReason(err), "%v", err)
	}
	return decideProof(ctx, v, p, s, service, origin, now, func() (*Challenge, Decision) {
		return issued.Spend(p.ServiceNonce, now)
	})
}

// decideProof decides a decoded proof for service at origin; challenge
// finds (and spends) the challenge it answers, once its signature holds.
func decideProof(ctx context.Context, v View, p *Proof, s *Signed, service did.DID, origin string, now int64, challenge func() (*Challenge, Decision)) Decision {
	base := Decision{Device: p.Device.String(), Service: p.Service.String(), Kid: p.Kid.String(), Encoding: s.Encoding, At: now}
	fail := func(d Decision) Decision {
		d.Device, d.Service, d.Kid, d.Encoding, d.At, d.Signed = base.Device, base.Service, base.Kid, base.Encoding, now, base.Signed
		return d
	}
	if p.Service.Base() != service.Base() {
		return fail(deny(FailWrongService, "the proof is for %s", p.Service))
	}
	if p.Origin != origin { // a JWS proof; a COSE one of another origin fails its signature
		return fail(deny(FailWrongOrigin, "the proof is for %s, not %s", p.Origin, origin))
	}
	dev, d := signer(ctx, v, s, op.KindDevice)
	if !d.OK {
		return fail(d)
	}
	base.Signed = true
	c, d := challenge()
	if !d.OK {
		d.Signed = true
		return fail(d)
	}
	if c.Service.Base() != service.Base() {
		return fail(deny(FailWrongService, "the challenge was issued by %s", c.Service))
	}
	if c.Origin != origin {
		return fail(deny(FailWrongOrigin, "the challenge was issued for %s, not %s", c.Origin, origin))
	}
	if now >= c.Expires {
		return fail(deny(FailExpiredChallenge, "the challenge expired at %d; now %d", c.Expires, now))
	}
	if !bytes.Equal(c.Nonce, p.ServiceNonce) {
		return fail(deny(FailUnknownChallenge, "the proof answers another challenge"))
	}
	disclosed, d := checkCredential(ctx, v, dev, p, c.Claims, now)
	if !d.OK {
		return fail(d)
	}
	base.OK, base.Reason, base.Disclosed = true, OK, disclosed
	return base
}

// NewChallenge makes a challenge for service key kid, reached at origin,
// with a fresh nonce (from the caller's randomness) valid for ttl seconds
// from now.
func NewChallenge(kid did.DID, origin string, nonce []byte, now, ttl int64) *Challenge {
	return &Challenge{Service: kid.Base(), Kid: kid, Network: kid.Network, Origin: origin, Nonce: nonce, IssuedAt: now, Expires: now + ttl}
}

// SpentSet remembers the challenges answered, per service, until they
// expire: a verifier that sees both messages (a node) needs no store of
// issued challenges, only this.
type SpentSet interface {
	// Spend records the pair and reports whether it was new.
	Spend(service did.DID, nonce []byte, expires, now int64) bool
}

// VerifyPair decides on a proof together with the challenge it answers,
// as a node does for a service that forwards both: the challenge must be
// signed by a current key of a validated service and unexpired, the proof
// by a current key of a validated device, bound to that challenge and made
// for its origin, and the pair not seen before. Whether that origin is
// the service's is the service's to know (it signed it); a node sees that
// the device answered for the origin the service named.
func VerifyPair(ctx context.Context, v View, spent SpentSet, challenge, proof []byte, now int64) Decision {
	c, d := verifyChallenge(ctx, v, challenge, now, nil)
	if !d.OK {
		return d
	}
	p, s, err := DecodeProof(proof, c.Origin)
	if err != nil {
		return deny(sdReason(err), "%v", err)
	}
	return decideProof(ctx, v, p, s, c.Service, c.Origin, now, func() (*Challenge, Decision) {
		if !spent.Spend(c.Service, c.Nonce, c.Expires, now) {
			return nil, deny(FailReplayedNonce, "the challenge was already answered")
		}
		return c, Decision{OK: true}
	})
}

// MemorySpentSet is a bounded in-memory SpentSet, safe for concurrent use.
// It forgets each pair when it expires, oldest first, at a cost of
// O(log n) a pair (an expiry queue, not a scan), and it is shared out by
// service: one service's pairs take at most a sixteenth of it (and at
// least 1024), so that one service, however busy or hostile, cannot fill
// the set for the others (a node's set serves every service that decides
// there). When a service's share or the whole set is full, new pairs of
// it are refused as if spent (fail closed).
type MemorySpentSet struct {
	mu       sync.Mutex
	max, per int
	m        map[string]int64 // service \x00 nonce -> expiry
	count    map[string]int   // pairs held per service
	queue    expiryQueue
}

// NewMemorySpentSet holds at most max unexpired pairs.
func NewMemorySpentSet(max int) *MemorySpentSet {
	return &MemorySpentSet{max: max, per: min(max, maxInt(max/16, 1024)), m: map[string]int64{}, count: map[string]int{}}
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// Spend implements SpentSet.
func (s *MemorySpentSet) Spend(service did.DID, nonce []byte, expires, now int64) bool {
	svc := service.Base().String()
	k := svc + "\x00" + string(nonce)
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) > 0 && s.queue[0].expires <= now {
		e := heap.Pop(&s.queue).(spentEntry)
		if exp, ok := s.m[e.key]; ok && exp == e.expires {
			delete(s.m, e.key)
			if s.count[e.service]--; s.count[e.service] == 0 {
				delete(s.count, e.service)
			}
		}
	}
	if exp, ok := s.m[k]; ok && exp > now {
		return false
	}
	if len(s.m) >= s.max || s.count[svc] >= s.per {
		return false
	}
	s.m[k] = expires
	s.count[svc]++
	heap.Push(&s.queue, spentEntry{expires: expires, key: k, service: svc})
	return true
}

// spentEntry is a pair in the expiry queue.
type spentEntry struct {
	expires      int64
	key, service string
}

// expiryQueue is a min-heap of pairs by expiry (container/heap).
type expiryQueue []spentEntry

func (q expiryQueue) Len() int           { return len(q) }
func (q expiryQueue) Less(i, j int) bool { return q[i].expires < q[j].expires }
func (q expiryQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *expiryQueue) Push(x any)        { *q = append(*q, x.(spentEntry)) }
func (q *expiryQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

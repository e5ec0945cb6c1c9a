package authn

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/bias-iot/bias/did"
)

// Issuer issues a service's challenges, for the origin it is reached at,
// without keeping them, so that
// anonymous requests for challenges cost no memory and cannot crowd out
// the devices that answer (an unanswered challenge is never stored).
// Each nonce carries when it was issued, its validity and a MAC under a
// key that only this issuer holds:
//
//	nonce = iat (4 bytes, big-endian) ‖ life (2) ‖ level (1) ‖ serial (3) ‖ tag (6)
//	tag   = HMAC-SHA-256(key, "bias-challenge-v2" ‖ len ‖ service kid ‖ len ‖ origin ‖ iat ‖ life ‖ serial)[:6]
//
// (each len is 2 bytes, big-endian). The serial counts the issuer's
// challenges, so that no two are alike; the tag makes a nonce
// unpredictable to anyone without the key, and binds it to the origin: an
// issuer reads back only challenges of its own origin, and so accepts only
// proofs of them (two issuers of one service at two origins, even with one
// key, accept none of each other's).
//
// An answered nonce is kept in a spent set until it expires: that takes
// a valid device signature, so only authenticated work fills it. A
// challenge is bound to the issuer's key: a proof answered to one service
// instance is refused by another, and by the same service after a restart
// (a new key), so that single use holds wherever the proof is replayed.
// Safe for concurrent use.
type Issuer struct {
	kid    did.DID
	origin string
	key    []byte
	spent  SpentSet
	serial atomic.Uint32
	asks   []ClaimRequest
}

// Nonce layout.
const (
	nonceTag = 6
)

// NewIssuer returns the issuer of service key kid's challenges for origin
// (as ParseOrigin returns it: the origin devices reach the service at),
// with a MAC key (32 random bytes, kept by the service and never sent) and
// the set that remembers answered nonces. New fails for an origin that is
// not normalized.
func NewIssuer(kid did.DID, origin string, key []byte, spent SpentSet) *Issuer {
	return &Issuer{kid: kid, origin: origin, key: append([]byte(nil), key...), spent: spent}
}

// Ask sets what the issuer's challenges ask of the device's credential,
// by level: NewAt(now, ttl, 0) asks asks[0], a later challenge may ask
// more (progressive disclosure). At most 256 levels; the level is in the
// nonce, under its MAC, so that the issuer reads back what it asked. Set
// it before the first challenge.
func (i *Issuer) Ask(asks ...ClaimRequest) error {
	if len(asks) > 256 {
		return fmt.Errorf("at most 256 levels")
	}
	for _, a := range asks {
		if err := a.Check(); err != nil {
			return err
		}
	}
	i.asks = asks
	return nil
}

// Origin is the origin the issuer's challenges name.
func (i *Issuer) Origin() string { return i.origin }

func (i *Issuer) tag(head []byte) []byte {
	m := hmac.New(sha256.New, i.key)
	m.Write([]byte("bias-challenge-v2"))
	kid := i.kid.String()
	m.Write(binary.BigEndian.AppendUint16(nil, uint16(len(kid))))
	m.Write([]byte(kid))
	m.Write(binary.BigEndian.AppendUint16(nil, uint16(len(i.origin))))
	m.Write([]byte(i.origin))
	m.Write(head)
	return m.Sum(nil)[:nonceTag]
}

// New makes a challenge valid ttl seconds (1 to MaxValiditySeconds) from
// now, asking what level 0 asks (Ask).
func (i *Issuer) New(now, ttl int64) (*Challenge, error) { return i.NewAt(now, ttl, 0) }

// NewAt is New asking what level asks.
func (i *Issuer) NewAt(now, ttl int64, level int) (*Challenge, error) {
	if ttl < 1 || ttl > MaxValiditySeconds || now < 0 || now > 1<<32-1 {
		return nil, fmt.Errorf("a challenge lives 1 to %d seconds", MaxValiditySeconds)
	}
	if level < 0 || (level > 0 && level >= len(i.asks)) {
		return nil, fmt.Errorf("no claim request at level %d", level)
	}
	if err := checkOrigin(i.origin); err != nil {
		return nil, fmt.Errorf("the issuer's origin: %w", err)
	}
	head := binary.BigEndian.AppendUint32(nil, uint32(now))
	head = binary.BigEndian.AppendUint16(head, uint16(ttl))
	head = binary.BigEndian.AppendUint32(head, uint32(level)<<24|i.serial.Add(1)&0xffffff)
	c := NewChallenge(i.kid, i.origin, append(head, i.tag(head)...), now, ttl)
	c.Claims = i.ask(level)
	return c, nil
}

// ask is what level asks (nothing when no level is set).
func (i *Issuer) ask(level int) ClaimRequest {
	if level < len(i.asks) {
		return i.asks[level]
	}
	return ClaimRequest{}
}

// Check reads the challenge a nonce stands for: one this issuer made,
// unexpired at now. It spends nothing.
func (i *Issuer) Check(nonce []byte, now int64) (*Challenge, Decision) {
	if len(nonce) != NonceLen {
		return nil, deny(FailUnknownChallenge, "no challenge with this nonce was issued here")
	}
	head := nonce[:NonceLen-nonceTag]
	if !hmac.Equal(i.tag(head), nonce[NonceLen-nonceTag:]) {
		return nil, deny(FailUnknownChallenge, "no challenge with this nonce was issued here")
	}
	iat := int64(binary.BigEndian.Uint32(head))
	c := NewChallenge(i.kid, i.origin, append([]byte(nil), nonce...), iat, int64(binary.BigEndian.Uint16(head[4:])))
	c.Claims = i.ask(int(head[6]))
	if now >= c.Expires {
		return nil, deny(FailExpiredChallenge, "the challenge expired at %d; now %d", c.Expires, now)
	}
	return c, Decision{OK: true, Reason: OK}
}

// Spend implements Issued: the challenge of a nonce this issuer made,
// spent once. An unknown or expired nonce is not remembered.
func (i *Issuer) Spend(nonce []byte, now int64) (*Challenge, Decision) {
	c, d := i.Check(nonce, now)
	if !d.OK {
		return nil, d
	}
	if !i.spent.Spend(i.kid, nonce, c.Expires, now) {
		return nil, deny(FailReplayedNonce, "the challenge was already answered")
	}
	return c, d
}

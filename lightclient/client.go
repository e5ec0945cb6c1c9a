package lightclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Source is where a Client reads headers: a node it does not trust. The
// signed header must carry the validator set of its height.
type Source interface {
	SignedHeader(ctx context.Context, height int64) (*SignedHeader, error)
}

// Defaults of a Client.
const (
	// DefaultTrustingPeriod is how long a verified header stays a root of
	// trust, from its header time (CometBFT's light client takes two
	// thirds of an unbonding period; bias has no bonds, so this is the
	// time within which the operators are trusted to notice and answer a
	// removed operator that signs a fork with its old key).
	DefaultTrustingPeriod = 7 * 24 * time.Hour
	// DefaultMaxClockDrift is how far into the verifier's future a
	// header's time may be.
	DefaultMaxClockDrift = 10 * time.Second
	// DefaultMaxHeaders bounds the headers one verification reads.
	DefaultMaxHeaders = 256
)

// Errors a Client names, besides ErrUnverified for a header that does
// not verify.
var (
	// ErrExpired: the newest trusted header (or the genesis) is older
	// than the trusting period, so the validators it names may no longer
	// be bound to the network; the verifier needs a newer root of trust.
	ErrExpired = errors.New("the trusted header is older than the trusting period")
	// ErrBelowTrusted: the height asked for is below the newest trusted
	// header: a node cannot take the verifier back to an older state.
	ErrBelowTrusted = errors.New("height below the newest trusted header")
	// ErrTooManyHeaders: the verification needed more headers than the
	// client reads for one height.
	ErrTooManyHeaders = errors.New("too many headers to verify one height")
	// errSetChanged: a skip across a change of the validator set, which
	// the client bisects.
	errSetChanged = errors.New("the validator set changed")
)

// Client verifies headers of one chain from a root of trust (the genesis
// or a trusted header in its Store), following validator set changes
// with CometBFT's light client rules:
//
//   - a header right after a trusted one (sequential) verifies when its
//     validator set is the one the trusted header named next and that
//     set signed it by more than two thirds;
//   - a header further on (skipping) verifies when its own set signed it
//     by more than two thirds and members of the trusted set with more
//     than a third of the trusted power signed it too (trust level 1/3);
//     when they are too few, the client verifies a header half-way first
//     (bisection) and tries again from there;
//   - in both, the trusted header is younger than the trusting period,
//     measured from its header time, and the new header's time is after
//     the trusted one's and not beyond the verifier's clock plus the
//     clock drift.
//
// Each verified header becomes the trusted one and is saved in the
// Store, so the next verification starts from it. A Client is safe for
// concurrent use.
type Client struct {
	chainID string
	genesis Trusted
	src     Source
	store   Store
	// TrustingPeriod, MaxClockDrift and MaxHeaders default to
	// DefaultTrustingPeriod, DefaultMaxClockDrift and DefaultMaxHeaders
	// when zero.
	TrustingPeriod time.Duration
	MaxClockDrift  time.Duration
	MaxHeaders     int

	mu sync.Mutex
}

// NewClient returns a client of g's chain that reads from src. store
// keeps the newest trusted header (a MemStore when nil); when it holds
// one for the chain, verification starts from there rather than from g.
func NewClient(g *Genesis, src Source, store Store) *Client {
	if store == nil {
		store = NewMemStore()
	}
	vals := g.Validators.Validators()
	return &Client{
		chainID: g.ChainID, src: src, store: store,
		genesis: Trusted{ChainID: g.ChainID, Height: 0, Time: g.Time, Validators: vals, NextValidatorsHash: g.Validators.Hash()},
	}
}

// ChainID is the chain the client verifies.
func (c *Client) ChainID() string { return c.chainID }

// Trusted returns the newest trusted header: the store's, else the
// genesis.
func (c *Client) Trusted() (*Trusted, error) {
	t, err := c.store.Load(c.chainID)
	if err != nil {
		return nil, fmt.Errorf("trusted header store: %w", err)
	}
	if t == nil {
		g := c.genesis
		return &g, nil
	}
	if err := t.check(c.chainID); err != nil {
		return nil, fmt.Errorf("trusted header store: %w", err)
	}
	return t, nil
}

// VerifyHeight verifies the header of block height, as of now (the
// verifier's clock), and returns it as trusted. A height equal to the
// newest trusted one returns that header; a lower one is ErrBelowTrusted.
func (c *Client) VerifyHeight(ctx context.Context, height int64, now time.Time) (*Trusted, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	trusted, err := c.Trusted()
	if err != nil {
		return nil, err
	}
	switch {
	case height == trusted.Height && height > 0:
		return trusted, nil
	case height <= trusted.Height:
		return nil, fmt.Errorf("%w: %d, trusted %d", ErrBelowTrusted, height, trusted.Height)
	}
	maxHeaders := c.MaxHeaders
	if maxHeaders <= 0 {
		maxHeaders = DefaultMaxHeaders
	}
	// pending holds the headers still to verify, the target at the
	// bottom, each pivot above the one it bisects.
	var pending []*Trusted
	for read := 0; ; {
		if len(pending) == 0 || pending[len(pending)-1] == nil {
			next := height
			if len(pending) > 0 {
				pending = pending[:len(pending)-1]
				next = (trusted.Height + pending[len(pending)-1].Height) / 2
			}
			if read == maxHeaders {
				return nil, fmt.Errorf("%w: more than %d for height %d", ErrTooManyHeaders, maxHeaders, height)
			}
			read++
			u, err := c.fetch(ctx, next)
			if err != nil {
				return nil, err
			}
			pending = append(pending, u)
		}
		u := pending[len(pending)-1]
		err := c.verify(trusted, u, now)
		switch {
		case err == nil:
			if err := c.store.Save(u); err != nil {
				return nil, fmt.Errorf("trusted header store: %w", err)
			}
			trusted = u
			pending = pending[:len(pending)-1]
			if len(pending) == 0 {
				return trusted, nil
			}
		case errors.Is(err, ErrTooLittleTrust), errors.Is(err, errSetChanged):
			pending = append(pending, nil) // read a pivot half-way
		default:
			return nil, fmt.Errorf("header %d from trusted %d: %w", u.Height, trusted.Height, err)
		}
	}
}

// fetch reads the signed header of height and checks it alone: the
// commit is for it and its set signed it by more than two thirds.
func (c *Client) fetch(ctx context.Context, height int64) (*Trusted, error) {
	sh, err := c.src.SignedHeader(ctx, height)
	if err != nil {
		return nil, fmt.Errorf("signed header %d: %w", height, err)
	}
	if sh.Header.Height != height {
		return nil, fmt.Errorf("%w: asked for header %d, got %d", ErrUnverified, height, sh.Header.Height)
	}
	vals, err := NewValidatorSet(sh.Validators)
	if err != nil {
		return nil, fmt.Errorf("%w: header %d: %v", ErrUnverified, height, err)
	}
	return &Trusted{ChainID: sh.Header.ChainID, Height: height, Time: sh.Header.Time, Hash: sh.Header.Hash(),
		AppHash: sh.Header.AppHash, Validators: vals.Validators(), NextValidatorsHash: sh.Header.NextValidatorsHash,
		signed: sh, vals: vals}, nil
}

// verify checks u, a header fetched from the source, from trusted.
func (c *Client) verify(trusted, u *Trusted, now time.Time) error {
	period, drift := c.TrustingPeriod, c.MaxClockDrift
	if period <= 0 {
		period = DefaultTrustingPeriod
	}
	if drift <= 0 {
		drift = DefaultMaxClockDrift
	}
	if expires := trusted.Time.Add(period); !expires.After(now) {
		return fmt.Errorf("%w: header %d of %s expired at %s", ErrExpired, trusted.Height,
			trusted.Time.UTC().Format(time.RFC3339), expires.UTC().Format(time.RFC3339))
	}
	// Block 1 carries the genesis time; every later block is later than
	// the one before.
	if u.Time.Before(trusted.Time) || (trusted.Height > 0 && !u.Time.After(trusted.Time)) {
		return fmt.Errorf("%w: header time %s not after the trusted header's %s", ErrUnverified, u.Time, trusted.Time)
	}
	if !u.Time.Before(now.Add(drift)) {
		return fmt.Errorf("%w: header time %s is beyond the verifier's clock %s", ErrUnverified, u.Time, now)
	}
	if u.Height == trusted.Height+1 {
		if !bytes.Equal(u.signed.Header.ValidatorsHash, trusted.NextValidatorsHash) {
			return fmt.Errorf("%w: header %d names another validator set than header %d named next", ErrUnverified, u.Height, trusted.Height)
		}
		return Verify(c.chainID, u.signed, u.vals)
	}
	// Skip only across heights where the validator set stayed as the
	// trusted header named it: across a change, bisect down to adjacent
	// headers, each signed by more than two thirds of the set the one
	// before named. Validators that were removed then hold no trust,
	// however much of an older set they held (CometBFT's skipping rule
	// alone would let a third of a past set forge a later header).
	if !bytes.Equal(u.signed.Header.ValidatorsHash, trusted.NextValidatorsHash) {
		return fmt.Errorf("%w: the validator set changed between headers %d and %d", errSetChanged, trusted.Height, u.Height)
	}
	tv := trusted.vals // a header verified in this call
	if tv == nil {
		var err error
		if tv, err = NewValidatorSet(trusted.Validators); err != nil {
			return err
		}
	}
	return VerifyTrusting(c.chainID, u.signed, tv, u.vals)
}

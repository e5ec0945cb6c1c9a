package lightclient

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// chain is a chain of real headers signed with real Ed25519 keys: sets[h]
// is the validator set of height h (sets[0] the genesis set, which also
// signs block 1).
type chain struct {
	t       testing.TB
	id      string
	genesis time.Time
	sets    [][]testVal
	headers map[int64]*SignedHeader
	fetched atomic.Int64
	forged  map[int64]*SignedHeader // what a lying node answers instead
}

// newChain makes heights 1..n; change(h, set) returns the set of height h
// from the one before.
func newChain(t testing.TB, n int64, genesis []testVal, change func(h int64, prev []testVal) []testVal) *chain {
	t.Helper()
	c := &chain{t: t, id: "c", genesis: time.Unix(1_800_000_000, 0).UTC(), headers: map[int64]*SignedHeader{}, forged: map[int64]*SignedHeader{}}
	c.sets = append(c.sets, genesis, genesis) // height 1 is signed by the genesis set
	for h := int64(2); h <= n+1; h++ {
		c.sets = append(c.sets, change(h, c.sets[h-1]))
	}
	var last BlockID
	for h := int64(1); h <= n; h++ {
		sh := c.sign(h, c.sets[h], c.set(c.sets[h+1]).Hash(), last, c.sets[h])
		last = sh.Commit.BlockID
		c.headers[h] = sh
	}
	return c
}

func (c *chain) set(tv []testVal) *ValidatorSet {
	var vals []Validator
	for _, v := range tv {
		vals = append(vals, v.Validator)
	}
	vs, err := NewValidatorSet(vals)
	if err != nil {
		c.t.Fatal(err)
	}
	return vs
}

// sign makes header h of set members, named next, signed by the members
// of signers (others absent).
func (c *chain) sign(h int64, members []testVal, next []byte, last BlockID, signers []testVal) *SignedHeader {
	vs := c.set(members)
	hd := Header{VersionBlock: 11, ChainID: c.id, Height: h, Time: c.genesis.Add(time.Duration(h-1) * time.Second),
		LastBlockID: last, ValidatorsHash: vs.Hash(), NextValidatorsHash: next, AppHash: fmt.Appendf(nil, "state at %d", h)}
	sh := &SignedHeader{Header: hd, Commit: Commit{Height: h, BlockID: BlockID{Hash: hd.Hash(), PartsTotal: 1, PartsHash: []byte("parts")}},
		Validators: vs.Validators()}
	for i, v := range vs.Validators() {
		sh.Commit.Signatures = append(sh.Commit.Signatures, CommitSig{Flag: FlagAbsent})
		for _, s := range signers {
			if bytes.Equal(s.PubKey, v.PubKey) {
				sh.Commit.Signatures[i] = CommitSig{Flag: FlagCommit, ValidatorAddress: v.Address(), Timestamp: hd.Time.Add(time.Millisecond)}
				sh.Commit.Signatures[i].Signature = ed25519.Sign(s.priv, VoteSignBytes(c.id, &sh.Commit, i))
			}
		}
	}
	return sh
}

func (c *chain) SignedHeader(_ context.Context, h int64) (*SignedHeader, error) {
	c.fetched.Add(1)
	if sh, ok := c.forged[h]; ok {
		return sh, nil
	}
	sh, ok := c.headers[h]
	if !ok {
		return nil, fmt.Errorf("no block %d", h)
	}
	return sh, nil
}

func (c *chain) genesisDoc() *Genesis {
	return &Genesis{ChainID: c.id, Time: c.genesis, Validators: c.set(c.sets[0])}
}

// now is a verifier's clock shortly after block h.
func (c *chain) now(h int64) time.Time { return c.genesis.Add(time.Duration(h) * time.Second) }

func keys(t testing.TB, n int) []testVal {
	t.Helper()
	powers := make([]int64, n)
	for i := range powers {
		powers[i] = 10
	}
	tv, _ := newVals(t, powers...)
	return tv
}

// joinLeave admits e at height in and removes the validator at index out
// of the genesis set at height rm (as bias's governance changes a set:
// one block's updates sign from two blocks on).
func joinLeave(genesis []testVal, e testVal, in, rm int64) func(int64, []testVal) []testVal {
	return func(h int64, prev []testVal) []testVal {
		var out []testVal
		for _, v := range prev {
			if h == rm && bytes.Equal(v.PubKey, genesis[3].PubKey) {
				continue
			}
			out = append(out, v)
		}
		if h == in {
			out = append(out, e)
		}
		return out
	}
}

// TestClientFollowsChanges: from the genesis, the client verifies a
// header after a validator joined and another left: it skips where the
// set stayed, and bisects down to adjacent headers at each change.
func TestClientFollowsChanges(t *testing.T) {
	g := keys(t, 5)
	c := newChain(t, 40, g[:4], joinLeave(g, g[4], 10, 20))
	lc := NewClient(c.genesisDoc(), c, nil)
	tr, err := lc.VerifyHeight(t.Context(), 40, c.now(40))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Height != 40 || !bytes.Equal(tr.AppHash, []byte("state at 40")) || len(tr.Validators) != 4 {
		t.Fatalf("trusted %+v", tr)
	}
	if n := c.fetched.Load(); n < 3 || n > 20 {
		t.Fatalf("read %d headers for two changes in 40 blocks (a pair of adjacent ones at each, a few pivots)", n)
	}
	// Where the set never changed, one header does.
	still := newChain(t, 40, g[:4], func(_ int64, prev []testVal) []testVal { return prev })
	if _, err := NewClient(still.genesisDoc(), still, nil).VerifyHeight(t.Context(), 40, still.now(40)); err != nil || still.fetched.Load() != 1 {
		t.Fatalf("a set that never changed: %d headers, %v", still.fetched.Load(), err)
	}
	if got, _ := lc.Trusted(); got.Height != 40 {
		t.Fatalf("the client trusts %d, not the header it verified", got.Height)
	}
}

// TestClientBisects: when every block swaps a validator, a far header
// shares too little of the trusted power, and the client verifies
// headers between, down to sequential steps when it must.
func TestClientBisects(t *testing.T) {
	pool := keys(t, 24)
	next := 4
	c := newChain(t, 16, pool[:4], func(_ int64, prev []testVal) []testVal {
		out := append([]testVal{}, prev[1:]...)
		out = append(out, pool[next])
		next++
		return out
	})
	lc := NewClient(c.genesisDoc(), c, nil)
	tr, err := lc.VerifyHeight(t.Context(), 16, c.now(16))
	if err != nil || tr.Height != 16 {
		t.Fatalf("%+v %v", tr, err)
	}
	if n := c.fetched.Load(); n < 4 || n > 16 {
		t.Fatalf("read %d headers for 16 heights of changes", n)
	}
	// With too small a budget it says so.
	lc2 := NewClient(c.genesisDoc(), c, nil)
	lc2.MaxHeaders = 2
	if _, err := lc2.VerifyHeight(t.Context(), 16, c.now(16)); !errors.Is(err, ErrTooManyHeaders) {
		t.Fatalf("two headers for 16 heights: %v", err)
	}
}

// TestClientRefusesRemoved: after D's removal, a header signed by D alone
// (for a set of D only, or for the old set) is refused, from the genesis
// and from a header trusted after the removal.
func TestClientRefusesRemoved(t *testing.T) {
	g := keys(t, 5)
	d := g[3]
	for name, forge := range map[string]func(c *chain) *SignedHeader{
		"a set of D alone": func(c *chain) *SignedHeader {
			return c.sign(30, []testVal{d}, c.set([]testVal{d}).Hash(), c.headers[29].Commit.BlockID, []testVal{d})
		},
		"the old set, signed by D": func(c *chain) *SignedHeader {
			return c.sign(30, g[:4], c.set(g[:4]).Hash(), c.headers[29].Commit.BlockID, []testVal{d})
		},
	} {
		for _, from := range []int64{0, 25} {
			t.Run(fmt.Sprintf("%s/from-%d", name, from), func(t *testing.T) {
				c := newChain(t, 40, g[:4], joinLeave(g, g[4], 10, 20))
				lc := NewClient(c.genesisDoc(), c, nil)
				if from > 0 {
					if _, err := lc.VerifyHeight(t.Context(), from, c.now(from)); err != nil {
						t.Fatal(err)
					}
				}
				c.forged[30] = forge(c)
				if tr, err := lc.VerifyHeight(t.Context(), 30, c.now(30)); !errors.Is(err, ErrUnverified) {
					t.Fatalf("believed a header of a removed validator: %+v %v", tr, err)
				}
				if got, _ := lc.Trusted(); got.Height >= 30 {
					t.Fatalf("trusts %d after a refusal", got.Height)
				}
			})
		}
	}
}

// TestClientExpired: a root of trust older than the trusting period is
// refused by name; a newer trusted header in the store renews it.
func TestClientExpired(t *testing.T) {
	g := keys(t, 4)
	c := newChain(t, 20, g, func(_ int64, prev []testVal) []testVal { return prev })
	lc := NewClient(c.genesisDoc(), c, nil)
	lc.TrustingPeriod = time.Hour
	late := c.genesis.Add(time.Hour)
	if _, err := lc.VerifyHeight(t.Context(), 20, late); !errors.Is(err, ErrExpired) {
		t.Fatalf("from a genesis an hour old with a period of an hour: %v", err)
	}
	if _, err := lc.VerifyHeight(t.Context(), 10, c.now(10)); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.VerifyHeight(t.Context(), 20, late); err != nil {
		t.Fatalf("from header 10, younger than the period: %v", err)
	}
}

// TestClientRejects: a named case for each rule of a single step.
func TestClientRejects(t *testing.T) {
	g := keys(t, 4)
	same := func(_ int64, prev []testVal) []testVal { return prev }
	for name, c := range map[string]struct {
		height int64
		now    func(c *chain) time.Time
		forge  func(c *chain, sh *SignedHeader)
		want   error
		text   string
	}{
		"fail/future-header": {5, func(c *chain) time.Time { return c.genesis.Add(-time.Minute) }, nil, ErrUnverified, "beyond the verifier's clock"},
		"fail/time-not-after": {5, nil, func(c *chain, sh *SignedHeader) {
			*sh = *c.sign(5, g, sh.Header.NextValidatorsHash, sh.Header.LastBlockID, g)
			sh.Header.Time = c.genesis.Add(-time.Second)
			resign(c, sh, g)
		}, ErrUnverified, "not after"},
		"fail/other-height":  {5, nil, func(c *chain, sh *SignedHeader) { *sh = *c.headers[6] }, ErrUnverified, "got 6"},
		"fail/no-validators": {5, nil, func(_ *chain, sh *SignedHeader) { sh.Validators = nil }, ErrUnverified, "validator set has"},
		"fail/adjacent-other-set": {1, nil, func(c *chain, sh *SignedHeader) {
			other := keys(t, 4)
			*sh = *c.sign(1, other, c.set(other).Hash(), BlockID{}, other)
		}, ErrUnverified, "named next"},
		"fail/other-chain": {5, nil, func(c *chain, sh *SignedHeader) {
			c.id = "d"
			*sh = *c.sign(5, g, sh.Header.NextValidatorsHash, sh.Header.LastBlockID, g)
			c.id = "c"
		}, ErrUnverified, "chain"},
	} {
		t.Run(name, func(t *testing.T) {
			ch := newChain(t, 10, g, same)
			if c.forge != nil {
				sh := *ch.headers[c.height]
				c.forge(ch, &sh)
				ch.forged[c.height] = &sh
			}
			now := ch.now(10)
			if c.now != nil {
				now = c.now(ch)
			}
			_, err := NewClient(ch.genesisDoc(), ch, nil).VerifyHeight(t.Context(), c.height, now)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
				t.Fatalf("%v, want %v (%q)", err, c.want, c.text)
			}
		})
	}
}

// resign signs sh again by signers after its header changed (its
// validators in their set's order).
func resign(c *chain, sh *SignedHeader, signers []testVal) {
	sh.Commit.BlockID.Hash = sh.Header.Hash()
	for i, v := range sh.Validators {
		for _, s := range signers {
			if bytes.Equal(s.PubKey, v.PubKey) {
				sh.Commit.Signatures[i].Signature = ed25519.Sign(s.priv, VoteSignBytes(c.id, &sh.Commit, i))
			}
		}
	}
}

// TestClientStore: a client that starts again on the same store starts
// from the newest trusted header, not the genesis, and refuses a lower
// height.
func TestClientStore(t *testing.T) {
	g := keys(t, 5)
	c := newChain(t, 40, g[:4], joinLeave(g, g[4], 10, 20))
	store := NewMemStore()
	if _, err := NewClient(c.genesisDoc(), c, store).VerifyHeight(t.Context(), 30, c.now(30)); err != nil {
		t.Fatal(err)
	}
	// A genesis whose validators signed nothing: only the store is used.
	stranger := c.genesisDoc()
	stranger.Validators = c.set(keys(t, 4))
	again := NewClient(stranger, c, store)
	c.fetched.Store(0)
	if _, err := again.VerifyHeight(t.Context(), 31, c.now(31)); err != nil {
		t.Fatalf("from the stored header 30: %v", err)
	}
	if n := c.fetched.Load(); n != 1 {
		t.Fatalf("read %d headers, want 1", n)
	}
	if tr, err := again.VerifyHeight(t.Context(), 31, c.now(31)); err != nil || tr.Height != 31 || c.fetched.Load() != 1 {
		t.Fatalf("the trusted height again: %+v %v", tr, err)
	}
	if _, err := again.VerifyHeight(t.Context(), 12, c.now(31)); !errors.Is(err, ErrBelowTrusted) {
		t.Fatalf("below the trusted header: %v", err)
	}
	// A store that holds garbage is an error, not a root of trust.
	bad := NewMemStore()
	if err := bad.Save(&Trusted{ChainID: "c", Height: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewClient(c.genesisDoc(), c, bad).VerifyHeight(t.Context(), 31, c.now(31)); err == nil || !strings.Contains(err.Error(), "store") {
		t.Fatalf("a broken store: %v", err)
	}
}

// BenchmarkVerifyAfterChanges verifies the header of block 64 from the
// genesis (a verified read's header check, as sdk.ProvenView with Light
// makes it on its first read) on chains whose set of four changed 0, 4 or
// 16 times, one validator swapped per change. Compare each ns/op and
// headers/op with changes-0 of the same run.
func BenchmarkVerifyAfterChanges(b *testing.B) {
	for _, changes := range []int64{0, 4, 16} {
		pool := keys(b, int(4+changes))
		next := 4
		c := newChain(b, 64, pool[:4], func(h int64, prev []testVal) []testVal {
			if changes == 0 || h%(64/changes) != 0 || next == len(pool) {
				return prev
			}
			out := append(append([]testVal{}, prev[1:]...), pool[next])
			next++
			return out
		})
		b.Run(fmt.Sprintf("changes-%d", changes), func(b *testing.B) {
			c.fetched.Store(0)
			for b.Loop() {
				if _, err := NewClient(c.genesisDoc(), c, nil).VerifyHeight(b.Context(), 64, c.now(64)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(c.fetched.Load())/float64(b.N), "headers/op")
		})
	}
}

// FuzzClient: whatever a node answers for a header, the client decides
// it without a panic and believes only the real header (the fuzzer holds
// no validator key).
func FuzzClient(f *testing.F) {
	g := keys(f, 5)
	c := newChain(f, 8, g[:4], joinLeave(g, g[4], 3, 6))
	for _, h := range []int64{1, 5, 8} {
		b, err := json.Marshal(c.headers[h])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(h, b)
	}
	f.Fuzz(func(t *testing.T, h int64, b []byte) {
		if h < 1 || h > 8 {
			return
		}
		var sh SignedHeader
		if json.Unmarshal(b, &sh) != nil {
			return
		}
		src := &chain{t: t, id: c.id, genesis: c.genesis, sets: c.sets, headers: c.headers, forged: map[int64]*SignedHeader{h: &sh}}
		tr, err := NewClient(c.genesisDoc(), src, nil).VerifyHeight(t.Context(), h, c.now(8))
		if err == nil && !bytes.Equal(tr.Hash, c.headers[h].Header.Hash()) {
			t.Fatalf("believed a header no validator signed at %d: %s", h, b)
		}
	})
}

// TestClientRefusesRemovedMajority: two of four genesis validators are
// removed one at a time (each a quarter of the power, each change within
// the safety rule); together they held half the genesis power, more than
// the skipping rule's third. A header they sign alone after their
// removal, naming themselves as the set, is refused from the genesis:
// the client does not skip across a change of the set.
func TestClientRefusesRemovedMajority(t *testing.T) {
	g := keys(t, 6)
	rmA, rmB := g[2], g[3]
	c := newChain(t, 40, g[:4], func(h int64, prev []testVal) []testVal {
		var out []testVal
		for _, v := range prev {
			if (h == 10 && bytes.Equal(v.PubKey, rmA.PubKey)) || (h == 20 && bytes.Equal(v.PubKey, rmB.PubKey)) {
				continue
			}
			out = append(out, v)
		}
		switch h {
		case 10:
			out = append(out, g[4])
		case 20:
			out = append(out, g[5])
		}
		return out
	})
	evil := []testVal{rmA, rmB}
	forged := c.sign(35, evil, c.set(evil).Hash(), c.headers[34].Commit.BlockID, evil)
	forged.Header.AppHash = []byte("forged")
	resign(c, forged, evil)
	c.forged[35] = forged
	if tr, err := NewClient(c.genesisDoc(), c, nil).VerifyHeight(t.Context(), 35, c.now(35)); !errors.Is(err, ErrUnverified) {
		t.Fatalf("a header of two removed validators (half the genesis power): %+v %v", tr, err)
	}
	// The real header of that height verifies.
	delete(c.forged, 35)
	if tr, err := NewClient(c.genesisDoc(), c, nil).VerifyHeight(t.Context(), 35, c.now(35)); err != nil || string(tr.AppHash) == "forged" {
		t.Fatalf("the real header: %+v %v", tr, err)
	}
}

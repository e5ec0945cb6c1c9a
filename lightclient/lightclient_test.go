package lightclient

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// The agreement of these encodings with CometBFT itself is tested against
// real chains in internal/node (TestLightClient, TestTestnet): a header
// hash or sign bytes off by one byte fail there. These tests cover the
// rules around them.

func TestMerkleRoot(t *testing.T) {
	leaf := func(b string) []byte { h := sha256.Sum256(append([]byte{0}, b...)); return h[:] }
	inner := func(l, r []byte) []byte { h := sha256.Sum256(append(append([]byte{1}, l...), r...)); return h[:] }
	empty := sha256.Sum256(nil)
	items := func(s ...string) [][]byte {
		var out [][]byte
		for _, x := range s {
			out = append(out, []byte(x))
		}
		return out
	}
	for _, c := range []struct {
		items [][]byte
		want  []byte
	}{
		{nil, empty[:]},
		{items("a"), leaf("a")},
		{items("a", "b"), inner(leaf("a"), leaf("b"))},
		// Split at the largest power of two below the count: 2+1, 4+1.
		{items("a", "b", "c"), inner(inner(leaf("a"), leaf("b")), leaf("c"))},
		{items("a", "b", "c", "d", "e"), inner(inner(inner(leaf("a"), leaf("b")), inner(leaf("c"), leaf("d"))), leaf("e"))},
	} {
		if got := merkleRoot(c.items); !bytes.Equal(got, c.want) {
			t.Errorf("%d items: %x, want %x", len(c.items), got, c.want)
		}
	}
}

type testVal struct {
	priv ed25519.PrivateKey
	Validator
}

func newVals(t testing.TB, powers ...int64) ([]testVal, *ValidatorSet) {
	t.Helper()
	var tv []testVal
	var vals []Validator
	for _, p := range powers {
		pub, priv, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		tv = append(tv, testVal{priv, Validator{PubKey: pub, Power: p}})
		vals = append(vals, Validator{PubKey: pub, Power: p})
	}
	vs, err := NewValidatorSet(vals)
	if err != nil {
		t.Fatal(err)
	}
	return tv, vs
}

// signed makes a header of chain "c" for vs, signed by the validators
// (of vs, in its order) for which sign says so.
func signed(t *testing.T, tv []testVal, vs *ValidatorSet, sign func(i int) uint8) *SignedHeader {
	t.Helper()
	h := Header{VersionBlock: 11, ChainID: "c", Height: 7, Time: time.Unix(1_800_000_000, 123456789).UTC(),
		ValidatorsHash: vs.Hash(), NextValidatorsHash: vs.Hash(), AppHash: []byte("state root")}
	sh := &SignedHeader{Header: h, Commit: Commit{Height: 7, Round: 1, BlockID: BlockID{Hash: h.Hash(), PartsTotal: 1, PartsHash: []byte("parts")}}}
	for i, v := range vs.Validators() {
		sh.Commit.Signatures = append(sh.Commit.Signatures, CommitSig{Flag: sign(i), ValidatorAddress: v.Address(), Timestamp: h.Time.Add(time.Duration(i) * time.Millisecond)})
	}
	for i, v := range vs.Validators() {
		if sh.Commit.Signatures[i].Flag == FlagAbsent {
			sh.Commit.Signatures[i] = CommitSig{Flag: FlagAbsent}
			continue
		}
		for _, x := range tv {
			if bytes.Equal(x.PubKey, v.PubKey) {
				sh.Commit.Signatures[i].Signature = ed25519.Sign(x.priv, VoteSignBytes("c", &sh.Commit, i))
			}
		}
	}
	return sh
}

func TestVerifyQuorum(t *testing.T) {
	tv, vs := newVals(t, 10, 10, 10, 10)
	flags := func(f ...uint8) func(int) uint8 { return func(i int) uint8 { return f[i] } }
	if err := Verify("c", signed(t, tv, vs, flags(2, 2, 2, 1)), vs); err != nil {
		t.Fatalf("three of four: %v", err)
	}
	for name, f := range map[string][]uint8{
		"two of four":     {2, 2, 1, 1},
		"two and two nil": {2, 2, 3, 3},
		"none":            {1, 1, 1, 1},
		"an unknown flag": {2, 2, 2, 4},
	} {
		if err := Verify("c", signed(t, tv, vs, flags(f...)), vs); !errors.Is(err, ErrUnverified) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Power, not heads: one validator of 70 out of 100 suffices.
	tv2, vs2 := newVals(t, 70, 10, 10, 10)
	if err := Verify("c", signed(t, tv2, vs2, flags(2, 1, 1, 1)), vs2); err != nil {
		t.Fatalf("70 of 100: %v", err)
	}
	if err := Verify("c", signed(t, tv2, vs2, flags(1, 2, 2, 2)), vs2); !errors.Is(err, ErrUnverified) {
		t.Fatalf("30 of 100: %v", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	tv, vs := newVals(t, 10, 10, 10)
	all := func(int) uint8 { return FlagCommit }
	_, other := newVals(t, 10, 10, 10)
	for name, c := range map[string]struct {
		chain  string
		vs     *ValidatorSet
		tamper func(sh *SignedHeader)
		want   string
	}{
		"another chain":         {"d", vs, func(*SignedHeader) {}, "chain"},
		"another validator set": {"c", other, func(*SignedHeader) {}, "another validator set"},
		"app hash changed":      {"c", vs, func(sh *SignedHeader) { sh.Header.AppHash = []byte("forged root") }, "another header"},
		"height changed":        {"c", vs, func(sh *SignedHeader) { sh.Commit.Height++ }, "height"},
		"signature changed":     {"c", vs, func(sh *SignedHeader) { sh.Commit.Signatures[1].Signature[0] ^= 1 }, "does not verify"},
		"signature moved":       {"c", vs, func(sh *SignedHeader) { sh.Commit.Signatures[0].Timestamp = sh.Commit.Signatures[1].Timestamp }, "does not verify"},
		"address changed":       {"c", vs, func(sh *SignedHeader) { sh.Commit.Signatures[2].ValidatorAddress = make([]byte, 20) }, "not validator"},
		"a signature short":     {"c", vs, func(sh *SignedHeader) { sh.Commit.Signatures = sh.Commit.Signatures[:2] }, "signatures for"},
	} {
		sh := signed(t, tv, vs, all)
		c.tamper(sh)
		if err := Verify(c.chain, sh, c.vs); !errors.Is(err, ErrUnverified) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestValidatorSet(t *testing.T) {
	_, vs := newVals(t, 5, 20, 5, 20)
	got := vs.Validators()
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		if a.Power < b.Power || a.Power == b.Power && bytes.Compare(a.Address(), b.Address()) > 0 {
			t.Fatalf("order: %d:%d before %d:%d", a.Power, i-1, b.Power, i)
		}
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	pub2, _, _ := ed25519.GenerateKey(nil)
	for name, vals := range map[string][]Validator{
		"empty":               nil,
		"short key":           {{PubKey: pub[:31], Power: 1}},
		"zero power":          {{PubKey: pub, Power: 0}},
		"huge power":          {{PubKey: pub, Power: 1 << 61}},
		"twice":               {{PubKey: pub, Power: 1}, {PubKey: pub, Power: 1}},
		"twice, other powers": {{PubKey: pub, Power: 1}, {PubKey: pub2, Power: 3}, {PubKey: pub, Power: 5}},
	} {
		if _, err := NewValidatorSet(vals); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseGenesis(t *testing.T) {
	// A genesis file made by `bias node` (one validator).
	b, err := os.ReadFile("testdata/genesis.json")
	if err != nil {
		t.Fatal(err)
	}
	g, err := ParseGenesis(b)
	if err != nil || g.ChainID == "" || g.Time.IsZero() || len(g.Validators.Validators()) != 1 {
		t.Fatalf("%+v %v", g, err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	addr := doc["validators"].([]any)[0].(map[string]any)["address"].(string)
	if got := strings.ToUpper(hex.EncodeToString(g.Validators.Validators()[0].Address())); got != addr {
		t.Fatalf("address %s, genesis says %s", got, addr)
	}
	for name, s := range map[string]string{
		"not json":      `{`,
		"no chain":      `{"validators":[]}`,
		"no time":       `{"chain_id":"c","validators":[{"pub_key":{"type":"tendermint/PubKeyEd25519","value":"7arvveyiwIdFC6eRE6Ht9+qvlMS2SQw0hHLuiU9IwVE="},"power":"1"}]}`,
		"secp256k1":     `{"chain_id":"c","validators":[{"pub_key":{"type":"tendermint/PubKeySecp256k1","value":"AA=="},"power":"1"}]}`,
		"bad power":     `{"chain_id":"c","validators":[{"pub_key":{"type":"tendermint/PubKeyEd25519","value":"7arvveyiwIdFC6eRE6Ht9+qvlMS2SQw0hHLuiU9IwVE="},"power":"x"}]}`,
		"no validators": `{"chain_id":"c","validators":[]}`,
	} {
		if _, err := ParseGenesis([]byte(s)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzVerify: any signed header, as a node might send it, is decided
// without a panic, and never believed unless the trusted set signed it.
func FuzzVerify(f *testing.F) {
	pub := ed25519.PublicKey(bytes.Repeat([]byte{7}, 32))
	vs, err := NewValidatorSet([]Validator{{PubKey: pub, Power: 10}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"header":{"chainId":"c","height":1},"commit":{"height":1,"signatures":[{"flag":2}]}}`))
	f.Add([]byte(`{"commit":{"signatures":[{"flag":1},{"flag":3}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var sh SignedHeader
		if json.Unmarshal(b, &sh) != nil {
			return
		}
		if err := Verify("c", &sh, vs); err == nil {
			t.Fatalf("believed a header nobody in the set could sign: %s", b)
		}
	})
}

// TestVerifyTrusting: a header of a changed validator set verifies
// against the trusted set while more than a third of the trusted power
// signed it, and not when the new set is mostly new keys.
func TestVerifyTrusting(t *testing.T) {
	old, trusted := newVals(t, 10, 10, 10, 10)
	fresh, _ := newVals(t, 10, 10, 10)
	all := func(int) uint8 { return FlagCommit }
	set := func(tv ...testVal) *ValidatorSet {
		var vs []Validator
		for _, v := range tv {
			vs = append(vs, v.Validator)
		}
		s, err := NewValidatorSet(vs)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// One admitted, one removed: three of the four trusted keys sign.
	joined := append(append([]testVal{}, old[:3]...), fresh[0])
	next := set(joined...)
	sh := signed(t, joined, next, all)
	if err := VerifyTrusting("c", sh, trusted, next); err != nil {
		t.Fatalf("one in, one out: %v", err)
	}
	if err := Verify("c", sh, trusted); !errors.Is(err, ErrUnverified) {
		t.Fatalf("the trusted set alone should not verify a header of another set: %v", err)
	}
	// Only one trusted key (10 of 40) among three new ones.
	taken := append([]testVal{old[0]}, fresh...)
	far := set(taken...)
	if err := VerifyTrusting("c", signed(t, taken, far, all), trusted, far); !errors.Is(err, ErrUnverified) || !strings.Contains(err.Error(), "one third") {
		t.Fatalf("a set of mostly new keys: %v", err)
	}
	// The header's own set must still sign it by more than two thirds.
	flags := func(i int) uint8 {
		if i < 2 {
			return FlagCommit
		}
		return FlagAbsent
	}
	if err := VerifyTrusting("c", signed(t, joined, next, flags), trusted, next); !errors.Is(err, ErrUnverified) {
		t.Fatalf("half of the new set: %v", err)
	}
}

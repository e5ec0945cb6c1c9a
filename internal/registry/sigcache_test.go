package registry

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/ledger/core"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// mapReader is a state.Reader over a map.
type mapReader map[string][]byte

func (m mapReader) Get(k []byte) ([]byte, error) { return m[string(k)], nil }

// TestProviderCache: a provider record is decoded once per encoding; a
// changed record is decoded anew; an absent one is nil; the cache stays
// bounded.
func TestProviderCache(t *testing.T) {
	c := newOpCache(16, 1<<20)
	st := mapReader{}
	put := func(id, name string) {
		b, err := op.Marshal(record.Provider{DID: id, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		st[string(record.ProviderKey(id))] = b
	}
	put("did:bias:local:p", "one")
	a, err := c.provider(st, "did:bias:local:p")
	if err != nil || a == nil || a.Name != "one" {
		t.Fatalf("first read: %+v %v", a, err)
	}
	if b, _ := c.provider(st, "did:bias:local:p"); b != a {
		t.Error("the same record was decoded twice")
	}
	put("did:bias:local:p", "two")
	if b, _ := c.provider(st, "did:bias:local:p"); b == a || b.Name != "two" {
		t.Errorf("a changed record read as %+v", b)
	}
	if p, err := c.provider(st, "did:bias:local:none"); p != nil || err != nil {
		t.Errorf("absent provider: %+v %v", p, err)
	}
	for i := range 3 * maxProviders {
		id := fmt.Sprintf("did:bias:local:p%d", i)
		put(id, "x")
		if p, err := c.provider(st, id); err != nil || p == nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	if n := len(c.provs); n > maxProviders {
		t.Errorf("the cache holds %d records, over %d", n, maxProviders)
	}
}

// TestCheckReusesOnlyAFreshPrecheck: CheckTx takes the API's Precheck of
// the same operation when nothing was committed since, and checks in
// full once a block changed the state: an operation prechecked before a
// conflicting one committed is refused, and a recheck after any block
// runs the checks again.
func TestCheckReusesOnlyAFreshPrecheck(t *testing.T) {
	g, ps := genesis(t, 1)
	c := newChain(t, g)
	p := ps[0]
	entry := func() op.EnrollEntry {
		k, _, err := cose.GenerateKey(cose.AlgEdDSA)
		if err != nil {
			t.Fatal(err)
		}
		return op.EnrollEntry{Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", k.Public())}}}
	}
	enroll := func(items ...op.EnrollEntry) []byte {
		return sign(t, p.signer, p.kid, op.Payload{Type: op.TypeEnroll, Enroll: &op.Enroll{Provider: p.kid.Base().String(), Items: items}})
	}
	// The rival enrolls the first's device too.
	dev := entry()
	first, rival, other := enroll(dev), enroll(entry(), dev), enroll(entry())
	for _, tx := range [][]byte{first, rival, other} {
		if err := c.app.Precheck(tx); err != nil {
			t.Fatalf("precheck: %v", err)
		}
	}
	reused := func() int64 { return c.app.ops.reused.Load() }

	// The same state: CheckTx answers from the precheck.
	if r := c.checkTx(other); r.Code != 0 || reused() != 1 {
		t.Fatalf("CheckTx at the precheck's state: %+v, %d reused", r, reused())
	}
	// A block between them moves the time estimate only (not committed
	// yet): the checks run again.
	res, err := c.app.ApplyBlock(t.Context(), core.Block{Height: c.height + 1, Time: c.time.Add(time.Second), Txs: [][]byte{rival}})
	if err != nil || res.TxResults[0].Code != 0 {
		t.Fatalf("the rival's block: %v %+v", err, res)
	}
	if r := c.checkTx(first); r.Code != 0 || reused() != 1 {
		t.Fatalf("CheckTx after the block's time changed: %+v, %d reused", r, reused())
	}
	// The rival enrolling the same device commits: the first, accepted
	// before, is refused now.
	if _, err := c.app.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	c.height, c.time = c.height+1, c.time.Add(time.Second)
	if r := c.checkTx(first); op.ReasonFromCode(r.Code) != op.ReasonReplayed || reused() != 1 {
		t.Fatalf("CheckTx of a stale precheck: %s (%s), %d reused; want %s, not reused", op.ReasonFromCode(r.Code), r.Log, reused(), op.ReasonReplayed)
	}
	if err := c.app.Precheck(first); !errors.Is(err, &op.Error{Reason: op.ReasonReplayed}) {
		t.Fatalf("precheck after the rival: %v", err)
	}
	// The recheck of the unrelated one runs in full and stamps it anew;
	// a second check at that state reuses it.
	if r := c.checkTx(other); r.Code != 0 || reused() != 1 {
		t.Fatalf("recheck: %+v, %d reused", r, reused())
	}
	if r := c.checkTx(other); r.Code != 0 || reused() != 2 {
		t.Fatalf("second check at the recheck's state: %+v, %d reused", r, reused())
	}
	if res, _ := c.block(other); res[0].Code != 0 {
		t.Fatalf("block: %s", res[0].Log)
	}
	// Committed: it left the cache, and a resubmission is replayed.
	if r := c.checkTx(other); r.Code == 0 || reused() != 2 {
		t.Fatalf("CheckTx of a committed operation: %+v, %d reused", r, reused())
	}
}

package registry

import (
	"fmt"
	"testing"

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

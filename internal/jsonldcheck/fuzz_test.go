package jsonldcheck

import (
	"errors"
	"testing"
)

// FuzzCheck: any input is accepted or rejected with ErrInvalid or
// ErrUnknownContext; nothing panics, and the loader fetches nothing.
func FuzzCheck(f *testing.F) {
	f.Add([]byte(`{"@context":["https://www.w3.org/ns/did/v1","https://w3id.org/bias/v1"],"id":"did:bias:local:x","service":[{"id":"did:bias:local:x#p","type":"PrintService","serviceEndpoint":"https://p.example"}]}`))
	f.Add([]byte(`{"@context":"https://w3id.org/did-resolution/v1","didDocument":null}`))
	f.Add([]byte(`[{"@id":"_:b","@type":["urn:x:T"]}]`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		if err := Check(doc); err != nil && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnknownContext) {
			t.Fatalf("Check = %v: neither sentinel", err)
		}
	})
}

package record

import "github.com/bias-iot/bias/op"

// Provider is a service provider (operator): a consortium member whose
// admin keys sign its decisions.
type Provider struct {
	DID     string   `cbor:"1,keyasint" json:"did"`
	Name    string   `cbor:"2,keyasint" json:"name"`
	Keys    []op.Key `cbor:"3,keyasint" json:"keys"`
	Created int64    `cbor:"4,keyasint" json:"created"` // block time, Unix nanoseconds
	// Registration names the contract that decides on the provider's
	// registrations ("" for none: they wait for the provider).
	Registration string `cbor:"5,keyasint,omitempty" json:"registration,omitempty"`
}

// DecodeProvider decodes a provider record (the value of ProviderKey).
func DecodeProvider(b []byte) (*Provider, error) { return decode[Provider]("provider", b) }

// Key returns the admin key with fragment id, or false.
func (p *Provider) Key(id string) (op.Key, bool) { return FindKey(p.Keys, id) }

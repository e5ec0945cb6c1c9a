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
	// Publication is what the provider publishes for the verifiers of
	// its credentials (op.Publish); nil until its first.
	Publication *Publication `cbor:"6,keyasint,omitempty" json:"publication,omitempty"`
	// Admitted is the id of the proposal that admitted the provider (""
	// for a founding provider); Removed the height of the block that
	// removed it (0 while it is a member). A removed provider's record
	// stays, so that its entities resolve; its keys sign nothing.
	Admitted string `cbor:"7,keyasint,omitempty" json:"admitted,omitempty"`
	Removed  int64  `cbor:"8,keyasint,omitempty" json:"removed,omitempty"`
	// Threshold is how many distinct admin keys sign each of the
	// provider's operations (0: 1, see Quorum).
	Threshold uint64 `cbor:"9,keyasint,omitempty" json:"threshold,omitempty"`
	// KeysVersion counts the replacements of Keys (by provider.keys or
	// by governance): 0 for the keys of its genesis or admission.
	// KeysOp is the payload hash that made the current key set (nil for
	// version 0, and for a replacement by governance).
	KeysVersion uint64 `cbor:"10,keyasint,omitempty" json:"keysVersion,omitempty"`
	KeysOp      []byte `cbor:"11,keyasint,omitempty" json:"keysOp,omitempty"`
}

// Quorum is how many distinct admin keys must sign the provider's
// operations: its threshold, at least 1.
func (p *Provider) Quorum() int {
	if p.Threshold == 0 {
		return 1
	}
	return int(p.Threshold)
}

// Publication is a provider's published CA certificates and token keys,
// at a version (1 for the first publication).
type Publication struct {
	Version   uint64   `cbor:"1,keyasint" json:"version"`
	CA        [][]byte `cbor:"2,keyasint,omitempty" json:"ca,omitempty"`
	TokenKeys []op.Key `cbor:"3,keyasint,omitempty" json:"tokenKeys,omitempty"`
	Updated   int64    `cbor:"4,keyasint" json:"updated"` // block time, Unix nanoseconds
	Height    int64    `cbor:"5,keyasint" json:"height"`
	LastOp    []byte   `cbor:"6,keyasint" json:"lastOp"` // the payload hash that made it
}

// PublicationVersion is the provider's publication version (0: none).
func (p *Provider) PublicationVersion() uint64 {
	if p.Publication == nil {
		return 0
	}
	return p.Publication.Version
}

// TokenKey returns the token-signing key with id (a JWK kid), or false.
func (p *Provider) TokenKey(id string) (op.Key, bool) {
	if p.Publication == nil {
		return op.Key{}, false
	}
	return FindKey(p.Publication.TokenKeys, id)
}

// DecodeProvider decodes a provider record (the value of ProviderKey).
func DecodeProvider(b []byte) (*Provider, error) { return decode[Provider]("provider", b) }

// Key returns the admin key with fragment id, or false.
func (p *Provider) Key(id string) (op.Key, bool) { return FindKey(p.Keys, id) }

package registry

import (
	"encoding/binary"
	"slices"

	"github.com/bias-iot/bias/op"
)

// Key layout of the state. Every key starts with a one-letter table name.
const (
	prefixProvider = "p/"
	prefixEntity   = "e/"
	prefixHistory  = "h/"
	prefixAlias    = "i/"
	prefixContract = "k/"
	prefixTicket   = "t/"
)

// TicketKey is the state key that records the registration an enrollment
// ticket was used for (tickets are single-use), by the ticket's SHA-256.
func TicketKey(hash [32]byte) []byte { return append([]byte(prefixTicket), hash[:]...) }

// ContractKey is the state key of a provider's contract (its current
// version); ContractVersionKey of one version of it.
func ContractKey(provider, name string) []byte { return []byte(prefixContract + provider + "/" + name) }

// ContractVersionKey is the state key of version v of a contract.
func ContractVersionKey(provider, name string, v uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefixContract+provider+"/"+name+"/"), v)
}

// Contract is a deployed contract version.
type Contract struct {
	Provider string `cbor:"1,keyasint" json:"provider"`
	Name     string `cbor:"2,keyasint" json:"name"`
	Kind     string `cbor:"3,keyasint" json:"kind"`
	Version  uint64 `cbor:"4,keyasint" json:"version"`
	Source   string `cbor:"5,keyasint" json:"source"`
	Height   int64  `cbor:"6,keyasint" json:"height"` // when this version was deployed
	LastOp   []byte `cbor:"7,keyasint" json:"lastOp"`
	// Binders: the other providers whose services may bind it (access).
	Binders []string `cbor:"8,keyasint,omitempty" json:"binders,omitempty"`
}

// Admits reports whether a service of provider may bind the contract.
func (c *Contract) Admits(provider string) bool {
	return provider == c.Provider || slices.Contains(c.Binders, provider)
}

// ContractDecision records which contract decided on an entity, and how.
type ContractDecision struct {
	Contract string `cbor:"1,keyasint" json:"contract"` // provider DID "/" name "@" version
	Outcome  string `cbor:"2,keyasint" json:"outcome"`
	Reason   string `cbor:"3,keyasint,omitempty" json:"reason,omitempty"`
}

// AliasKey is the state key of the legacy-identifier index: the canonical
// identifier maps to the DID of the validated, live entity that holds it.
func AliasKey(canonical string) []byte { return []byte(prefixAlias + canonical) }

// ProviderKey is the state key of a provider record.
func ProviderKey(id string) []byte { return []byte(prefixProvider + id) }

// EntityKey is the state key of an entity's current record.
func EntityKey(id string) []byte { return []byte(prefixEntity + id) }

// HistoryKey is the state key of an entity's record at version v, once a
// later version has replaced it (the current version lives at EntityKey).
func HistoryKey(id string, v uint64) []byte {
	k := make([]byte, 0, len(prefixHistory)+len(id)+9)
	k = append(k, prefixHistory...)
	k = append(k, id...)
	k = append(k, '/')
	return binary.BigEndian.AppendUint64(k, v)
}

// ProviderPrefix is the key prefix of all provider records.
func ProviderPrefix() []byte { return []byte(prefixProvider) }

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

// Entity is the current record of a device or service.
type Entity struct {
	DID           string      `cbor:"1,keyasint" json:"did"`
	Kind          string      `cbor:"2,keyasint" json:"kind"`
	Provider      string      `cbor:"3,keyasint" json:"provider"`
	Doc           op.Document `cbor:"4,keyasint" json:"doc"`
	Status        string      `cbor:"5,keyasint" json:"status"`
	Version       uint64      `cbor:"6,keyasint" json:"version"`
	Created       int64       `cbor:"7,keyasint" json:"created"` // block time, Unix nanoseconds
	Updated       int64       `cbor:"8,keyasint" json:"updated"`
	CreatedHeight int64       `cbor:"9,keyasint" json:"createdHeight"`
	UpdatedHeight int64       `cbor:"10,keyasint" json:"updatedHeight"`
	StatusReason  string      `cbor:"11,keyasint,omitempty" json:"statusReason,omitempty"`
	// Ticket holds the verified claims of the enrollment ticket, if any.
	Ticket []op.Attr `cbor:"12,keyasint,omitempty" json:"ticket,omitempty"`
	// LastOp is the payload hash of the operation that made this version.
	LastOp []byte `cbor:"13,keyasint" json:"lastOp"`
	// LastOpType is that operation's type.
	LastOpType string `cbor:"14,keyasint" json:"lastOpType"`
	// Decision is the registration contract's decision, if one decided.
	Decision *ContractDecision `cbor:"15,keyasint,omitempty" json:"decision,omitempty"`
}

// Live reports whether the entity can still change (not revoked or deactivated).
func (e *Entity) Live() bool {
	return e.Status != op.StatusRevoked && e.Status != op.StatusDeactivated
}

// Key returns the key with fragment id, or false.
func (e *Entity) Key(id string) (op.Key, bool) { return findKey(e.Doc.Keys, id) }

// Key returns the admin key with fragment id, or false.
func (p *Provider) Key(id string) (op.Key, bool) { return findKey(p.Keys, id) }

func findKey(keys []op.Key, id string) (op.Key, bool) {
	for _, k := range keys {
		if k.ID == id {
			return k, true
		}
	}
	return op.Key{}, false
}

// Result is the data of a committed operation's result (CBOR in the
// ledger's result data).
type Result struct {
	DID     string `cbor:"1,keyasint,omitempty" json:"did,omitempty"`
	Version uint64 `cbor:"2,keyasint,omitempty" json:"version,omitempty"`
	Status  string `cbor:"3,keyasint,omitempty" json:"status,omitempty"`
	Count   int    `cbor:"4,keyasint,omitempty" json:"count,omitempty"`
}

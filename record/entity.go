package record

import "github.com/bias-iot/bias/op"

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
	// Pairwise is, for a pairwise DID, the commitment to its device
	// (op.PairwiseCommit): it names the device to no one without the salt.
	Pairwise []byte `cbor:"16,keyasint,omitempty" json:"pairwise,omitempty"`
}

// DecodeEntity decodes an entity record (the value of EntityKey or
// HistoryKey).
func DecodeEntity(b []byte) (*Entity, error) { return decode[Entity]("entity", b) }

// Live reports whether the entity can still change (not revoked or deactivated).
func (e *Entity) Live() bool {
	return e.Status != op.StatusRevoked && e.Status != op.StatusDeactivated
}

// Key returns the key with fragment id, or false.
func (e *Entity) Key(id string) (op.Key, bool) { return FindKey(e.Doc.Keys, id) }

// Attrs returns the entity's public attributes as a map (never nil).
func (e *Entity) Attrs() map[string]string { return AttrMap(e.Doc.Attrs) }

// AttrMap returns attributes as a map (never nil).
func AttrMap(attrs []op.Attr) map[string]string {
	m := make(map[string]string, len(attrs))
	for _, a := range attrs {
		m[a.K] = a.V
	}
	return m
}

// ContractDecision records which contract decided on an entity, and how.
type ContractDecision struct {
	Contract string `cbor:"1,keyasint" json:"contract"` // provider DID "/" name "@" version
	Outcome  string `cbor:"2,keyasint" json:"outcome"`
	Reason   string `cbor:"3,keyasint,omitempty" json:"reason,omitempty"`
}

// FindKey returns the key with fragment id among keys, or false.
func FindKey(keys []op.Key, id string) (op.Key, bool) {
	for _, k := range keys {
		if k.ID == id {
			return k, true
		}
	}
	return op.Key{}, false
}

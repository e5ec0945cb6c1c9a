package record

import (
	"fmt"
	"strconv"
	"time"
)

// Ledger event types of committed operations.
const (
	EventEntity   = "bias.entity"   // an entity changed: EntityEvent
	EventContract = "bias.contract" // a contract was deployed or updated
	EventProvider = "bias.provider" // a provider published its CA certificates or token keys
	// EventGov: a proposal was made or approved (attributes op, proposal,
	// kind, provider, status, approvals) and, once executed, what it did
	// (admitted, removed, validator).
	EventGov = "bias.gov"
)

// EntityEvent is one committed change of an entity: what the registry
// emits, what GET /v1/events streams and what the SDK receives.
type EntityEvent struct {
	Height   int64     `json:"height"`
	Time     time.Time `json:"time"`
	Op       string    `json:"op"`
	DID      string    `json:"did"`
	Provider string    `json:"provider"`
	Status   string    `json:"status"`
	Version  uint64    `json:"version"`
}

// Attr is a ledger event attribute.
type Attr struct{ Key, Value string }

// Attrs renders the event's operation fields as ledger event attributes
// (height and time are the block's).
func (e EntityEvent) Attrs() []Attr {
	return []Attr{
		{"op", e.Op}, {"did", e.DID}, {"provider", e.Provider}, {"status", e.Status},
		{"version", strconv.FormatUint(e.Version, 10)},
	}
}

// ParseEntityEvent reads an entity event from its ledger attributes, in
// the block of height at time t.
func ParseEntityEvent(height int64, t time.Time, attrs []Attr) (EntityEvent, error) {
	e := EntityEvent{Height: height, Time: t}
	for _, a := range attrs {
		switch a.Key {
		case "op":
			e.Op = a.Value
		case "did":
			e.DID = a.Value
		case "provider":
			e.Provider = a.Value
		case "status":
			e.Status = a.Value
		case "version":
			v, err := strconv.ParseUint(a.Value, 10, 64)
			if err != nil {
				return e, fmt.Errorf("entity event version %q: %w", a.Value, err)
			}
			e.Version = v
		}
	}
	return e, nil
}

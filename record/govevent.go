package record

import (
	"strconv"
	"time"
)

// What a governance event tells (GovEvent.Event).
const (
	GovProposed  = "proposed"  // a proposal was made (its proposer approves it)
	GovVoted     = "voted"     // a provider approved a proposal
	GovExecuted  = "executed"  // a proposal passed and took effect
	GovScheduled = "scheduled" // an upgrade proposal passed: the upgrade is scheduled
	GovExpired   = "expired"   // a proposal's deadline passed unapproved (from app version 2 on)
	GovUpgraded  = "upgraded"  // the app version changed at the upgrade height
	GovKeys      = "keys"      // a provider's admin keys and threshold were replaced
)

// GovEvent is one committed governance event, as GET /v1/events streams
// it (?types=gov): decoded from the registry's bias.gov and
// bias.provider ledger events.
type GovEvent struct {
	Height    int64     `json:"height"`
	Time      time.Time `json:"time"`
	Event     string    `json:"event"`
	Proposal  string    `json:"proposal,omitempty"`
	Kind      string    `json:"kind,omitempty"`
	Provider  string    `json:"provider,omitempty"` // the proposer, voter, or the provider whose keys changed
	Status    string    `json:"status,omitempty"`
	Approvals int       `json:"approvals,omitempty"` // of current providers, after a proposal or vote
	Providers int       `json:"providers,omitempty"` // current providers, when it was counted
	Admitted  string    `json:"admitted,omitempty"`
	Removed   string    `json:"removed,omitempty"`
	// Validators are the validator updates an executed proposal made:
	// hex Ed25519 key:power (0: removed).
	Validators []string `json:"validators,omitempty"`
	// Keys is the provider whose keys an executed provider.keys
	// proposal replaced; KeysVersion and Threshold are a keys event's.
	Keys        string `json:"keys,omitempty"`
	KeysVersion uint64 `json:"keysVersion,omitempty"`
	Threshold   int    `json:"threshold,omitempty"`
	// Upgrade, Version and UpgradeHeight name a scheduled or applied
	// upgrade.
	Upgrade       string `json:"upgrade,omitempty"`
	Version       uint64 `json:"version,omitempty"`
	UpgradeHeight int64  `json:"upgradeHeight,omitempty"`
}

// ParseGovEvent reads a governance event from a ledger event of type typ
// with attrs, in the block of height at time t; false if it is none (a
// provider's publication).
func ParseGovEvent(height int64, t time.Time, typ string, attrs []Attr) (GovEvent, bool) {
	e := GovEvent{Height: height, Time: t}
	a := map[string]string{}
	for _, x := range attrs {
		if x.Key == "validator" {
			e.Validators = append(e.Validators, x.Value)
			continue
		}
		a[x.Key] = x.Value
	}
	num := func(k string) uint64 { n, _ := strconv.ParseUint(a[k], 10, 64); return n }
	switch {
	case typ == EventProvider && a["keysVersion"] != "":
		e.Event, e.Provider, e.KeysVersion, e.Threshold = GovKeys, a["provider"], num("keysVersion"), int(num("threshold"))
		return e, true
	case typ != EventGov:
		return e, false
	case a["executed"] != "":
		e.Event, e.Proposal = GovExecuted, a["executed"]
		e.Admitted, e.Removed, e.Keys = a["admitted"], a["removed"], a["keys"]
		if a["upgrade"] != "" {
			e.Event, e.Upgrade, e.Version, e.UpgradeHeight = GovScheduled, a["upgrade"], num("version"), int64(num("height"))
		}
	case a["upgraded"] != "":
		e.Event, e.Proposal, e.Upgrade, e.Version, e.UpgradeHeight = GovUpgraded, a["proposal"], a["upgraded"], num("version"), int64(num("height"))
	case a["expired"] != "":
		e.Event, e.Proposal, e.Kind, e.Provider, e.Status = GovExpired, a["expired"], a["kind"], a["provider"], a["status"]
	case a["op"] != "":
		e.Event = GovVoted
		if a["op"] == "gov.propose" {
			e.Event = GovProposed
		}
		e.Proposal, e.Kind, e.Provider, e.Status = a["proposal"], a["kind"], a["provider"], a["status"]
		e.Approvals, e.Providers = int(num("approvals")), int(num("providers"))
	default:
		return e, false
	}
	return e, true
}

// Has reports whether the event is about provider (proposer, voter,
// admitted, removed or whose keys changed).
func (e GovEvent) Has(provider string) bool {
	return provider != "" && (provider == e.Provider || provider == e.Admitted || provider == e.Removed || provider == e.Keys)
}

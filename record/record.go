// Package record holds the records of bias's ledger state, public and
// pure: the entity, provider and contract records the registry writes,
// the key layout of the state, their decoding, and the committed-event
// type. The registry writes these records; the node's resolver, the SDK's
// proven view and the CLI read them. A verifier that checks a Merkle proof
// decodes the proven bytes with this package, not the node's JSON.
//
//	b := proof.Value                      // bytes proven under an app hash
//	e, err := record.DecodeEntity(b)      // the entity as the ledger holds it
//	ok := string(proof.Key) == string(record.EntityKey(e.DID))
package record

import (
	"encoding/binary"
	"fmt"

	"github.com/bias-iot/bias/op"
)

// Query paths of the registry application, and the bound of a prefix
// query.
const (
	QueryKey         = "/key"    // Data: a state key; proof on request
	QueryPrefix      = "/prefix" // Data: a key prefix; up to MaxPrefixResults records, no proof
	MaxPrefixResults = 1000
)

// Key layout of the state. Every key starts with a one-letter table name.
const (
	prefixProvider = "p/"
	prefixEntity   = "e/"
	prefixHistory  = "h/"
	prefixAlias    = "i/"
	prefixContract = "k/"
	prefixTicket   = "t/"
	prefixProposal = "g/"
	keyGovernance  = "n/governance"
)

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

// AliasKey is the state key of the legacy-identifier index: the canonical
// identifier maps to the DID of the validated, live entity that holds it.
func AliasKey(canonical string) []byte { return []byte(prefixAlias + canonical) }

// ProviderKey is the state key of a provider record.
func ProviderKey(id string) []byte { return []byte(prefixProvider + id) }

// ProviderPrefix is the key prefix of all provider records.
func ProviderPrefix() []byte { return []byte(prefixProvider) }

// ContractKey is the state key of a provider's contract (its current
// version).
func ContractKey(provider, name string) []byte { return []byte(prefixContract + provider + "/" + name) }

// ContractPrefix is the key prefix of a provider's contracts: their
// current records and every version.
func ContractPrefix(provider string) []byte { return []byte(prefixContract + provider + "/") }

// ContractVersionKey is the state key of version v of a contract.
func ContractVersionKey(provider, name string, v uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefixContract+provider+"/"+name+"/"), v)
}

// TicketKey is the state key that records the registration an enrollment
// ticket was used for (tickets are single-use), by the SHA-256 of what the
// provider signed.
func TicketKey(hash [32]byte) []byte { return append([]byte(prefixTicket), hash[:]...) }

// ProposalKey is the state key of a governance proposal.
func ProposalKey(id string) []byte { return []byte(prefixProposal + id) }

// ProposalPrefix is the key prefix of all proposals.
func ProposalPrefix() []byte { return []byte(prefixProposal) }

// GovernanceKey is the state key of the network's membership and
// parameters (Governance).
func GovernanceKey() []byte { return []byte(keyGovernance) }

// decode decodes a record strictly: the registry writes deterministic
// CBOR, and anything else is not a record it wrote.
func decode[T any](what string, b []byte) (*T, error) {
	var v T
	if err := op.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", what, err)
	}
	return &v, nil
}

// Result is the data of a committed operation's result (CBOR in the
// ledger's result data).
type Result struct {
	DID     string `cbor:"1,keyasint,omitempty" json:"did,omitempty"`
	Version uint64 `cbor:"2,keyasint,omitempty" json:"version,omitempty"`
	Status  string `cbor:"3,keyasint,omitempty" json:"status,omitempty"`
	Count   int    `cbor:"4,keyasint,omitempty" json:"count,omitempty"`
	// Proposal is the id of the proposal a governance operation made or
	// approved (Status is then the proposal's, Count its approvals).
	Proposal string `cbor:"5,keyasint,omitempty" json:"proposal,omitempty"`
}

// DecodeResult decodes a committed operation's result data.
func DecodeResult(b []byte) (*Result, error) { return decode[Result]("result", b) }

// PrefixList is the value of a prefix query: the records under a prefix,
// in key order.
type PrefixList struct {
	Items []KV `cbor:"1,keyasint,omitempty"`
}

// KV is one record of a prefix query.
type KV struct {
	Key   []byte `cbor:"1,keyasint"`
	Value []byte `cbor:"2,keyasint"`
}

// DecodePrefixList decodes the value of a prefix query.
func DecodePrefixList(b []byte) (*PrefixList, error) { return decode[PrefixList]("prefix list", b) }

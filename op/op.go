// Package op defines bias's signed operations: the payloads of interfaces I1
// (register, update, deactivate) and I2 (a provider validates, rejects,
// revokes, enrolls in bulk), their deterministic CBOR encoding (RFC 8949
// core deterministic) and their COSE_Sign1 envelope (RFC 9052), whose kid
// is the DID URL of the signing key.
//
// An operation is built, signed and encoded by the client (Sign, or
// SignRegister for an inception, which also returns the new DID):
//
//	tx, id, err := op.SignRegister(signer, "k1", op.Payload{
//		Network:  "local",
//		Register: &op.Register{Kind: op.KindDevice, Provider: providerDID, Doc: op.Document{Keys: keys}},
//	})
//
// and decoded and checked statelessly (shape, limits, canonical form) by
// Decode, which refuses with an *Error carrying a stable Reason (the
// examples of SignRegister and Decode show both). Whether the signer may make the
// operation is the registry's decision, with the ledger's state. The
// package is pure and public: it does not import the node.
package op

import (
	"github.com/bias-iot/bias/did"
)

// Operation types.
const (
	TypeRegister   = "entity.register"
	TypeUpdate     = "entity.update"
	TypeDeactivate = "entity.deactivate"
	TypeValidate   = "entity.validate"
	TypeReject     = "entity.reject"
	TypeRevoke     = "entity.revoke"
	TypeEnroll     = "provider.enroll"
	TypeDeploy     = "contract.deploy"
	TypeContractUp = "contract.update"
	TypePublish    = "provider.publish"
	TypePropose    = "gov.propose" // a governance proposal (gov.go)
	TypeVote       = "gov.vote"    // a provider's approval of a proposal
)

// Contract kinds.
const (
	ContractRegistration = "registration"
	ContractAccess       = "access"
)

// Entity kinds.
const (
	KindDevice  = "device"
	KindService = "service"
)

// Entity statuses.
const (
	StatusPending     = "pending"
	StatusValidated   = "validated"
	StatusRejected    = "rejected"
	StatusRevoked     = "revoked"
	StatusDeactivated = "deactivated"
)

// Limits. Every input is bounded so that an operation's cost is bounded.
const (
	MaxOpBytes      = 16 << 10  // a single-entity operation
	MaxEnrollBytes  = 900 << 10 // a bulk enrollment (below CometBFT's 1 MiB tx limit)
	MaxEnrollItems  = 2000
	MaxKeys         = 8
	MaxEndpoints    = 8
	MaxAliases      = 8
	MaxAliasLen     = 128
	MaxAttrs        = 16
	MaxAttrKeyLen   = 64
	MaxAttrValueLen = 256
	MaxURILen       = 512
	MaxTypeLen      = 64
	MaxReasonLen    = 256
	MaxNonceLen     = 32
	MaxNameLen      = 64
	MaxAccess       = 4
	MaxBinders      = 16
	MaxCACerts      = 4
	MaxCertBytes    = 2048
	MaxTokenKeys    = 4
)

// Payload is the signed content of every operation: its type, the network
// it is made for, and exactly one body matching the type.
type Payload struct {
	Type       string            `cbor:"1,keyasint" json:"type"`
	Network    string            `cbor:"2,keyasint" json:"network"`
	Register   *Register         `cbor:"3,keyasint,omitempty" json:"register,omitempty"`
	Update     *Update           `cbor:"4,keyasint,omitempty" json:"update,omitempty"`
	Status     *Status           `cbor:"5,keyasint,omitempty" json:"status,omitempty"`
	Enroll     *Enroll           `cbor:"6,keyasint,omitempty" json:"enroll,omitempty"`
	Contract   *Contract         `cbor:"7,keyasint,omitempty" json:"contract,omitempty"`
	Publish    *Publish          `cbor:"8,keyasint,omitempty" json:"publish,omitempty"`
	Gov        *Gov              `cbor:"9,keyasint,omitempty" json:"gov,omitempty"`
	Credential *CredentialStatus `cbor:"10,keyasint,omitempty" json:"credential,omitempty"` // credential.go
	Pairwise   *Pairwise         `cbor:"11,keyasint,omitempty" json:"pairwise,omitempty"`
	Keys       *ProviderKeys     `cbor:"12,keyasint,omitempty" json:"keys,omitempty"` // provider.keys (keys.go)
}

// Publish sets what a provider publishes for the verifiers of the
// credentials its nodes issue, signed by an admin key of the provider:
// the certificates of its X.509 certificate authorities (servers pin
// them) and its token-signing keys (the JWKS of its authorization
// server). It names the publication version it replaces (0 for the
// first) and replaces both lists: a rotation publishes the new CA or key
// beside the old one, then, once nothing the old one signed is still
// valid, without it.
type Publish struct {
	Provider string `cbor:"1,keyasint" json:"provider"`
	Version  uint64 `cbor:"2,keyasint" json:"version"`
	// CA holds DER X.509 CA certificates (P-256 or Ed25519 keys).
	CA [][]byte `cbor:"3,keyasint,omitempty" json:"ca,omitempty"`
	// TokenKeys are the keys that sign the provider's tokens; an ID is a
	// JWK kid.
	TokenKeys []Key `cbor:"4,keyasint,omitempty" json:"tokenKeys,omitempty"`
}

// Contract deploys (Version 0) or updates (Version = the current one) a
// provider's contract, signed by an admin key of the provider. Deploying
// a registration contract makes it the one that decides on the
// provider's registrations.
type Contract struct {
	Provider string `cbor:"1,keyasint" json:"provider"`
	Name     string `cbor:"2,keyasint" json:"name"`
	Kind     string `cbor:"3,keyasint,omitempty" json:"kind,omitempty"` // deploy only
	Version  uint64 `cbor:"4,keyasint,omitempty" json:"version,omitempty"`
	Source   string `cbor:"5,keyasint" json:"source"`
	// Binders lists the other providers whose services may bind this
	// access contract (the owner's own services always may): the owner
	// decides which operators' services accept each other's session
	// tokens under it. An update sets the list anew.
	Binders []string `cbor:"6,keyasint,omitempty" json:"binders,omitempty"`
}

// Key is a public key of an entity or provider. ID is the DID URL fragment
// that names it; Alg is the COSE algorithm (-8 EdDSA, -7 ES256); Pub is the
// raw key (Ed25519: 32 bytes; P-256: SEC1 compressed 33 bytes).
type Key struct {
	ID  string `cbor:"1,keyasint" json:"id"`
	Alg int64  `cbor:"2,keyasint" json:"alg"`
	Pub []byte `cbor:"3,keyasint" json:"pub"`
}

// Endpoint is a service endpoint.
type Endpoint struct {
	ID   string `cbor:"1,keyasint" json:"id"`
	Type string `cbor:"2,keyasint" json:"type"`
	URI  string `cbor:"3,keyasint" json:"uri"`
}

// Attr is a public attribute. Attribute lists are sorted by key, keys unique.
type Attr struct {
	_ struct{} `cbor:",toarray"`
	K string   `json:"k"`
	V string   `json:"v"`
}

// Document is the registrable content of an entity: what a registration
// sets and an update replaces.
type Document struct {
	Keys      []Key      `cbor:"1,keyasint" json:"keys"`
	Endpoints []Endpoint `cbor:"2,keyasint,omitempty" json:"endpoints,omitempty"`
	// Aliases are legacy identifiers (urn:imei:, tel:+, urn:epc:id:,
	// urn:oid:, urn:dev:..., ip:; see package legacyid), stored in
	// canonical form.
	Aliases []string `cbor:"3,keyasint,omitempty" json:"aliases,omitempty"`
	Attrs   []Attr   `cbor:"4,keyasint,omitempty" json:"attrs,omitempty"`
	// Access binds a service's access contracts ("<provider DID>/<name>",
	// its provider's or another's): each must allow a device.
	Access []string `cbor:"5,keyasint,omitempty" json:"access,omitempty"`
	// KeyAgreement holds the entity's key-agreement keys (DID Core
	// keyAgreement), to which its provider seals data; never signers.
	KeyAgreement []AgreementKey `cbor:"6,keyasint,omitempty" json:"keyAgreement,omitempty"`
}

// Register is an entity's inception, signed by one of its own new keys
// (proof of possession). The entity's DID is derived from the hash of the
// payload that carries it.
type Register struct {
	Kind     string   `cbor:"1,keyasint" json:"kind"`
	Provider string   `cbor:"2,keyasint" json:"provider"`
	Doc      Document `cbor:"3,keyasint" json:"doc"`
	// Ticket is an optional enrollment ticket: a COSE_Sign1 by the provider's
	// admin key over a Ticket.
	Ticket []byte `cbor:"4,keyasint,omitempty" json:"ticket,omitempty"`
	// Nonce distinguishes two registrations of otherwise equal content.
	Nonce []byte `cbor:"5,keyasint,omitempty" json:"nonce,omitempty"`
}

// Update replaces an entity's document (re-registration, key rotation). It
// names the version it replaces and is signed by a current key of the
// entity or an admin key of its provider.
type Update struct {
	DID     string   `cbor:"1,keyasint" json:"did"`
	Version uint64   `cbor:"2,keyasint" json:"version"`
	Doc     Document `cbor:"3,keyasint" json:"doc"`
}

// Status is the body of a status change (validate, reject, revoke,
// deactivate), naming the version it acts on.
type Status struct {
	DID     string `cbor:"1,keyasint" json:"did"`
	Version uint64 `cbor:"2,keyasint" json:"version"`
	Reason  string `cbor:"3,keyasint,omitempty" json:"reason,omitempty"`
	// Pairwise lists, in a revocation, the device's pairwise DIDs with the
	// openings of their commitments: they are revoked with it, in the same
	// operation (see Pairwise).
	Pairwise []PairwiseOpening `cbor:"4,keyasint,omitempty" json:"pairwise,omitempty"`
}

// Enroll registers a batch of devices at once, signed by an admin key of
// the provider that vouches for them; they are validated on commit. Each
// device's DID derives from the network, the provider and its entry.
type Enroll struct {
	Provider string        `cbor:"1,keyasint" json:"provider"`
	Items    []EnrollEntry `cbor:"2,keyasint" json:"items"`
}

// EnrollEntry is one device of a bulk enrollment.
type EnrollEntry struct {
	Doc   Document `cbor:"1,keyasint" json:"doc"`
	Nonce []byte   `cbor:"2,keyasint,omitempty" json:"nonce,omitempty"`
}

// Ticket is the content of an enrollment ticket that a provider signs
// off-ledger for a device: it binds one key of the device to claims.
type Ticket struct {
	Network  string `cbor:"1,keyasint" json:"network"`
	Provider string `cbor:"2,keyasint" json:"provider"`
	// Key is the device key the ticket is for (its canonical bytes).
	Key []byte `cbor:"3,keyasint" json:"key"`
	// Expires is the end of validity, in Unix seconds, checked against the
	// block time.
	Expires int64  `cbor:"4,keyasint" json:"expires"`
	Claims  []Attr `cbor:"5,keyasint,omitempty" json:"claims,omitempty"`
}

// EnrollDID derives the DID of an entry of a bulk enrollment.
func EnrollDID(network, provider string, entry EnrollEntry) (did.DID, error) {
	b, err := Marshal(struct {
		_        struct{} `cbor:",toarray"`
		Tag      string
		Network  string
		Provider string
		Entry    EnrollEntry
	}{Tag: "bias-enroll", Network: network, Provider: provider, Entry: entry})
	if err != nil {
		return did.DID{}, err
	}
	return did.New(network, b), nil
}

// Target returns the DID an operation acts on ("" for register and enroll).
func (p *Payload) Target() string {
	switch {
	case p.Update != nil:
		return p.Update.DID
	case p.Status != nil:
		return p.Status.DID
	}
	return ""
}

// TargetVersion returns the version an operation names (0 if none).
func (p *Payload) TargetVersion() uint64 {
	switch {
	case p.Update != nil:
		return p.Update.Version
	case p.Status != nil:
		return p.Status.Version
	case p.Publish != nil:
		return p.Publish.Version
	case p.Keys != nil:
		return p.Keys.Version
	}
	return 0
}

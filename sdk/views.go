package sdk

import (
	"time"

	"github.com/bias-iot/bias/lightclient"
	"github.com/bias-iot/bias/op"
)

// SubmitResult is the answer to a committed operation (a rejection is an
// error response: ErrorBody, with the reason).
type SubmitResult struct {
	// Status is "committed".
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Hash    string `json:"hash"`
	Height  int64  `json:"height,omitempty"`
	DID     string `json:"did,omitempty"`
	Version uint64 `json:"version,omitempty"`
	// EntityStatus is the entity's status after the operation.
	EntityStatus string `json:"entityStatus,omitempty"`
	// Count is the number of devices of a bulk enrollment.
	Count int `json:"count,omitempty"`
}

// ErrorBody is the JSON of every error response.
type ErrorBody struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Hash    string `json:"hash,omitempty"`
	// Proof is a Merkle proof of absence (Value nil), on a 404 for an
	// entity asked for with proof=true.
	Proof *ProofView `json:"proof,omitempty"`
}

// KeyView is a public key.
type KeyView struct {
	ID  string `json:"id"`
	Alg string `json:"alg"` // EdDSA or ES256
	// PublicKey is the raw key, base64url without padding (Ed25519: 32
	// bytes; P-256: compressed SEC1 point, 33 bytes).
	PublicKey string `json:"publicKey"`
}

// EntityView is an entity's record.
type EntityView struct {
	DID           string            `json:"did"`
	Kind          string            `json:"kind"`
	Provider      string            `json:"provider"`
	Status        string            `json:"status"`
	StatusReason  string            `json:"statusReason,omitempty"`
	Version       uint64            `json:"version"`
	Keys          []KeyView         `json:"keys"`
	Endpoints     []op.Endpoint     `json:"endpoints,omitempty"`
	Aliases       []string          `json:"aliases,omitempty"`
	Attributes    map[string]string `json:"attributes,omitempty"`
	Access        []string          `json:"access,omitempty"` // bound access contracts (services)
	Ticket        map[string]string `json:"ticketClaims,omitempty"`
	Created       time.Time         `json:"created"`
	Updated       time.Time         `json:"updated"`
	CreatedHeight int64             `json:"createdHeight"`
	UpdatedHeight int64             `json:"updatedHeight"`
	LastOp        string            `json:"lastOp"`
	LastOpType    string            `json:"lastOpType"`
	// Decision is the registration contract's decision, if one decided.
	Decision *DecisionView `json:"decision,omitempty"`
	// Height is the block height the record was read at.
	Height int64 `json:"height"`
	// Proof is present when asked for (?proof=true).
	Proof *ProofView `json:"proof,omitempty"`
}

// ProofView proves a record: an ICS23 membership proof of Key → Value
// under AppHash, the app hash in the header of block AppHashHeight:
// normally Height+1 (the header after a block commits to its state), or
// Height itself when block Height changed nothing. AppHash is empty when
// that header is not made yet; fetch /v1/blocks/{appHashHeight} later.
type ProofView struct {
	Height        int64  `json:"height"`
	Key           []byte `json:"key"`   // base64
	Value         []byte `json:"value"` // base64 of the CBOR record
	Proof         []byte `json:"proof"` // base64 of the ICS23 CommitmentProof (protobuf)
	AppHash       string `json:"appHash,omitempty"`
	AppHashHeight int64  `json:"appHashHeight"`
}

// ProviderView is a provider's record.
type ProviderView struct {
	DID     string    `json:"did"`
	Name    string    `json:"name"`
	Keys    []KeyView `json:"keys"`
	Created time.Time `json:"created"`
}

// StatusView is a node's view of the network.
type StatusView struct {
	Network    string          `json:"network"`
	NodeID     string          `json:"nodeId"`
	Height     int64           `json:"height"`
	AppHash    string          `json:"appHash"`
	Time       time.Time       `json:"time"`
	CatchingUp bool            `json:"catchingUp"`
	Validators []ValidatorView `json:"validators"`
}

// ValidatorSet is the validator set the status names, for a light client
// (ProvenView.Validators). It is only as trustworthy as the node that
// answered: take it from a node you trust, once, or better read it from
// the network's genesis file with lightclient.ParseGenesis.
func (s *StatusView) ValidatorSet() (*lightclient.ValidatorSet, error) {
	vals := make([]lightclient.Validator, 0, len(s.Validators))
	for _, v := range s.Validators {
		vals = append(vals, lightclient.Validator{PubKey: v.PubKey, Power: v.Power})
	}
	return lightclient.NewValidatorSet(vals)
}

// ValidatorView is a validator.
type ValidatorView struct {
	Address string `json:"address"`
	PubKey  []byte `json:"pubKey"`
	Power   int64  `json:"power"`
}

// HeaderView is what a proof needs of a block header: AppHash commits to
// the state after block Height-1.
type HeaderView struct {
	Network string    `json:"network"`
	Height  int64     `json:"height"`
	Time    time.Time `json:"time"`
	AppHash string    `json:"appHash"`
}

// DecisionView is a contract's decision on an entity.
type DecisionView struct {
	Contract string `json:"contract"` // provider DID "/" name "@" version
	Outcome  string `json:"outcome"`  // validate, pending or reject
	Reason   string `json:"reason,omitempty"`
}

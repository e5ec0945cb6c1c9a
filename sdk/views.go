package sdk

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/lightclient"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
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
	// Count is the number of devices of a bulk enrollment, or the
	// approvals a proposal has from current providers.
	Count int `json:"count,omitempty"`
	// Proposal and ProposalStatus are the id and status (open,
	// executed) of the proposal that a gov.propose made or a gov.vote
	// approved; DID is then the provider an executed admission admitted.
	Proposal       string `json:"proposal,omitempty"`
	ProposalStatus string `json:"proposalStatus,omitempty"`
}

// ErrorBody is the JSON of every error response.
type ErrorBody struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Hash    string `json:"hash,omitempty"`
	// Proof is a Merkle proof of absence (Value nil), on a 404 for an
	// entity asked for with proof=true.
	Proof *ProofView `json:"proof,omitempty"`
	// From is, on a 504 timeout of a submission (or a 404 of
	// GET /v1/operations/{hash}), the height to look the operation up
	// from: Client.Operation(ctx, Hash, From).
	From int64 `json:"from,omitempty"`
	// First is, on a 410 pruned, the first block the node holds.
	First int64 `json:"first,omitempty"`
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
	// KeyAgreement holds the key-agreement keys (sdk/seal.go).
	KeyAgreement []AgreementKeyView `json:"keyAgreement,omitempty"`
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
	DID         string           `json:"did"`
	Name        string           `json:"name"`
	Keys        []KeyView        `json:"keys"`
	Created     time.Time        `json:"created"`
	Publication *PublicationView `json:"publication,omitempty"`
	// Admitted is the proposal that admitted the provider (none for a
	// founding one); Removed the height of the block that removed it.
	Admitted string `json:"admitted,omitempty"`
	Removed  int64  `json:"removed,omitempty"`
	// Threshold is how many distinct admin keys sign each of its
	// operations; KeysVersion counts the replacements of its keys (the
	// version a provider.keys names).
	Threshold   int    `json:"threshold"`
	KeysVersion uint64 `json:"keysVersion"`
}

// PublicationView is what a provider publishes for the verifiers of its
// credentials (operation provider.publish): its CA certificates and its
// token-signing keys.
type PublicationView struct {
	Version uint64 `json:"version"`
	// CA holds DER certificates in standard base64, as PEM and a JWK's
	// x5c carry them.
	CA        []string  `json:"ca,omitempty"`
	TokenKeys []KeyView `json:"tokenKeys,omitempty"`
	Updated   time.Time `json:"updated"`
	Height    int64     `json:"height"`
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

// KeyViews is the JSON view of keys.
func KeyViews(keys []op.Key) []KeyView {
	out := make([]KeyView, 0, len(keys))
	for _, k := range keys {
		out = append(out, KeyView{ID: k.ID, Alg: cose.Alg(k.Alg).String(), PublicKey: base64.RawURLEncoding.EncodeToString(k.Pub)})
	}
	return out
}

// Key is the key a view shows.
func (k KeyView) Key() (op.Key, error) {
	alg, err := cose.ParseAlg(k.Alg)
	if err != nil {
		return op.Key{}, err
	}
	pub, err := base64.RawURLEncoding.DecodeString(k.PublicKey)
	if err != nil {
		return op.Key{}, err
	}
	return op.Key{ID: k.ID, Alg: int64(alg), Pub: pub}, nil
}

// attrView is attributes as JSON shows them: nil when there are none.
func attrView(attrs []op.Attr) map[string]string {
	if len(attrs) == 0 {
		return nil
	}
	return record.AttrMap(attrs)
}

// EntityViewOf is the JSON view of an entity record read at height, as
// GET /v1/entities/{did} shows it.
func EntityViewOf(e *record.Entity, height int64) *EntityView {
	var dec *DecisionView
	if e.Decision != nil {
		dec = &DecisionView{Contract: e.Decision.Contract, Outcome: e.Decision.Outcome, Reason: e.Decision.Reason}
	}
	return &EntityView{
		Decision: dec,
		DID:      e.DID, Kind: e.Kind, Provider: e.Provider, Status: e.Status, StatusReason: e.StatusReason,
		Version: e.Version, Keys: KeyViews(e.Doc.Keys), Endpoints: e.Doc.Endpoints, Aliases: e.Doc.Aliases,
		Attributes: attrView(e.Doc.Attrs), Ticket: attrView(e.Ticket), Access: e.Doc.Access,
		Created: time.Unix(0, e.Created).UTC(), Updated: time.Unix(0, e.Updated).UTC(),
		CreatedHeight: e.CreatedHeight, UpdatedHeight: e.UpdatedHeight,
		LastOp: hex.EncodeToString(e.LastOp), LastOpType: e.LastOpType, Height: height, KeyAgreement: AgreementKeyViews(e.Doc.KeyAgreement),
	}
}

// ProviderViewOf is the JSON view of a provider record.
func ProviderViewOf(p *record.Provider) *ProviderView {
	v := &ProviderView{DID: p.DID, Name: p.Name, Keys: KeyViews(p.Keys), Created: time.Unix(0, p.Created).UTC(), Admitted: p.Admitted, Removed: p.Removed, Threshold: p.Quorum(), KeysVersion: p.KeysVersion}
	if pub := p.Publication; pub != nil {
		v.Publication = &PublicationView{Version: pub.Version, TokenKeys: KeyViews(pub.TokenKeys), Updated: time.Unix(0, pub.Updated).UTC(), Height: pub.Height}
		for _, der := range pub.CA {
			v.Publication.CA = append(v.Publication.CA, base64.StdEncoding.EncodeToString(der))
		}
	}
	return v
}

// ContractView is a contract version's record, as GET
// /v1/providers/{did}/contracts/{name} shows it, with its proof when
// asked for (?proof=true).
type ContractView struct {
	record.Contract
	Proof *ProofView `json:"proof,omitempty"`
}

// VerifyRequest is the body of POST /v1/authn/verify: a challenge and the
// proof that answers it, each in text form (authn.EncodeText: a compact
// JWS, or base64url of a COSE_Sign1).
type VerifyRequest struct {
	Challenge string `json:"challenge"`
	Proof     string `json:"proof"`
	// Context is what the service tells its access contracts of the
	// request (operation, area...): at most 16 entries.
	Context map[string]string `json:"context,omitempty"`
}

// AccessRequest is the body of POST /v1/authn/access: the access decision
// of a service's bound contracts on a device, without an authentication
// (the service has one: a session token it accepted).
type AccessRequest struct {
	Device  string `json:"device"`
	Service string `json:"service"`
	// Issuer is the service that issued the token, if another, and
	// Audience the token's aud: the node decides again whether the
	// service accepts that issuer's tokens (authn.Federated).
	Issuer   string            `json:"issuer,omitempty"`
	Audience []string          `json:"audience,omitempty"`
	Context  map[string]string `json:"context,omitempty"`
}

// DryRunRequest is the body of POST /v1/contracts/dry-run: a contract
// (its source and kind, or a deployed one by provider, name and version)
// and the inputs to evaluate it on.
type DryRunRequest struct {
	Kind     string          `json:"kind,omitempty"`
	Source   string          `json:"source,omitempty"`
	Provider string          `json:"provider,omitempty"`
	Name     string          `json:"name,omitempty"`
	Version  uint64          `json:"version,omitempty"`
	Inputs   json.RawMessage `json:"inputs"`
}

// DryRunResult is its answer.
type DryRunResult struct {
	Outcome       string `json:"outcome"`
	Reason        string `json:"reason,omitempty"`
	Cost          uint64 `json:"cost"`
	EstimatedCost uint64 `json:"estimatedCost"`
	Contract      string `json:"contract,omitempty"`
}

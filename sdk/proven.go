package sdk

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/lightclient"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/proof"
	"github.com/bias-iot/bias/record"
)

// ProvenView is an authn.View for a verifier that does not trust the node
// it asks: each record comes with a Merkle proof, checked against the app
// hash of a block header that it believes either because
//
//   - Light is set: a light client verifies the header from its root of
//     trust (the genesis, or the newest header its store trusts),
//     following the validator set through its changes (lightclient.Client:
//     sequential or skipping verification, trust level 1/3, a trusting
//     period); the node is not trusted, and its headers come from the
//     light client's source (a *Client is one);
//   - Validators is set: the header's commit is signed by more than two
//     thirds of the voting power of that validator set (a light client of
//     a network whose set does not change: the node is not trusted at
//     all, only the validators, as consensus itself assumes); the header
//     comes from Witness if set, else from C;
//   - or, without Validators, it comes from Witness, a node of another
//     operator: a lie needs both nodes to collude.
//
// On the EVM engine (docs/evm.md) no header is signed: a node's app hash
// is the root it computed by replaying the chain, so neither Light nor
// Validators applies; Witness does (roots of independent nodes that
// agree; AgreeOnRoot compares any number of nodes' headers at a height
// and names the one that differs), and the inclusion of an operation in a
// final EVM block is checked against the EVM header's receipts root:
// evmsdk.Inclusion (sdk/evmsdk) fetches the proof, and evmproof.Verify checks it
// against the EVM block hash, anchor contract, deployment block and
// network that the client confirmed itself (its own EVM node or light
// client, the network's genesis), not the ones the node reports.
//
// The chain id checked is the DID's network. An unknown DID is unknown
// only with a proof of its absence; a 404 without one is an error.
type ProvenView struct {
	C          *Client                   // the node that answers
	Witness    *Client                   // a node whose headers are believed (or, with Validators, checked)
	Validators *lightclient.ValidatorSet // the validator set trusted to sign headers
	Light      *lightclient.Client       // a light client that follows the validator set
	// Headers, when set, keeps the app hashes this view has believed, so
	// that reads at the same height fetch and check the header once, and
	// the highest height believed: a record proven at a lower one is
	// refused (a node cannot take the view back to an older state, say
	// from before a revocation). One cache per trust configuration and
	// per node: a node a block behind another is refused too.
	Headers *HeaderCache
	// MinHeight refuses records proven against a header below it (a floor
	// the caller knows, e.g. a witness's height).
	MinHeight int64
}

var _ lightclient.Source = (*Client)(nil)

// HeaderCache holds the app hashes of the newest believed headers.
type HeaderCache struct {
	mu      sync.Mutex
	max     int
	m       map[string][]byte
	order   []string
	highest map[string]int64 // by network
}

// Highest is the highest height of network whose header the cache has
// believed.
func (c *HeaderCache) Highest(network string) int64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.highest[network]
}

// NewHeaderCache keeps the app hashes of up to n headers (the newest).
func NewHeaderCache(n int) *HeaderCache {
	return &HeaderCache{max: max(n, 1), m: map[string][]byte{}, highest: map[string]int64{}}
}

func (c *HeaderCache) get(key string) []byte {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key]
}

func (c *HeaderCache) put(network, key string, height int64, appHash []byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.highest[network] = max(c.highest[network], height)
	if _, ok := c.m[key]; ok {
		return
	}
	if len(c.order) == c.max {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
	c.m[key] = appHash
	c.order = append(c.order, key)
}

// ErrProof is wrapped when a record does not verify.
var ErrProof = errors.New("record does not verify against a believed header")

// appHash is the app hash of block height that v believes.
func (v ProvenView) appHash(ctx context.Context, network string, height int64) ([]byte, error) {
	if floor := max(v.MinHeight, v.Headers.Highest(network)); height < floor {
		return nil, fmt.Errorf("%w: proven at block %d, older than block %d already believed", ErrProof, height, floor)
	}
	key := network + "/" + strconv.FormatInt(height, 10)
	if h := v.Headers.get(key); h != nil {
		return h, nil
	}
	h, err := v.fetchAppHash(ctx, network, height)
	if err == nil {
		v.Headers.put(network, key, height, h)
	}
	return h, err
}

func (v ProvenView) fetchAppHash(ctx context.Context, network string, height int64) ([]byte, error) {
	if v.Light != nil {
		if v.Light.ChainID() != network {
			return nil, fmt.Errorf("%w: a record of network %s, the light client follows %s", ErrProof, network, v.Light.ChainID())
		}
		t, err := v.Light.VerifyHeight(ctx, height, time.Now())
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrProof, err)
		}
		return t.AppHash, nil
	}
	src := v.Witness
	if src == nil {
		src = v.C
	}
	if v.Validators == nil {
		if v.Witness == nil {
			return nil, errors.New("a ProvenView needs Validators or a Witness")
		}
		h, err := v.Witness.Header(ctx, height)
		if err != nil {
			return nil, fmt.Errorf("witness header %d: %w", height, err)
		}
		return hex.DecodeString(h.AppHash)
	}
	sh, err := src.SignedHeader(ctx, height)
	if err != nil {
		return nil, fmt.Errorf("signed header %d: %w", height, err)
	}
	if err := lightclient.Verify(network, sh, v.Validators); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProof, err)
	}
	if sh.Header.Height != height {
		return nil, fmt.Errorf("%w: asked for header %d, got %d", ErrProof, height, sh.Header.Height)
	}
	return sh.Header.AppHash, nil
}

// Entity implements authn.View.
func (v ProvenView) Entity(ctx context.Context, id did.DID) (*authn.Entity, error) {
	e, err := v.C.EntityProof(ctx, id.String(), 0)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound && ae.Reason == string(op.ReasonUnknownEntity) {
		// Unknown only if the node proves it: a node could otherwise hide
		// an entity (or its revocation's successor) by saying 404.
		return nil, v.checkAbsent(ctx, id.Network, record.EntityKey(id.Base().String()), ae.Proof)
	}
	if err != nil {
		return nil, err
	}
	return v.Check(ctx, id, e)
}

// Contract implements authn.View: the contract's current record, proven.
func (v ProvenView) Contract(ctx context.Context, ref string) (*record.Contract, error) {
	prov, name, ok := record.SplitRef(ref)
	if !ok {
		return nil, nil
	}
	pd, err := did.ParseNoFragment(prov)
	if err != nil {
		return nil, nil //nolint:nilerr // a reference that names no DID names no contract
	}
	key := record.ContractKey(pd.String(), name)
	c, err := v.C.ContractProof(ctx, pd.String(), name)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil, v.checkAbsent(ctx, pd.Network, key, ae.Proof)
	}
	if err != nil {
		return nil, err
	}
	b, err := v.prove(ctx, pd.Network, key, c.Proof)
	if err != nil {
		return nil, err
	}
	rec, err := record.DecodeContract(b)
	if err != nil {
		return nil, fmt.Errorf("%w: record: %v", ErrProof, err)
	}
	return rec, nil
}

// checkAbsent verifies a proof that the record at key is absent.
func (v ProvenView) checkAbsent(ctx context.Context, network string, key []byte, p *ProofView) error {
	if p == nil {
		return fmt.Errorf("%w: the node says %s is absent without a proof of absence", ErrProof, key)
	}
	if p.Value != nil || !bytes.Equal(p.Key, key) {
		return fmt.Errorf("%w: the proof of absence is for another record", ErrProof)
	}
	appHash, err := v.appHash(ctx, network, p.AppHashHeight)
	if err != nil {
		return err
	}
	if err := proof.Verify(appHash, p.Key, nil, p.Proof); err != nil {
		return fmt.Errorf("%w: absence: %v", ErrProof, err)
	}
	return nil
}

// prove verifies that p proves a value at key, and returns the value.
func (v ProvenView) prove(ctx context.Context, network string, key []byte, p *ProofView) ([]byte, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: no proof", ErrProof)
	}
	if !bytes.Equal(p.Key, key) || p.Value == nil {
		return nil, fmt.Errorf("%w: the proof is for another record", ErrProof)
	}
	appHash, err := v.appHash(ctx, network, p.AppHashHeight)
	if err != nil {
		return nil, err
	}
	if err := proof.Verify(appHash, p.Key, p.Value, p.Proof); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProof, err)
	}
	return p.Value, nil
}

// Check verifies an entity view read with its proof (Client.EntityProof)
// as Entity does, and returns what the proven bytes say.
func (v ProvenView) Check(ctx context.Context, id did.DID, e *EntityView) (*authn.Entity, error) {
	rec, err := v.CheckRecord(ctx, id, e)
	if err != nil {
		return nil, err
	}
	return authn.EntityOf(rec), nil
}

// CheckRecord verifies an entity view read with its proof and returns the
// record decoded from the proven bytes (never the node's JSON).
func (v ProvenView) CheckRecord(ctx context.Context, id did.DID, e *EntityView) (*record.Entity, error) {
	b, err := v.prove(ctx, id.Network, record.EntityKey(id.Base().String()), e.Proof)
	if err != nil {
		return nil, err
	}
	rec, err := record.DecodeEntity(b)
	if err != nil {
		return nil, fmt.Errorf("%w: record: %v", ErrProof, err)
	}
	if rec.DID != id.Base().String() {
		return nil, fmt.Errorf("%w: the proof is for another record", ErrProof)
	}
	return rec, nil
}

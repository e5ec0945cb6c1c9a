// Package resolver answers what a node knows: it reads records from the
// ledger's committed state (entities, their versions, providers,
// contracts, the legacy-identifier index), proves them on request,
// resolves DIDs to W3C DID documents with their metadata, and is the
// node's authn.View. The HTTP API decodes requests, calls it and renders;
// it never reads state keys itself.
//
//	r := resolver.New(ledger, "local")
//	res, err := r.Resolve(ctx, "did:bias:local:...", did.Options{}) // nil: not registered
//	e, err := r.Entity(ctx, id)                                       // authn.View
package resolver

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/proof"
	"github.com/bias-iot/bias/record"
	"github.com/bias-iot/bias/sdk"
)

// Resolver reads a network's committed state through a ledger.
type Resolver struct {
	l       ledger.Reader
	network string
}

var _ authn.View = (*Resolver)(nil)

// New returns the resolver of network over l.
func New(l ledger.Reader, network string) *Resolver { return &Resolver{l: l, network: network} }

// Network is the network the resolver reads.
func (r *Resolver) Network() string { return r.network }

// QueryError is a query the application refused (a height it does not
// hold, say): the request's fault, with the application's reason.
type QueryError struct {
	Reason string
	Msg    string
}

func (e *QueryError) Error() string { return e.Reason + ": " + e.Msg }

// Reading is a record read at a height: nil when absent, with its Merkle
// proof (of presence or of absence) when asked for.
type Reading[T any] struct {
	Record *T
	Height int64
	Proof  *sdk.ProofView
}

func (r *Resolver) query(ctx context.Context, key []byte, height int64, prove bool) (*ledger.QueryResult, error) {
	q, err := r.l.Query(ctx, ledger.Query{Path: record.QueryKey, Data: key, Height: height, Prove: prove})
	if err != nil {
		return nil, err
	}
	if q.Code != 0 {
		return nil, &QueryError{Reason: q.Reason, Msg: q.Log}
	}
	return q, nil
}

// read reads and decodes the record at key.
func read[T any](ctx context.Context, r *Resolver, key []byte, height int64, prove bool, decode func([]byte) (*T, error)) (*Reading[T], error) {
	q, err := r.query(ctx, key, height, prove)
	if err != nil {
		return nil, err
	}
	out := &Reading[T]{Height: q.Height}
	if prove {
		out.Proof = &sdk.ProofView{Height: q.Height, Key: q.Key, Value: q.Value, Proof: q.Proof, AppHashHeight: q.Height + 1}
		if hdr := r.provingHeader(ctx, q); hdr != nil {
			out.Proof.AppHash, out.Proof.AppHashHeight = hex.EncodeToString(hdr.AppHash), hdr.Height
		}
	}
	if q.Value != nil {
		if out.Record, err = decode(q.Value); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// provingHeader finds a header whose app hash the proof of q verifies
// against. The header of block H+1 commits to the state after block H; if
// that block is not made yet, the header of H itself does when block H
// changed nothing (an empty block), and otherwise block H+1 follows within
// moments (a block that changes the state is always followed by one).
func (r *Resolver) provingHeader(ctx context.Context, q *ledger.QueryResult) *ledger.Header {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if h, err := r.l.Header(ctx, q.Height); err == nil && proof.Verify(h.AppHash, q.Key, q.Value, q.Proof) == nil {
		return h
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if h, err := r.l.Header(ctx, q.Height+1); err == nil {
			return h
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// ReadEntity reads an entity's current record at height (0: the latest),
// with its proof if prove.
func (r *Resolver) ReadEntity(ctx context.Context, id string, height int64, prove bool) (*Reading[record.Entity], error) {
	return read(ctx, r, record.EntityKey(id), height, prove, record.DecodeEntity)
}

// EntityRecord reads an entity's current record; nil if it is not
// registered.
func (r *Resolver) EntityRecord(ctx context.Context, id string) (*record.Entity, error) {
	rd, err := r.ReadEntity(ctx, id, 0, false)
	if err != nil {
		return nil, err
	}
	return rd.Record, nil
}

// EntityVersion reads version v of an entity: from its history, or its
// current record if that is version v; nil if there is no such version.
func (r *Resolver) EntityVersion(ctx context.Context, id string, v uint64) (*Reading[record.Entity], error) {
	rd, err := read(ctx, r, record.HistoryKey(id, v), 0, false, record.DecodeEntity)
	if err != nil || rd.Record != nil {
		return rd, err
	}
	// Not replaced yet: the current record, if it is version v (at the
	// same height, so that a version made in between is not missed).
	cur, err := r.ReadEntity(ctx, id, rd.Height, false)
	if err != nil {
		return nil, err
	}
	if cur.Record != nil && cur.Record.Version != v {
		cur.Record = nil
	}
	return cur, nil
}

// Entity implements authn.View: the entity's current record, as a
// decision needs it.
func (r *Resolver) Entity(ctx context.Context, id did.DID) (*authn.Entity, error) {
	if id.Network != r.network {
		return nil, nil
	}
	e, err := r.EntityRecord(ctx, id.Base().String())
	if err != nil || e == nil {
		return nil, err
	}
	return authn.EntityOf(e), nil
}

// Provider reads a provider; nil if there is none.
func (r *Resolver) Provider(ctx context.Context, id string) (*record.Provider, error) {
	rd, err := read(ctx, r, record.ProviderKey(id), 0, false, record.DecodeProvider)
	if err != nil {
		return nil, err
	}
	return rd.Record, nil
}

// prefix reads the records under a key prefix (at most 1000).
func (r *Resolver) prefix(ctx context.Context, p []byte) ([]record.KV, error) {
	q, err := r.l.Query(ctx, ledger.Query{Path: record.QueryPrefix, Data: p})
	if err != nil {
		return nil, err
	}
	if q.Code != 0 {
		return nil, &QueryError{Reason: q.Reason, Msg: q.Log}
	}
	list, err := record.DecodePrefixList(q.Value)
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// Providers lists the providers.
func (r *Resolver) Providers(ctx context.Context) ([]*record.Provider, error) {
	items, err := r.prefix(ctx, record.ProviderPrefix())
	if err != nil {
		return nil, err
	}
	out := make([]*record.Provider, 0, len(items))
	for _, kv := range items {
		p, err := record.DecodeProvider(kv.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// ReadContract reads a provider's contract, at version (0: its current
// one), with its proof if prove.
func (r *Resolver) ReadContract(ctx context.Context, provider, name string, version uint64, prove bool) (*Reading[record.Contract], error) {
	key := record.ContractKey(provider, name)
	if version > 0 {
		key = record.ContractVersionKey(provider, name, version)
	}
	return read(ctx, r, key, 0, prove, record.DecodeContract)
}

// ContractVersion reads a contract at version (0: its current one); nil
// if there is none.
func (r *Resolver) ContractVersion(ctx context.Context, provider, name string, version uint64) (*record.Contract, error) {
	rd, err := r.ReadContract(ctx, provider, name, version, false)
	if err != nil {
		return nil, err
	}
	return rd.Record, nil
}

// Contract implements authn.View: the current version of the contract
// ref ("<provider DID>/<name>"); nil if there is none.
func (r *Resolver) Contract(ctx context.Context, ref string) (*record.Contract, error) {
	prov, name, ok := record.SplitRef(ref)
	if !ok {
		return nil, nil
	}
	return r.ContractVersion(ctx, prov, name, 0)
}

// Contracts lists a provider's contracts, their current versions.
func (r *Resolver) Contracts(ctx context.Context, provider string) ([]*record.Contract, error) {
	items, err := r.prefix(ctx, record.ContractPrefix(provider))
	if err != nil {
		return nil, err
	}
	out := []*record.Contract{}
	for _, kv := range items {
		c, err := record.DecodeContract(kv.Value)
		if err != nil {
			return nil, err
		}
		if string(kv.Key) == string(record.ContractKey(c.Provider, c.Name)) { // not a version record
			out = append(out, c)
		}
	}
	return out, nil
}

// ErrNotHeld is returned by Identify for an identifier no validated, live
// entity holds.
var ErrNotHeld = errors.New("no validated entity holds the identifier")

// Identify finds the DID of the entity that holds a canonical legacy
// identifier (legacyid.Normalize).
func (r *Resolver) Identify(ctx context.Context, canonical string) (did.DID, error) {
	q, err := r.query(ctx, record.AliasKey(canonical), 0, false)
	if err != nil {
		return did.DID{}, err
	}
	if q.Value == nil {
		return did.DID{}, ErrNotHeld
	}
	d, err := did.ParseNoFragment(string(q.Value))
	if err != nil {
		return did.DID{}, fmt.Errorf("index entry of %s: %w", canonical, err)
	}
	return d, nil
}

// Applied finds the entity version that the signed operation s made, if
// it applied: what an operation is is what its signer signed (its payload
// hash), not its bytes, which a relay may re-encode (another COSE tag,
// another ES256 signature of the same payload). It looks at a
// registration's version 1, or at the version after the one an
// operation on an entity names; nil if that version was not made by s
// (or s is not an operation on one entity).
func (r *Resolver) Applied(ctx context.Context, s *op.Signed) (*Reading[record.Entity], error) {
	var id string
	var v uint64
	switch s.Payload.Type {
	case op.TypeRegister:
		id, v = did.New(s.Payload.Network, s.Msg.Payload).String(), 1
	case op.TypeUpdate, op.TypeDeactivate, op.TypeValidate, op.TypeReject, op.TypeRevoke:
		id, v = s.Payload.Target(), s.Payload.TargetVersion()+1
	default:
		return nil, nil
	}
	rd, err := r.EntityVersion(ctx, id, v)
	if err != nil || rd.Record == nil || !bytes.Equal(rd.Record.LastOp, s.PayloadHash[:]) {
		return nil, err
	}
	return rd, nil
}

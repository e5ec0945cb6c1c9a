package resolver

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// Resolve resolves a DID (at a version or time) to its document and
// metadata, as GET /1.0/identifiers/{did} answers; nil if there is no such
// entity, provider or version. A deactivated DID resolves to no document
// and its metadata (DID Resolution v1.0), at every version.
func (r *Resolver) Resolve(ctx context.Context, id string, o did.Options) (*did.Result, error) {
	rd, err := r.ReadEntity(ctx, id, 0, false)
	if err != nil {
		return nil, err
	}
	if rd.Record == nil {
		return r.resolveProvider(ctx, id, o)
	}
	cur, height := rd.Record, rd.Height
	e := cur
	switch {
	case o.VersionID > 0 && o.VersionID < cur.Version:
		h, err := read(ctx, r, record.HistoryKey(id, o.VersionID), height, false, record.DecodeEntity)
		if err != nil || h.Record == nil {
			return nil, err
		}
		e = h.Record
	case o.VersionID > cur.Version:
		return nil, nil
	case !o.VersionTime.IsZero():
		if e, err = r.versionAt(ctx, cur, height, o.VersionTime.Unix()); err != nil || e == nil {
			return nil, err
		}
	}
	doc, err := Document(e)
	if err != nil {
		return nil, err
	}
	md := &did.DocumentMetadata{
		Created: rfc3339(e.Created), VersionID: strconv.FormatUint(e.Version, 10),
		Deactivated: cur.Status == op.StatusDeactivated, Provider: e.Provider, Status: cur.Status,
		StatusReason: cur.StatusReason, Kind: e.Kind, Height: strconv.FormatInt(height, 10),
	}
	if e.Version < cur.Version {
		md.VersionStatus = e.Status
		md.NextVersionID = strconv.FormatUint(e.Version+1, 10)
	}
	if e.Version > 1 {
		md.Updated = rfc3339(e.Updated)
	}
	if md.Deactivated {
		doc = nil
	} else if cur.Status != op.StatusValidated {
		// Only a validated entity is valid: the document of any other
		// lists its keys but authorizes none of them, so that a verifier
		// that reads DID Core alone, not bias's status, refuses it too.
		// Nor is anything sealed to it.
		doc.Authentication, doc.AssertionMethod, doc.KeyAgreement = nil, nil, nil
	}
	return &did.Result{Document: doc, DocumentMetadata: md}, nil
}

// resolveProvider resolves a provider's DID: a document with its admin
// keys as verification methods, controlled by itself. A provider's record
// has one version (its keys do not change yet): versionId 1, or any time
// from its enrollment on.
func (r *Resolver) resolveProvider(ctx context.Context, id string, o did.Options) (*did.Result, error) {
	rd, err := read(ctx, r, record.ProviderKey(id), 0, false, record.DecodeProvider)
	if err != nil || rd.Record == nil {
		return nil, err
	}
	p := rd.Record
	if o.VersionID > 1 || !o.VersionTime.IsZero() && o.VersionTime.Unix() < p.Created/1_000_000_000 {
		return nil, nil
	}
	d, err := did.Parse(p.DID)
	if err != nil {
		return nil, err
	}
	sub := did.Subject{DID: d}
	for _, k := range p.Keys {
		pk, err := cose.ParsePublicKey(cose.Alg(k.Alg), k.Pub)
		if err != nil {
			return nil, err
		}
		sub.Keys = append(sub.Keys, did.Key{ID: k.ID, Pub: pk})
	}
	doc, err := did.NewDocument(sub)
	if err != nil {
		return nil, err
	}
	return &did.Result{Document: doc, DocumentMetadata: &did.DocumentMetadata{
		Created: rfc3339(p.Created), VersionID: "1", Kind: KindProvider, Height: strconv.FormatInt(rd.Height, 10),
	}}, nil
}

// KindProvider is the kind a provider's document metadata names.
const KindProvider = "provider"

// versionAt finds the version in effect at time t (Unix seconds): the
// last one made at or before t, to the second, as the metadata shows times
// (two versions of one second are told apart by versionId). Any time
// works: one before every version finds none, one after the last finds
// it. Versions are made in time order, so a binary search over the
// history reads O(log versions) records.
func (r *Resolver) versionAt(ctx context.Context, cur *record.Entity, height, t int64) (*record.Entity, error) {
	sec := func(ns int64) int64 { return ns / 1_000_000_000 }
	if sec(cur.Updated) <= t {
		return cur, nil
	}
	var found *record.Entity
	lo, hi := uint64(1), cur.Version-1
	for lo <= hi && hi >= 1 {
		mid := lo + (hi-lo)/2
		h, err := read(ctx, r, record.HistoryKey(cur.DID, mid), height, false, record.DecodeEntity)
		if err != nil {
			return nil, err
		}
		if h.Record == nil {
			return nil, fmt.Errorf("history of %s lacks version %d", cur.DID, mid)
		}
		if sec(h.Record.Updated) <= t {
			found, lo = h.Record, mid+1
		} else {
			hi = mid - 1
		}
	}
	return found, nil
}

func rfc3339(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339) }

// Document builds the DID document of an entity record.
func Document(e *record.Entity) (*did.Document, error) {
	id, err := did.Parse(e.DID)
	if err != nil {
		return nil, err
	}
	prov, err := did.Parse(e.Provider)
	if err != nil {
		return nil, err
	}
	sub := did.Subject{DID: id, Controller: prov, AlsoKnownAs: e.Doc.Aliases}
	for _, k := range e.Doc.Keys {
		pk, err := cose.ParsePublicKey(cose.Alg(k.Alg), k.Pub)
		if err != nil {
			return nil, err
		}
		sub.Keys = append(sub.Keys, did.Key{ID: k.ID, Pub: pk})
	}
	for _, k := range e.Doc.KeyAgreement {
		pk, err := k.ECDH()
		if err != nil {
			return nil, err
		}
		sub.Agreement = append(sub.Agreement, did.AgreementKey{ID: k.ID, Pub: pk})
	}
	for _, ep := range e.Doc.Endpoints {
		sub.Services = append(sub.Services, did.Service{ID: ep.ID, Type: ep.Type, ServiceEndpoint: ep.URI})
	}
	return did.NewDocument(sub)
}

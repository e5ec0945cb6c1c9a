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
// entity or version.
func (r *Resolver) Resolve(ctx context.Context, id string, o did.Options) (*did.Result, error) {
	rd, err := r.ReadEntity(ctx, id, 0, false)
	if err != nil || rd.Record == nil {
		return nil, err
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
	return &did.Result{Document: doc, DocumentMetadata: md}, nil
}

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
	for _, ep := range e.Doc.Endpoints {
		sub.Services = append(sub.Services, did.Service{ID: ep.ID, Type: ep.Type, ServiceEndpoint: ep.URI})
	}
	return did.NewDocument(sub)
}

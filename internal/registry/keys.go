package registry

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// providerKeys replaces a provider's admin keys and threshold
// (provider.keys), signed by a threshold of its current keys. It names
// the key-set version it replaces; the operation that made the current
// set, submitted again, is a replay (checked before the signatures: its
// signers may no longer be current keys).
func (x *executor) providerKeys() (*outcome, error) {
	k := x.s.Payload.Keys
	if x.s.Kid.Base().String() != k.Provider {
		return nil, op.Reject(op.ReasonUnauthorized, "a provider's keys are replaced by its own admin keys")
	}
	cur, err := getProvider(x.st, k.Provider)
	if err != nil {
		return nil, err
	}
	if cur != nil && cur.KeysVersion > 0 && k.Version+1 == cur.KeysVersion && bytes.Equal(cur.KeysOp, x.s.PayloadHash[:]) {
		return nil, op.Reject(op.ReasonReplayed, "this key replacement was already applied")
	}
	prov, err := x.providerSigner(k.Provider)
	if err != nil {
		return nil, err
	}
	if err := x.checkNamedVersion(k.Version, prov.KeysVersion, func(uint64) ([]byte, error) { return nil, nil }, func(uint64) string { return "" }); err != nil {
		return nil, err
	}
	next := withKeys(prov, k.Keys, k.Threshold)
	next.KeysOp = append([]byte(nil), x.s.PayloadHash[:]...)
	b, err := op.Marshal(next)
	if err != nil {
		return nil, err
	}
	return &outcome{
		writes: []write{{record.ProviderKey(prov.DID), b}},
		result: record.Result{DID: prov.DID, Version: next.KeysVersion},
		events: []ledger.Event{keysEvent(next)},
	}, nil
}

// withKeys is prov with a new admin key set at the next key-set version.
func withKeys(prov *record.Provider, keys []op.Key, threshold uint64) *record.Provider {
	next := *prov
	next.Keys, next.Threshold, next.KeysVersion, next.KeysOp = keys, threshold, prov.KeysVersion+1, nil
	return &next
}

// keysEvent tells the event stream that a provider's admin keys changed.
func keysEvent(p *record.Provider) ledger.Event {
	return ledgerEvent(record.EventProvider, []record.Attr{
		{Key: "provider", Value: p.DID}, {Key: "keysVersion", Value: strconv.FormatUint(p.KeysVersion, 10)},
		{Key: "keys", Value: strconv.Itoa(len(p.Keys))}, {Key: "threshold", Value: strconv.Itoa(p.Quorum())},
	})
}

// cosigners checks the signatures of a provider's operation after the
// first (each by a current admin key of prov; op.Decode saw to it that
// they name prov's keys, each once), then that the operation carries the
// provider's threshold of them.
func (x *executor) cosigners(prov *record.Provider) error {
	// Distinct keys, not ids: a set that holds one key under two ids
	// (refused since op.ValidateKeySet checks it) still counts it once.
	first, _ := prov.Key(x.s.Kid.Fragment)
	seen := map[string]bool{string(first.Pub): true}
	for _, c := range x.s.Cosigners {
		k, ok := prov.Key(c.Kid.Fragment)
		if !ok {
			return op.Reject(op.ReasonUnknownSigner, c.Kid.String()+" is not a current key")
		}
		if seen[string(k.Pub)] {
			return op.Reject(op.ReasonDuplicateSigner, c.Kid.String()+" is a key that signed already")
		}
		seen[string(k.Pub)] = true
		pk, err := k.Public()
		if err != nil {
			return op.Reject(op.ReasonInternal, "stored key does not parse")
		}
		if err := c.Msg.Verify(pk, nil); err != nil {
			return op.Reject(op.ReasonBadSignature, "signature does not verify with "+c.Kid.String())
		}
	}
	if n := 1 + len(x.s.Cosigners); n < prov.Quorum() {
		return op.Reject(op.ReasonBelowThreshold, fmt.Sprintf("%d of %s's admin keys signed; its operations need %d", n, prov.DID, prov.Quorum()))
	}
	return nil
}

// singleSigner refuses an operation of an entity that carries more than
// one signature: only a provider's threshold of keys signs together.
func (x *executor) singleSigner() error {
	if len(x.s.Cosigners) > 0 {
		return op.Reject(op.ReasonUnauthorized, "an entity's operation carries one signature (COSE_Sign1)")
	}
	return nil
}

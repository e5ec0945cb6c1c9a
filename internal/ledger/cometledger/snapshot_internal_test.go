package cometledger

import (
	"bytes"
	"context"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/bias-iot/bias/internal/ledger/core"
)

// answers is a core.Snapshotter that answers what it is told to and
// keeps what it was asked.
type answers struct {
	list    []core.Snapshot
	chunk   []byte
	offer   core.OfferResult
	apply   core.ApplyResult
	offered core.Snapshot
	appHash []byte
	asked   [3]any // height, format, index of the last chunk asked for
	sender  string
}

func (a *answers) Snapshots(context.Context) ([]core.Snapshot, error) { return a.list, nil }
func (a *answers) SnapshotChunk(_ context.Context, h uint64, f, i uint32) ([]byte, error) {
	a.asked = [3]any{h, f, i}
	return a.chunk, nil
}
func (a *answers) RestoreOffer(_ context.Context, s core.Snapshot, appHash []byte) (core.OfferResult, error) {
	a.offered, a.appHash = s, appHash
	return a.offer, nil
}
func (a *answers) RestoreChunk(_ context.Context, _ uint32, _ []byte, sender string) (core.ApplyResult, error) {
	a.sender = sender
	return a.apply, nil
}

// TestShimSnapshots: the shim hands ABCI's four snapshot calls to the
// core.Snapshotter and maps every answer back; an answer it does not
// know is an error, a request without a snapshot is rejected.
func TestShimSnapshots(t *testing.T) {
	ctx := t.Context()
	snap := core.Snapshot{Height: 10, Format: 1, Chunks: 2, Hash: []byte{1}, Metadata: []byte{2}}
	a := &answers{list: []core.Snapshot{snap}, chunk: []byte("chunk")}
	s := &shim{Application: abci.NewBaseApplication(), snap: a}

	list, err := s.ListSnapshots(ctx, &abci.RequestListSnapshots{})
	if err != nil || len(list.Snapshots) != 1 || list.Snapshots[0].Height != 10 || list.Snapshots[0].Chunks != 2 || !bytes.Equal(list.Snapshots[0].Metadata, []byte{2}) {
		t.Fatalf("list: %+v %v", list, err)
	}
	c, err := s.LoadSnapshotChunk(ctx, &abci.RequestLoadSnapshotChunk{Height: 10, Format: 1, Chunk: 1})
	if err != nil || string(c.Chunk) != "chunk" || a.asked != [3]any{uint64(10), uint32(1), uint32(1)} {
		t.Fatalf("load: %+v %v %v", c, err, a.asked)
	}
	for r, want := range offerResults {
		a.offer = r
		resp, err := s.OfferSnapshot(ctx, &abci.RequestOfferSnapshot{Snapshot: &abci.Snapshot{Height: 10, Format: 1, Chunks: 2, Hash: []byte{1}, Metadata: []byte{2}}, AppHash: []byte{9}})
		if err != nil || resp.Result != want || a.offered.Height != 10 || !bytes.Equal(a.appHash, []byte{9}) {
			t.Fatalf("offer %d: %+v %v", r, resp, err)
		}
	}
	for r, want := range applyResults {
		a.apply = core.ApplyResult{Outcome: r, Refetch: []uint32{1}, RejectSenders: []string{"p"}}
		resp, err := s.ApplySnapshotChunk(ctx, &abci.RequestApplySnapshotChunk{Index: 1, Chunk: []byte("x"), Sender: "peer"})
		if err != nil || resp.Result != want || len(resp.RefetchChunks) != 1 || resp.RejectSenders[0] != "p" || a.sender != "peer" {
			t.Fatalf("apply %d: %+v %v", r, resp, err)
		}
	}
	if resp, err := s.OfferSnapshot(ctx, &abci.RequestOfferSnapshot{}); err != nil || resp.Result != abci.ResponseOfferSnapshot_REJECT {
		t.Fatalf("fail/no-snapshot: %+v %v", resp, err)
	}
	a.offer = 0
	if _, err := s.OfferSnapshot(ctx, &abci.RequestOfferSnapshot{Snapshot: &abci.Snapshot{}}); err == nil {
		t.Fatal("fail/unknown-offer-answer: no error")
	}
	a.apply = core.ApplyResult{}
	if _, err := s.ApplySnapshotChunk(ctx, &abci.RequestApplySnapshotChunk{}); err == nil {
		t.Fatal("fail/unknown-apply-answer: no error")
	}
	if len(offerResults) != 5 || len(applyResults) != 5 {
		t.Fatal("an answer of core without its ABCI result")
	}
	// Without a Snapshotter: the application's own (here the base's: none).
	plain := &shim{Application: abci.NewBaseApplication()}
	if list, err := plain.ListSnapshots(ctx, &abci.RequestListSnapshots{}); err != nil || len(list.Snapshots) != 0 {
		t.Fatalf("without a Snapshotter: %+v %v", list, err)
	}
}

// TestStateSyncValidate: state sync wants a Snapshotter and a 32-byte
// trusted hash.
func TestStateSyncValidate(t *testing.T) {
	ok := StateSync{Enable: true, TrustHash: make([]byte, 32)}
	if err := ok.validate(&answers{}); err != nil {
		t.Fatal(err)
	}
	if err := ok.validate(nil); err == nil {
		t.Fatal("fail/no-snapshotter")
	}
	bad := ok
	bad.TrustHash = []byte{1}
	if err := bad.validate(&answers{}); err == nil {
		t.Fatal("fail/short-hash")
	}
	if err := (StateSync{}).validate(nil); err != nil {
		t.Fatal(err)
	}
}

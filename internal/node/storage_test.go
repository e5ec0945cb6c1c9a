package node_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/proof"
	"github.com/bias-iot/bias/sdk"
)

// TestStorageRetention: a node that keeps its last 4 blocks and state
// versions, after an entity went through 8 versions in as many blocks:
// versioned resolution of every version still works (it reads the
// entity's own history); proofs at the kept heights verify against the
// app hash of the next header; a read below them is a 400 invalid-field
// that says the height is pruned, and so is a stream of blocks from the
// first one; all of it again after a restart.
func TestStorageRetention(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	quiet(h) // stop between heights: the restart signs no proposal twice
	h.Stop()
	h.Config.Storage = node.StorageConfig{RetainBlocks: 4, KeepVersions: 4}
	h.Restart()

	e := h.RegisterValidated(op.KindDevice, cose.AlgEdDSA)
	for v := uint64(2); v < 8; v++ {
		h.MustSubmit(h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: e.DID.String(), Version: v,
			Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", e.Signer.Public())}, Attrs: []op.Attr{{K: "n", V: fmt.Sprint(v)}}}}}))
	}
	quiet(h) // the last proof block
	check := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		latest := h.Node.Height()
		for v := uint64(1); v <= 8; v++ {
			ev, err := h.Client.EntityVersion(ctx, e.DID.String(), v)
			if err != nil || ev.Version != v {
				t.Fatalf("version %d: %+v %v", v, ev, err)
			}
			res, err := h.Client.Resolve(ctx, e.DID.String(), did.Options{VersionID: v})
			if err != nil || res.DocumentMetadata.VersionID != fmt.Sprint(v) {
				t.Fatalf("resolve version %d: %+v %v", v, res, err)
			}
		}
		for height := latest - 3; height < latest; height++ {
			ev, err := h.Client.EntityProof(ctx, e.DID.String(), height)
			if err != nil {
				t.Fatalf("proof at %d of %d: %v", height, latest, err)
			}
			hdr, err := h.Client.Header(ctx, height+1)
			if err != nil {
				t.Fatal(err)
			}
			appHash, _ := hex.DecodeString(hdr.AppHash)
			if p := ev.Proof; p == nil || p.Height != height || proof.Verify(appHash, p.Key, p.Value, p.Proof) != nil {
				t.Fatalf("proof at %d does not verify against header %d: %+v", height, height+1, ev.Proof)
			}
		}
		for _, height := range []int64{1, latest - 4} {
			_, err := h.Client.EntityProof(ctx, e.DID.String(), height)
			var ae *sdk.APIError
			if !errors.As(err, &ae) || ae.Status != 400 || ae.Reason != string(op.ReasonInvalidField) || !strings.Contains(ae.Message, "pruned") {
				t.Fatalf("read at pruned height %d of %d: %v", height, latest, err)
			}
		}
		if _, err := h.Node.Ledger().Watch(ctx, 1); !errors.Is(err, ledger.ErrNotFound) {
			t.Fatalf("blocks from 1 with blocks kept from %d: %v", latest-3, err)
		}
	}
	check()
	h.Stop()
	h.Restart()
	check()
}

// TestStorageConfig: each span is 0 (all) or at least node.MinRetain; a
// named case for each refusal.
func TestStorageConfig(t *testing.T) {
	for _, c := range []struct {
		name string
		s    node.StorageConfig
		want string // "" for a valid one
	}{
		{"ok/default", node.StorageConfig{}, ""},
		{"ok/min", node.StorageConfig{RetainBlocks: node.MinRetain, KeepVersions: node.MinRetain}, ""},
		{"fail/retain-one", node.StorageConfig{RetainBlocks: 1}, "storage.retainBlocks"},
		{"fail/retain-negative", node.StorageConfig{RetainBlocks: -5}, "storage.retainBlocks"},
		{"fail/keep-one", node.StorageConfig{KeepVersions: 1}, "storage.keepVersions"},
		{"fail/keep-negative", node.StorageConfig{KeepVersions: -1}, "storage.keepVersions"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := node.Test(t.TempDir())
			cfg.Storage = c.s
			err := cfg.Validate()
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("%+v: %v, want %q", c.s, err, c.want)
			}
		})
	}
}

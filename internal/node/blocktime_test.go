package node_test

import (
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// TestCreatedAfterIdle: the node (no empty blocks) sits idle for longer
// than the time lag it allows, then registers a device. The device's
// created time, in its record and in its resolution, lies within a few
// seconds of the moment the registration committed, not at the last
// commit before the idle spell (issue 10, item 11: registered at
// 07:35:36, shown as created 07:35:30).
func TestCreatedAfterIdle(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	time.Sleep(7 * time.Second)
	dev := h.Register(op.KindDevice, h.Provider.DID, cose.AlgEdDSA)
	seen := time.Now()
	e := h.Entity(dev.DID)
	if lag := seen.Sub(e.Created); lag > 3*time.Second || lag < 0 {
		t.Fatalf("registered at %s, created %s: lag %s", seen.Format(time.StampMilli), e.Created.Format(time.StampMilli), lag)
	}
	res, err := sdk.NewClient(h.Node.URL()).Resolve(t.Context(), dev.DID.String(), did.Options{})
	if err != nil {
		t.Fatal(err)
	}
	created, err := time.Parse(time.RFC3339, res.DocumentMetadata.Created)
	if err != nil {
		t.Fatal(err)
	}
	// The metadata shows seconds.
	if lag := seen.Sub(created); lag > 4*time.Second || lag < -time.Second {
		t.Fatalf("registered at %s, resolution says created %s", seen.Format(time.StampMilli), res.DocumentMetadata.Created)
	}
}

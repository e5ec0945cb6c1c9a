package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/api"
	"github.com/bias-iot/bias/internal/ledger/cometledger"
	"github.com/bias-iot/bias/internal/ledger/cometledger/cometledgertest"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// The API asks the embedded ledger for readiness.
var _ api.Readiness = (*cometledger.Ledger)(nil)

// TestWedgedValidatorRefusesReadiness (issue 18): a single validator that
// crashed after precommitting a block it had not stored yet, and whose
// consensus WAL was then lost, restarts at round 0 of that height; its
// signer refuses to sign anything there (it already precommitted), and
// with no other validator nothing ever commits. The node stays alive
// (/healthz 200) but refuses readiness (/readyz 503 unhealthy).
func TestWedgedValidatorRefusesReadiness(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	h.Stop()
	stuck := cometledgertest.LoseWAL(t, h.Home, cometledgertest.Precommit)
	h.Restart()

	// Liveness: the process and its ledger answer.
	if code, _, body := get(t, h, "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	// An operation arrives: the validator cannot propose nor vote.
	s := nodetest.NewKey(t, cose.AlgEdDSA)
	tx, _ := h.SignRegister(s, h.RegisterPayload(op.KindDevice, h.Provider.DID, s))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	submitted := make(chan error, 1)
	go func() {
		_, err := h.Client.Submit(ctx, tx)
		submitted <- err
	}()

	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _, body := get(t, h, "/readyz")
		if code == http.StatusServiceUnavailable {
			var eb sdk.ErrorBody
			if err := json.Unmarshal(body, &eb); err != nil || eb.Reason != "unhealthy" {
				t.Fatalf("/readyz: %d %s", code, body)
			}
			break
		}
		if code != http.StatusOK || time.Now().After(deadline) {
			t.Fatalf("/readyz of a validator wedged at height %d: %d %s", stuck, code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := h.Node.Ledger().(api.Readiness).Ready(t.Context()); !errors.Is(err, cometledger.ErrWedged) {
		t.Fatalf("ledger readiness: %v", err)
	}
	// Wedged indeed: nothing committed, and the node is still alive.
	select {
	case err := <-submitted:
		t.Fatalf("submission returned while wedged: %v", err)
	default:
	}
	if got := h.Node.Height(); got >= stuck {
		t.Fatalf("height %d committed; the validator was to be wedged at %d", got, stuck)
	}
	if code, _, body := get(t, h, "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz while wedged: %d %s", code, body)
	}
	cancel()
	if err := <-submitted; !errors.Is(err, context.Canceled) {
		t.Fatalf("submission: %v", err)
	}
}

package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/api"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// heldLedger holds each submission until the test lets it through: the
// API's wait for it ends first (a 504), and the submission goes on to
// the real ledger after, as one that a loaded network commits late.
type heldLedger struct {
	ledger.Ledger
	gate chan struct{}      // a receive lets one submission through
	done chan ledger.Result // its result, once committed
}

func (l *heldLedger) Submit(ctx context.Context, tx []byte) (*ledger.Result, error) {
	later := context.WithoutCancel(ctx) // it outlives the request
	go func() {
		<-l.gate
		res, err := l.Ledger.Submit(later, tx)
		if err != nil {
			res = &ledger.Result{Log: err.Error(), Code: 1}
		}
		l.done <- *res
	}()
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestSubmitTimeoutLookup: a submission whose block comes after the API
// stopped waiting is a 504 timeout whose body names its hash and a
// height to look it up from; GET /v1/operations/{hash} finds it once
// committed (with what the submission would have answered) and not
// before (404 with where to ask next); a contract deployment, whose
// resubmission would be refused as replayed, is found committed too.
// Refusals of the lookup are named.
func TestSubmitTimeoutLookup(t *testing.T) {
	t.Parallel()
	var held *heldLedger
	a := newAPIWith(t, func(c *api.Config) {
		held = &heldLedger{Ledger: c.Ledger, gate: make(chan struct{}), done: make(chan ledger.Result, 1)}
		c.Ledger, c.SubmitTimeout = held, time.Millisecond
	})
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		tx   []byte
	}{
		{"registration", registration(t, a)},
		{"deployment", a.sign(t, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{Provider: a.kid.Base().String(), Name: "late", Kind: op.ContractRegistration, Source: `"pending"`}})},
	} {
		sum := sha256.Sum256(tc.tx)
		hash := hex.EncodeToString(sum[:])
		_, err := a.c.Submit(ctx, tc.tx)
		var ae *sdk.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusGatewayTimeout || ae.Reason != string(op.ReasonTimeout) || ae.Hash != hash || ae.From < 1 ||
			!strings.Contains(ae.Message, "/v1/operations/"+hash) {
			t.Fatalf("%s: a late submission: %+v", tc.name, err)
		}
		from := ae.From
		_, err = a.c.Operation(ctx, hash, from)
		if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || ae.Reason != string(api.ReasonNotFound) || ae.From < from {
			t.Fatalf("%s: looked up before its block: %+v", tc.name, err)
		}
		held.gate <- struct{}{}
		res := <-held.done
		if res.Code != 0 {
			t.Fatalf("%s: the late submission: %+v", tc.name, res)
		}
		got, err := a.c.Operation(ctx, hash, from)
		if err != nil || got.Status != "committed" || got.Hash != hash || got.Height != res.Height {
			t.Fatalf("%s: looked up after its block %d: %+v %v", tc.name, res.Height, got, err)
		}
		if got, err := a.c.Operation(ctx, hash, 0); err != nil || got.Height != res.Height {
			t.Fatalf("%s: looked up in the last blocks: %+v %v", tc.name, got, err)
		}
		if _, err := a.c.Operation(ctx, hash, res.Height+1); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
			t.Fatalf("%s: looked up after its block: %v", tc.name, err)
		}
	}
	for _, tc := range []struct{ name, hash, from string }{
		{"fail/short-hash", "abcd", ""},
		{"fail/upper-case-hash", strings.Repeat("AB", 32), ""},
		{"fail/from-zero", strings.Repeat("ab", 32), "0"},
	} {
		path := "/v1/operations/" + tc.hash
		if tc.from != "" {
			path += "?from=" + tc.from
		}
		status, body := get(t, a.c.URL+path)
		if status != http.StatusBadRequest || !strings.Contains(body, string(op.ReasonInvalidField)) {
			t.Errorf("%s: %d %s", tc.name, status, body)
		}
	}
}

// registration signs a new device's registration under a's provider.
func registration(t *testing.T, a *apiServer) []byte {
	t.Helper()
	s, _, err := cose.GenerateKey(cose.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	tx, _, err := op.SignRegister(s, "k1", op.Payload{Network: network, Register: &op.Register{Kind: op.KindDevice, Provider: a.kid.Base().String(),
		Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}}}})
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// droppingLedger gives up on every submission, as the EVM engine does
// when no block takes its anchor within DropAfter blocks.
type droppingLedger struct{ ledger.Ledger }

func (droppingLedger) Submit(context.Context, []byte) (*ledger.Result, error) {
	return nil, fmt.Errorf("engine: %w", ledger.ErrDropped)
}

// TestSubmitDropped: a submission the ledger dropped is a 504 timeout that
// names its hash and where to look it up, as a late one, not a 500.
func TestSubmitDropped(t *testing.T) {
	t.Parallel()
	a := newAPIWith(t, func(c *api.Config) { c.Ledger = droppingLedger{c.Ledger} })
	tx := registration(t, a)
	sum := sha256.Sum256(tx)
	hash := hex.EncodeToString(sum[:])
	_, err := a.c.Submit(t.Context(), tx)
	var ae *sdk.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusGatewayTimeout || ae.Reason != string(op.ReasonTimeout) || ae.Hash != hash ||
		!strings.Contains(ae.Message, "/v1/operations/"+hash) || !strings.Contains(ae.Message, "again") {
		t.Fatalf("a dropped submission: %+v", err)
	}
}

package node_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

type decisionEvent struct {
	ID string
	D  authn.Decision
}

func decisionStream(t *testing.T, h *nodetest.Harness, query, lastID string) <-chan decisionEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.Node.URL()+"/v1/authn/events?"+query, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("decision stream: %v %v", resp, err)
	}
	out := make(chan decisionEvent, 16)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev decisionEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[4:]
			case strings.HasPrefix(line, "data: "):
				json.Unmarshal([]byte(line[6:]), &ev.D)
			case line == "" && ev.ID != "":
				out <- ev
				ev = decisionEvent{}
			}
		}
	}()
	return out
}

// TestDecisionEvents: a provider follows the node's authentication
// decisions about its device, and resumes after the last one it saw.
func TestDecisionEvents(t *testing.T) {
	h := nodetest.Start(t)
	svcE := h.Register(op.KindService, h.Provider.DID, cose.AlgEdDSA)
	devE := h.Register(op.KindDevice, h.Provider.DID, cose.AlgEdDSA)
	for _, e := range []nodetest.Entity{svcE, devE} {
		if err := decide(t, h, op.TypeValidate, e.DID, 1); err != nil {
			t.Fatal(err)
		}
	}
	events := decisionStream(t, h, "did="+url.QueryEscape(devE.DID.String()), "")
	view := sdk.View{C: h.Client}
	svc := &sdk.Service{Signer: svcE.Signer, Kid: svcE.DID.WithFragment("k1"), View: view}
	dev := &sdk.Device{Signer: devE.Signer, Kid: devE.DID.WithFragment("k1"), View: view}
	ch, _ := svc.Challenge()
	p, _ := dev.Answer(t.Context(), ch)
	for i := 0; i < 2; i++ { // accepted, then the replay refused
		if _, err := h.Client.Verify(t.Context(), ch, p); err != nil {
			t.Fatal(err)
		}
	}
	recv := func(c <-chan decisionEvent) decisionEvent {
		select {
		case ev := <-c:
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no decision event")
		}
		return decisionEvent{}
	}
	first, second := recv(events), recv(events)
	if !first.D.OK || second.D.Reason != authn.FailReplayedNonce || first.D.Device != devE.DID.String() {
		t.Fatalf("decisions: %+v %+v", first, second)
	}
	resumed := decisionStream(t, h, "", first.ID)
	if ev := recv(resumed); ev.ID != second.ID || ev.D.Reason != authn.FailReplayedNonce {
		t.Fatalf("resumed at %+v, want %s", ev, second.ID)
	}
}

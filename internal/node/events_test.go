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

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
)

type sseEvent struct {
	ID   string
	Data struct {
		Height  int64  `json:"height"`
		Op      string `json:"op"`
		DID     string `json:"did"`
		Status  string `json:"status"`
		Version uint64 `json:"version"`
	}
}

// stream opens GET /v1/events and returns a channel of its events.
func stream(t *testing.T, h *nodetest.Harness, query, lastID string) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.Node.URL()+"/v1/events?"+query, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := make(chan sseEvent, 64)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[4:]
			case strings.HasPrefix(line, "data: "):
				json.Unmarshal([]byte(line[6:]), &ev.Data)
			case line == "" && ev.ID != "":
				out <- ev
				ev = sseEvent{}
			}
		}
	}()
	return out
}

func next(t *testing.T, ch <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("event stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return sseEvent{}
}

// TestEventStream: committed entity events stream from a height, filtered
// by DID, and a reconnecting client resumes after its last event with no
// repeat and no gap.
func TestEventStream(t *testing.T) {
	h := nodetest.Start(t)
	other := h.Register(op.KindDevice, h.Provider.DID, cose.AlgEdDSA)
	dev := h.Register(op.KindDevice, h.Provider.DID, cose.AlgEdDSA)
	if err := decide(t, h, op.TypeValidate, dev.DID, 1); err != nil {
		t.Fatal(err)
	}
	ch := stream(t, h, "from=1&did="+url.QueryEscape(dev.DID.String()), "")
	reg := next(t, ch)
	val := next(t, ch)
	if reg.Data.Op != op.TypeRegister || val.Data.Op != op.TypeValidate || val.Data.Status != op.StatusValidated || reg.Data.DID != dev.DID.String() {
		t.Fatalf("events: %+v %+v", reg, val)
	}
	// Live: a revocation arrives on the open stream.
	if err := decide(t, h, op.TypeRevoke, dev.DID, 2); err != nil {
		t.Fatal(err)
	}
	rev := next(t, ch)
	if rev.Data.Op != op.TypeRevoke || rev.Data.Status != op.StatusRevoked {
		t.Fatalf("live event: %+v", rev)
	}
	// Resume after the validation: the revocation comes next, once.
	resumed := stream(t, h, "did="+url.QueryEscape(dev.DID.String()), val.ID)
	if ev := next(t, resumed); ev.ID != rev.ID || ev.Data.Op != op.TypeRevoke {
		t.Fatalf("resumed at %+v, want %s", ev, rev.ID)
	}
	// The unfiltered stream carries the other device too.
	all := stream(t, h, "from=1", "")
	if ev := next(t, all); ev.Data.DID != other.DID.String() {
		t.Fatalf("first event of the unfiltered stream: %+v", ev)
	}
}

package api_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bias-iot/bias/internal/api"
	"github.com/bias-iot/bias/op"
)

// openStream opens GET path as a server-sent event stream from the local
// address from (127.0.0.x), and returns the status and, for a 200, a
// function that reads the next event's data line.
func openStream(ctx context.Context, t *testing.T, base, path, from string) (int, func() string) {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	sc := bufio.NewScanner(resp.Body)
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				lines <- data
			}
		}
	}()
	return http.StatusOK, func() string {
		select {
		case l := <-lines:
			return l
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
		}
		return ""
	}
}

// TestEventStreamsBounded (issue 18, finding 7): an event stream starts
// from now, not from the whole history; it replays at most the last
// MaxReplayBlocks blocks, older history being paged; and the streams
// open at once are bounded per client and in total.
func TestEventStreamsBounded(t *testing.T) {
	t.Parallel()
	a := newAPIWith(t, func(c *api.Config) { c.MaxStreams, c.MaxStreamsPerClient, c.MaxReplayBlocks = 3, 2, 4 })
	var old []string
	for range 4 {
		old = append(old, a.register(t, op.KindDevice).id.String())
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// From now by default: the first event is of what comes next.
	code, next := openStream(ctx, t, a.c.URL, "/v1/events", "127.0.0.1")
	if code != 200 {
		t.Fatalf("a stream: %d", code)
	}
	fresh := a.register(t, op.KindDevice)
	if got := next(); !strings.Contains(got, fresh.id.String()) {
		t.Fatalf("the first event of a new stream is %s, want the next registration's", got)
	}
	// One more from this client is its second (the limit); a third is not.
	if code, _ := openStream(ctx, t, a.c.URL, "/v1/authn/events", "127.0.0.1"); code != 200 {
		t.Fatalf("the client's second stream: %d", code)
	}
	if code, _ := openStream(ctx, t, a.c.URL, "/v1/events", "127.0.0.1"); code != http.StatusTooManyRequests {
		t.Fatalf("the client's third stream: %d, want 429", code)
	}
	// Another client gets the last one of the node's three; a fourth
	// client none.
	if code, _ := openStream(ctx, t, a.c.URL, "/v1/events", "127.0.0.2"); code != 200 {
		t.Fatalf("another client's stream: %d", code)
	}
	if code, _ := openStream(ctx, t, a.c.URL, "/v1/events", "127.0.0.3"); code != http.StatusTooManyRequests {
		t.Fatalf("a stream past the node's total: %d, want 429", code)
	}
	// Replay reaches back MaxReplayBlocks blocks, not to the genesis.
	for _, path := range []string{"/v1/events?from=1", "/v1/events/history?limit=0"} {
		if status, reason := get(t, a.c.URL+path); status != 400 || reason != string(op.ReasonInvalidField) {
			t.Errorf("GET %s: %d %s, want 400 invalid-field", path, status, reason)
		}
	}
	// History pages: every event, once, in order, two at a time.
	var seen []string
	after := ""
	for page := 0; page < 20; page++ {
		p, err := a.c.EventHistory(t.Context(), after, 1, 2, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Events) > 2 {
			t.Fatalf("a page of %d events, limit 2", len(p.Events))
		}
		for _, e := range p.Events {
			if e.Op == op.TypeRegister {
				seen = append(seen, e.DID)
			}
		}
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	want := append(old, fresh.id.String())
	if strings.Join(seen, " ") != strings.Join(want, " ") {
		t.Fatalf("history pages give registrations %v, want %v", seen, want)
	}
}

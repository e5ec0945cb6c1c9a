package node_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/sdk"
)

// readyz asks url's /readyz: the status and the error message (or "").
func readyz(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url + "/readyz") //nolint:noctx // a test's probe
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, ""
	}
	var eb sdk.ErrorBody
	if err := json.Unmarshal(b, &eb); err != nil || eb.Reason != "unhealthy" {
		t.Fatalf("/readyz: %d %s", resp.StatusCode, b)
	}
	return resp.StatusCode, eb.Message
}

// awaitReady polls url's /readyz until it answers want with a message
// that holds each of words, or the deadline.
func awaitReady(t *testing.T, url string, want int, words ...string) {
	t.Helper()
	awaitReadyWithin(t, 90*time.Second, url, want, words...)
}

// awaitReadyWithin is awaitReady with its own deadline.
func awaitReadyWithin(t *testing.T, within time.Duration, url string, want int, words ...string) string {
	t.Helper()
	deadline := time.Now().Add(within)
	var code int
	var msg string
	for time.Now().Before(deadline) {
		code, msg = readyz(t, url)
		ok := code == want
		for _, w := range words {
			ok = ok && strings.Contains(msg, w)
		}
		if ok {
			return msg
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s/readyz: %d %q, want %d with %q", url, code, msg, want, words)
	return ""
}

// TestReadiness runs a four-validator network and a full node in
// process. The full node, started before any validator, catches up and is
// not ready; once the validators run, every node is ready. With two
// validators stopped, the survivors see half the voting power: /readyz
// is 503 with the reason (no quorum), while /livez stays 200; after the
// two restart, the survivors are ready again.
func TestReadiness(t *testing.T) {
	t.Parallel()
	nodes, err := node.InitTestnet(node.TestnetConfig{
		Dir: t.TempDir(), Network: "testnet", Validators: 4, FullNodes: 1, Host: "127.0.0.1",
		HTTPBase: freePorts(t, 5), P2PBase: freePorts(t, 5), TimeoutCommit: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	running := make([]*node.Node, len(nodes))
	start := func(i int) {
		n, err := node.Start(nodes[i].Config, nodetest.Logger(t))
		if err != nil {
			t.Fatalf("start node %d: %v", i, err)
		}
		running[i] = n
	}
	stop := func(i int) {
		if running[i] != nil {
			if err := running[i].Close(); err != nil {
				t.Errorf("close node %d: %v", i, err)
			}
			running[i] = nil
		}
	}
	t.Cleanup(func() {
		for i := range running {
			stop(i)
		}
	})
	url := func(i int) string { return "http://" + nodes[i].Config.HTTP }

	full := len(nodes) - 1
	start(full)
	awaitReady(t, url(full), http.StatusServiceUnavailable, "catching up")
	for i := range 4 {
		start(i)
	}
	for i := range nodes {
		awaitReady(t, url(i), http.StatusOK)
	}
	// The network is whole (each validator has its four peers) before two
	// of it stop: the survivors then see the two go.
	for i := range 4 {
		deadline := time.Now().Add(90 * time.Second)
		for sample(scrape(t, url(i)+"/metrics"), "cometbft_p2p_peers") < 4 {
			if time.Now().After(deadline) {
				t.Fatalf("node %d never had its four peers", i)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	stop(2)
	stop(3)
	for _, i := range []int{0, 1} {
		// A stopped validator is seen while its peer connection stands: a
		// connection that closed at once is gone at once, one that did not
		// lasts until CometBFT's ping and pong time it out (60 s + 45 s).
		msg := awaitReadyWithin(t, 150*time.Second, url(i), http.StatusServiceUnavailable, "not ready: ")
		// The reason is the want of quorum; or, when operations wait, the
		// stall it causes, once the stall window is past.
		if !strings.Contains(msg, "no quorum: this node sees 2 of 4 validators, holding 20 of 40 voting power") && !strings.Contains(msg, "no block has committed") {
			t.Fatalf("node %d: %s", i, msg)
		}
		t.Logf("node %d: %s", i, msg)
		resp, err := http.Get(url(i) + "/livez") //nolint:noctx // a test's probe
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("node %d /livez without quorum: %d", i, resp.StatusCode)
		}
	}

	start(2)
	start(3)
	for i := range 4 {
		// A survivor refuses a restarted validator's connection while it
		// still holds the stale one (duplicate peer id), so this waits out
		// the same ping and pong timeout.
		awaitReadyWithin(t, 180*time.Second, url(i), http.StatusOK)
	}
}

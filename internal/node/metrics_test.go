package node_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// scrape reads url's metrics in the Prometheus text format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url) //nolint:noctx // a test's scrape
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	// No label holds a DID, whatever the traffic was.
	if bytes.Contains(b, []byte(`"did:`)) {
		t.Fatalf("a label holds a DID:\n%s", b)
	}
	return fams
}

// sample is the value of the sample of family name whose labels include
// labels (a counter, gauge, or a histogram's count); 0 when absent.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

// TestMetrics: a node's /metrics holds the Go and process collectors,
// CometBFT's instrumentation (at the node's height) and bias's own
// metrics, which move by what the traffic did: operations submitted and
// committed by type and reason, entities by kind and status, decisions
// and resolutions with their latencies.
func TestMetrics(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	url := h.Node.URL() + "/metrics"
	before := scrape(t, url)

	dev := h.RegisterValidated(op.KindDevice, cose.AlgEdDSA)
	// A refused submission: not an operation at all.
	if _, err := h.Submit([]byte("junk")); err == nil {
		t.Fatal("junk committed")
	}
	// A decision: a malformed proof is denied.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if d, err := h.Client.Verify(ctx, []byte("x"), []byte("y")); err != nil || d.OK {
		t.Fatalf("verify: %+v %v", d, err)
	}
	// A resolution.
	code, _, _ := get(t, h, "/1.0/identifiers/"+dev.DID.String())
	if code != http.StatusOK {
		t.Fatalf("resolve: %d", code)
	}
	st0, err := h.Client.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after := scrape(t, url)
	st, err := h.Client.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// CometBFT's instrumentation is in the same registry (some of its
	// gauges appear once a block set them: after is after blocks).
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "cometbft_consensus_height", "cometbft_consensus_validators", "cometbft_mempool_size"} {
		if after[name] == nil {
			t.Errorf("no %s", name)
		}
	}

	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"bias_operations_submitted_total", []string{"type", op.TypeRegister, "result", "accepted", "reason", "ok"}, 1},
		{"bias_operations_submitted_total", []string{"type", op.TypeValidate, "result", "accepted", "reason", "ok"}, 1},
		{"bias_operations_submitted_total", []string{"type", "other", "result", "refused", "reason", string(op.ReasonMalformed)}, 1},
		{"bias_operations_committed_total", []string{"type", op.TypeRegister, "result", "applied", "reason", "ok"}, 1},
		{"bias_operations_committed_total", []string{"type", op.TypeValidate, "result", "applied", "reason", "ok"}, 1},
		{"bias_entities", []string{"kind", op.KindDevice, "status", op.StatusValidated}, 1},
		{"bias_authn_decisions_total", []string{"endpoint", "verify", "result", "deny", "reason", "fail/malformed"}, 1},
		{"bias_authn_decision_duration_seconds", []string{"endpoint", "verify", "result", "deny"}, 1},
		{"bias_resolutions_total", []string{"outcome", "found"}, 1},
		{"bias_resolution_duration_seconds", []string{"outcome", "found"}, 1},
		{"bias_http_requests_total", []string{"route", "POST /v1/operations", "code", "200"}, 2},
	} {
		if got := sample(after, c.name, c.labels...) - sample(before, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// The entity moved from pending to validated: no pending one is left.
	if got := sample(after, "bias_entities", "kind", op.KindDevice, "status", op.StatusPending); got != 0 {
		t.Errorf("pending devices: %v", got)
	}
	// CometBFT's height is the one consensus works on: one above the
	// node's last block once consensus moved on, which it does a moment
	// after the block is stored; blocks may commit between the reads (the
	// proof block after a block with operations).
	if hm := sample(after, "cometbft_consensus_height"); hm < float64(st0.Height) || hm > float64(st.Height)+1 {
		t.Errorf("cometbft_consensus_height %v, status height %d before the scrape and %d after", hm, st0.Height, st.Height)
	}
}

// TestMetricsListener: with Config.Metrics the metrics have a listener of
// their own (the API's /metrics serves them too); with NoMetrics there are
// none, and the node works as before.
func TestMetricsListener(t *testing.T) {
	t.Parallel()
	start := func(tweak func(*node.Config)) *node.Node {
		cfg := node.Test(t.TempDir())
		if _, err := node.Init(cfg); err != nil {
			t.Fatal(err)
		}
		tweak(&cfg)
		n, err := node.Start(cfg, nodetest.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.Close() })
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		if err := n.WaitHeight(ctx, 1); err != nil {
			t.Fatal(err)
		}
		return n
	}
	n := start(func(c *node.Config) { c.Metrics = "127.0.0.1:0" })
	if n.MetricsAddr() == "" || n.MetricsAddr() == n.HTTPAddr() {
		t.Fatalf("metrics at %q, API at %q", n.MetricsAddr(), n.HTTPAddr())
	}
	own := scrape(t, "http://"+n.MetricsAddr()+"/metrics")
	if own["cometbft_consensus_height"] == nil || own["bias_ready"] == nil {
		t.Fatalf("the metrics listener lacks metrics: %d families", len(own))
	}
	scrape(t, n.URL()+"/metrics")

	off := start(func(c *node.Config) { c.NoMetrics = true })
	resp, err := http.Get(off.URL() + "/metrics") //nolint:noctx // a test
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/metrics with metrics off: %d", resp.StatusCode)
	}
	if _, err := sdk.NewClient(off.URL()).Status(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestEntitiesCountedAtStart: after a restart the entity gauges come
// from the count of the kept state, which runs in the background (the
// node serves meanwhile), with the moves of later blocks on top.
func TestEntitiesCountedAtStart(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	h.RegisterValidated(op.KindDevice, cose.AlgEdDSA)
	h.RegisterValidated(op.KindDevice, cose.AlgEdDSA)
	h.Register(op.KindDevice, h.Provider.DID, cose.AlgEdDSA)
	h.Stop()
	h.Restart()
	url := h.Node.URL() + "/metrics"
	want := func(validated, pending float64) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			fams := scrape(t, url)
			v := sample(fams, "bias_entities", "kind", op.KindDevice, "status", op.StatusValidated)
			p := sample(fams, "bias_entities", "kind", op.KindDevice, "status", op.StatusPending)
			if v == validated && p == pending {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("devices validated %v, pending %v; want %v, %v", v, p, validated, pending)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	want(2, 1)
	h.RegisterValidated(op.KindDevice, cose.AlgEdDSA)
	want(3, 1)
}

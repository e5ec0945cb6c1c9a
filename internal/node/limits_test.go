package node_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/sdk"
)

// TestHeadersTooLargeIsJSON (finding 17b): a request whose header is over
// the API's limit (16 KiB) is refused with 431 in the API's error format,
// not in the plain text of Go's server, over a real socket to a node.
func TestHeadersTooLargeIsJSON(t *testing.T) {
	h := nodetest.Start(t)
	get := func(pad int) (status int, contentType string, body []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.Node.URL()+"/healthz", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Pad", strings.Repeat("p", pad))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close() //nolint:errcheck // read to the end
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("Content-Type"), b
	}

	if status, _, b := get(12 << 10); status != http.StatusOK {
		t.Fatalf("a 12 KiB header: %d %s", status, b)
	}
	for _, pad := range []int{24 << 10, 16 << 10, 60 << 10} {
		status, ct, b := get(pad)
		if status != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("a header of %d bytes: %d %s", pad, status, b)
		}
		if ct != "application/json" {
			t.Fatalf("a header of %d bytes: Content-Type %q: %s", pad, ct, b)
		}
		var e sdk.ErrorBody
		if err := json.Unmarshal(b, &e); err != nil || e.Reason != "headers-too-large" || e.Message == "" {
			t.Fatalf("a header of %d bytes: %s (%v)", pad, b, err)
		}
	}
}

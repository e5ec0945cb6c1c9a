package api

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHeaderSizeIsTheWire: headerSize counts what the client sent.
func TestHeaderSizeIsTheWire(t *testing.T) {
	got := make(chan int, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- headerSize(r) }))
	defer srv.Close()
	raw := "GET /v1/status?x=1 HTTP/1.1\r\nHost: " + srv.Listener.Addr().String() + "\r\n" +
		"X-One: a\r\nX-Two: bb\r\nX-Two: ccc\r\nAccept: */*\r\nContent-Length: 0\r\n\r\n"
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close() //nolint:errcheck // a test's connection
	if _, err := c.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if n := <-got; n != len(raw) {
		t.Errorf("headerSize %d, sent %d bytes", n, len(raw))
	}
}

// TestLimitHeaders: over the limit, 431 in the API's error format; at it,
// the request goes through.
func TestLimitHeaders(t *testing.T) {
	h := LimitHeaders(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }), 1000)
	for _, c := range []struct {
		pad  int
		want int
	}{{100, http.StatusNoContent}, {2000, http.StatusRequestHeaderFieldsTooLarge}} {
		r := httptest.NewRequest(http.MethodGet, "/v1/status", nil)
		r.Header.Set("X-Pad", strings.Repeat("p", c.pad))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("pad %d: %d, want %d", c.pad, w.Code, c.want)
		}
		if c.want == http.StatusRequestHeaderFieldsTooLarge && !strings.Contains(w.Body.String(), `"reason": "headers-too-large"`) {
			t.Errorf("pad %d: %s", c.pad, w.Body)
		}
	}
}

// TestClientOf: a per-client bound counts an IPv6 client by its /64.
func TestClientOf(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.7:5000":             "192.0.2.7",
		"[::ffff:192.0.2.7]:5000":    "192.0.2.7",
		"[2001:db8:1:2:aaaa::1]:443": "2001:db8:1:2::/64",
		"[2001:db8:1:2:bbbb::9]:443": "2001:db8:1:2::/64",
		"[2001:db8:1:3::1]:443":      "2001:db8:1:3::/64",
		"[fe80::1%eth0]:443":         "fe80::/64",
		"not an address":             "not an address",
	} {
		r := &http.Request{RemoteAddr: addr}
		if got := clientOf(r); got != want {
			t.Errorf("%s: %s, want %s", addr, got, want)
		}
	}
}

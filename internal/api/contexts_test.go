package api

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/jsonldcheck"
	"github.com/bias-iot/bias/sdk"
)

// contextServer serves jsonLDContext alone, as Handler routes it, over a
// real socket; the handler needs nothing of the Server.
func contextServer(t *testing.T) *httptest.Server {
	t.Helper()
	s := &Server{log: slog.New(slog.DiscardHandler)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /contexts/{name}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.jsonLDContext(w, r); err != nil {
			s.renderError(w, r, err)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// getContext answers a request: its status, headers and body.
func getContext(t *testing.T, method, url string, hdr http.Header) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// TestContextsServed: every embedded context is served under its name,
// byte for byte, as application/ld+json, public (CORS) and cacheable
// (a conditional request is 304); bias's own context, as served, defines
// what a document needs.
func TestContextsServed(t *testing.T) {
	srv := contextServer(t)
	names := map[string]bool{}
	for _, c := range did.Contexts() {
		names[c.Name] = true
		t.Run(c.Name, func(t *testing.T) {
			code, hdr, body := getContext(t, http.MethodGet, srv.URL+"/contexts/"+c.Name, nil)
			if code != http.StatusOK || !bytes.Equal(body, c.Document()) {
				t.Fatalf("%d, %d bytes; want 200 and the embedded %d bytes", code, len(body), len(c.Document()))
			}
			for k, want := range map[string]string{
				"Content-Type":                "application/ld+json",
				"Access-Control-Allow-Origin": "*",
				"Cache-Control":               "public, max-age=86400",
			} {
				if got := hdr.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			var doc map[string]any
			if err := json.Unmarshal(body, &doc); err != nil || doc["@context"] == nil {
				t.Fatalf("not a JSON-LD context: %v", err)
			}
			etag := hdr.Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			code, _, _ = getContext(t, http.MethodGet, srv.URL+"/contexts/"+c.Name, http.Header{"If-None-Match": {etag}})
			if code != http.StatusNotModified {
				t.Fatalf("If-None-Match: %d, want 304", code)
			}
			code, hdr, body = getContext(t, http.MethodHead, srv.URL+"/contexts/"+c.Name, nil)
			if code != http.StatusOK || len(body) != 0 || hdr.Get("Content-Type") != "application/ld+json" {
				t.Fatalf("HEAD: %d, %d bytes, %s", code, len(body), hdr.Get("Content-Type"))
			}
		})
	}
	for _, want := range []string{"bias-v1.jsonld", "did-v1.jsonld", "multikey-v1.jsonld", "jws-2020-v1.jsonld", "did-resolution-v1.jsonld"} {
		if !names[want] {
			t.Errorf("no context named %s (a served path must stay stable)", want)
		}
	}

	// The served bias context, inlined in place of its IRI, still makes a
	// document with a registrant's service type pass the checker.
	_, _, bias := getContext(t, http.MethodGet, srv.URL+"/contexts/bias-v1.jsonld", nil)
	var inline map[string]any
	if err := json.Unmarshal(bias, &inline); err != nil {
		t.Fatal(err)
	}
	doc := map[string]any{
		"@context": []any{did.ContextDIDv1, inline["@context"]},
		"id":       "did:bias:local:x",
		"service":  []any{map[string]any{"id": "did:bias:local:x#p", "type": "PrintService", "serviceEndpoint": "https://printer.example"}},
	}
	b, _ := json.Marshal(doc)
	if err := jsonldcheck.Check(b); err != nil {
		t.Fatalf("a document with the served bias context: %v", err)
	}
}

func TestContextsRejects(t *testing.T) {
	srv := contextServer(t)
	for name, path := range map[string]string{
		"fail/unknown-name": "/contexts/credentials-v2.jsonld",
		"fail/iri-not-name": "/contexts/v1",
		"fail/path-escape":  "/contexts/..%2fdid.go",
		"fail/no-extension": "/contexts/bias-v1",
	} {
		t.Run(name, func(t *testing.T) {
			code, hdr, body := getContext(t, http.MethodGet, srv.URL+path, nil)
			var e sdk.ErrorBody
			if err := json.Unmarshal(body, &e); err != nil || code != http.StatusNotFound || e.Reason != string(ReasonNotFound) {
				t.Fatalf("%d %s: want 404 %s", code, body, ReasonNotFound)
			}
			if hdr.Get("Access-Control-Allow-Origin") != "*" {
				t.Error("no CORS header on the error")
			}
		})
	}
}

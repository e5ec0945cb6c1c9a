package cli

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bias-iot/bias/did"
)

// TestExitCodes runs a failure of each class, as text and as JSON: the
// exit code is the class's, and --output json writes the error as one
// JSON object on stderr.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"reason":"internal","message":"the node failed"}`))
	}))
	t.Cleanup(broken.Close)

	// A node that answers but is not ready (a stand-in for /readyz's
	// answer; TestReadiness shows the real one).
	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/readyz" {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"reason":"unhealthy","message":"not ready: this node sees 2 of 4 validators"}`))
			return
		}
		_, _ = w.Write([]byte(`{"network":"local","height":7,"appHash":"00","time":"2026-12-01T00:00:00Z","catchingUp":false}`))
	}))
	t.Cleanup(notReady.Close)

	key, _ := f.newKey("dev.key")
	svcKey, _ := f.newKey("svc.key")
	id := field(t, f.must("register", "--key", key, "--provider", f.provider), "did")
	svc := field(t, f.must("register", "--kind", "service", "--key", svcKey, "--provider", f.provider), "did")
	f.must("provider", "validate", svc, "--key", f.admin)
	// An operation file that the admin key signed already.
	signed := f.path("keys.cose")
	adminPub := field(t, f.must("key", "show", f.admin), "publicKey")
	f.must("provider", "keys", "--provider", f.provider, "--key", f.admin, "--admin-key", "ed25519:"+adminPub, "--out", signed)

	for _, c := range []struct {
		name   string
		args   []string
		code   int
		reason string
		want   string
	}{
		{"usage/unknown-command", []string{"nosuchcommand"}, exitUsage, "", "unknown command"},
		{"usage/unknown-flag", []string{"status", "--nosuchflag"}, exitUsage, "", "unknown flag"},
		{"usage/missing-arg", []string{"show"}, exitUsage, "", "accepts 1 arg"},
		{"usage/missing-flag", []string{"register", "--provider", f.provider}, exitUsage, "", `required flag(s) "key" not set`},
		{"usage/output", []string{"--output", "yaml", "status"}, exitUsage, "", `--output "yaml": want text or json`},
		{"usage/bad-file", []string{"auth", "verify", "nosuch.txt", "nosuch2.txt"}, exitUsage, "", "check the file name"},
		{"usage/no-key-file", []string{"register", "--key", "nosuch.key", "--provider", f.provider}, exitUsage, "", "create it with bias key new nosuch.key"},
		{"unreachable/refused", []string{"--node", dead, "status"}, exitUnreachable, "", "start one with bias node"},
		{"unreachable/host-port", []string{"--node", dead, "show", id}, exitUnreachable, "", "connection refused"},
		{"refused/unknown-entity", []string{"show", did.New(f.h.Network, []byte("nobody")).String()}, exitRefused, "unknown-entity", "unknown-entity"},
		{"refused/self-validate", []string{"provider", "validate", id, "--key", key}, exitRefused, "unauthorized", "unauthorized"},
		{"refused/local-duplicate-signer", []string{"provider", "cosign", signed, "--provider", f.provider, "--key", f.admin}, exitRefused, "duplicate-signer", "signs the operation twice"},
		{"auth/not-validated", []string{"auth", "demo", svc, id, "--service-key", svcKey, "--device-key", key}, exitAuth, "", "not-validated"},
		{"auth/oauth", []string{"oauth", "token", id, "--key", key, "--resource", svc}, exitAuth, "", "refused"},
		{"internal/5xx", []string{"--node", broken.URL, "status"}, exitInternal, "internal", "the node failed"},
		{"not-ready/status", []string{"--node", notReady.URL, "status"}, exitNotReady, "", "this node sees 2 of 4 validators"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := f.bias(c.args...)
			if r.code != c.code || !strings.HasPrefix(r.stderr, "error: ") || !strings.Contains(r.stderr, c.want) {
				t.Errorf("bias %s: %s\nwant exit %d and %q", strings.Join(c.args, " "), r, c.code, c.want)
			}
			if c.args[0] == "--output" {
				return
			}
			r = f.bias(append([]string{"--output", "json"}, c.args...)...)
			var e errorBody
			dec := json.NewDecoder(strings.NewReader(r.stderr))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&e); err != nil || dec.More() {
				t.Fatalf("--output json: stderr is not one JSON error (%v): %s", err, r)
			}
			if r.code != c.code || e.Error.Code != c.code || e.Error.Class != exitClasses[c.code] || e.Error.Reason != c.reason || !strings.Contains(e.Error.Message, c.want) {
				t.Errorf("--output json %s: %s\nerror %+v", strings.Join(c.args, " "), r, e.Error)
			}
		})
	}
	// --quiet prints nothing on success.
	if r := f.bias("--quiet", "status"); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("--quiet status: %s", r)
	}
	if r := f.bias("-q", "provider", "enroll", "--key", f.admin, "--provider", f.provider, "--file", "../../docs/enroll-sample.csv", "--report", f.path("r.csv")); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("--quiet enroll: %s", r)
	}
}

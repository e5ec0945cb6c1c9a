package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/sdk"
)

// result is what one run of the command line left.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// runCLI runs `bias args...` in-process with empty stdin and an empty
// environment.
func runCLI(t testing.TB, args ...string) result {
	t.Helper()
	return runCLIEnv(t, nil, args...)
}

// runCLIEnv runs `bias args...` in-process with empty stdin and the
// environment vars.
func runCLIEnv(t testing.TB, vars map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := Env{
		Stdin:  strings.NewReader(""),
		Stdout: &stdout,
		Stderr: &stderr,
		Getenv: func(k string) string { return vars[k] },
	}
	code := Run(t.Context(), env, args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// fixture is a running node, a temp dir for key files, and the URL the
// commands talk to.
type fixture struct {
	t        *testing.T
	h        *nodetest.Harness
	dir      string
	url      string
	admin    string // the default provider's admin key file
	provider string // the default provider's DID
	posts    atomic.Int64
	// intercept, when set, sees each submitted operation (n counts them
	// from 1) before the node: it returns true when it answered itself.
	intercept atomic.Pointer[func(w http.ResponseWriter, r *http.Request, n int64) bool]
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	h := nodetest.Start(t)
	f := &fixture{t: t, h: h, dir: t.TempDir(), admin: node.AdminKeyPath(h.Home), provider: h.Provider.DID.String()}
	// The commands go through a proxy that counts submitted operations.
	target, err := url.Parse(h.Node.URL())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/operations" {
			n := f.posts.Add(1)
			if h := f.intercept.Load(); h != nil && (*h)(w, r, n) {
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// path is a file name in the fixture's temp dir.
func (f *fixture) path(name string) string { return filepath.Join(f.dir, name) }

// bias runs a client command against the fixture's node.
func (f *fixture) bias(args ...string) result {
	f.t.Helper()
	return runCLI(f.t, append([]string{"--node", f.url}, args...)...)
}

// must runs a command that must succeed and returns its stdout.
func (f *fixture) must(args ...string) string {
	f.t.Helper()
	r := f.bias(args...)
	if r.code != 0 {
		f.t.Fatalf("bias %s: %s", strings.Join(args, " "), r)
	}
	return r.stdout
}

// fail runs a command that must fail, with an error on stderr and nothing
// on stdout, and returns its stderr.
func (f *fixture) fail(args ...string) string {
	f.t.Helper()
	r := f.bias(args...)
	if r.code == 0 {
		f.t.Fatalf("bias %s succeeded, want an error: %s", strings.Join(args, " "), r)
	}
	if !strings.HasPrefix(r.stderr, "error: ") {
		f.t.Fatalf("bias %s: stderr should start with \"error: \": %s", strings.Join(args, " "), r)
	}
	return r.stderr
}

// show runs `bias show args...` and decodes its JSON.
func (f *fixture) show(args ...string) *sdk.EntityView {
	f.t.Helper()
	out := f.must(append([]string{"show"}, args...)...)
	var v sdk.EntityView
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		f.t.Fatalf("show %v: %v\n%s", args, err, out)
	}
	return &v
}

// newKey runs `bias key new` and returns the file and its public key.
func (f *fixture) newKey(name string) (path, pub string) {
	f.t.Helper()
	path = f.path(name)
	return path, field(f.t, f.must("key", "new", path), "publicKey")
}

// field returns the value of the "name: value" line of out.
func field(t testing.TB, out, name string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, name+": "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %q line in:\n%s", name, out)
	return ""
}

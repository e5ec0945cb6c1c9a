package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bias-iot/bias/internal/ca"
	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/internal/version"
	"github.com/spf13/cobra"
)

var update = flag.Bool("update", false, "rewrite testdata/json/*.json from the commands' output")

// shape is the JSON shape of v: each value replaced by its type, an array
// by the merged shape of its elements.
func shape(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = shape(e)
		}
		return m
	case []any:
		if len(x) == 0 {
			return []any{}
		}
		m := shape(x[0])
		for _, e := range x[1:] {
			m = merge(m, shape(e))
		}
		return []any{m}
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	}
	return "null"
}

// merge unites two shapes: the keys of both objects, the first type
// otherwise.
func merge(a, b any) any {
	x, ok1 := a.(map[string]any)
	y, ok2 := b.(map[string]any)
	if !ok1 || !ok2 {
		return a
	}
	for k, v := range y {
		if w, ok := x[k]; ok {
			x[k] = merge(w, v)
		} else {
			x[k] = v
		}
	}
	return x
}

// golden checks the shape of a --output json stdout (one JSON value per
// line) against testdata/json/NAME.json.
type golden struct {
	t       *testing.T
	covered []string
}

func (g *golden) check(name, stdout string) {
	g.t.Helper()
	g.covered = append(g.covered, name)
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if stdout == "" {
		g.t.Errorf("bias %s --output json printed nothing", name)
		return
	}
	var shapes []any
	for _, line := range lines {
		var v any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			g.t.Errorf("bias %s --output json: line %q is not JSON: %v", name, line, err)
			return
		}
		s := shape(v)
		if !slices.ContainsFunc(shapes, func(o any) bool { return jsonEqual(o, s) }) {
			shapes = append(shapes, s)
		}
	}
	got, err := json.MarshalIndent(shapes, "", "  ")
	if err != nil {
		g.t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "json", strings.ReplaceAll(name, " ", "_")+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			g.t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o600); err != nil {
			g.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		g.t.Errorf("bias %s: %v (go test -run TestJSONOutputGolden -update writes it)", name, err)
		return
	}
	if !bytes.Equal(got, want) {
		g.t.Errorf("bias %s --output json changed shape:\n%s\nwant (%s):\n%s", name, got, path, want)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// noJSON lists the commands the golden test does not run, and why: none
// today; a command that cannot print JSON says so here.
var noJSON = map[string]string{}

// TestJSONOutputGolden runs every command with --output json: each line of
// stdout parses, and its shape is the one testdata/json fixes. A command
// added without a case here fails the test.
func TestJSONOutputGolden(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	g := &golden{t: t}
	j := func(name string, args ...string) string {
		t.Helper()
		r := f.bias(append([]string{"--output", "json"}, args...)...)
		if r.code != 0 {
			t.Fatalf("bias %s --output json: %s", strings.Join(args, " "), r)
		}
		g.check(name, r.stdout)
		return r.stdout
	}
	val := func(out, key string) string {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		s, _ := m[key].(string)
		return s
	}

	// The node publishes its CA on the ledger: the provider's shape
	// includes it from then on.
	for deadline := time.Now().Add(10 * time.Second); f.bias("x509", "ca", f.provider).code != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the CA was not published")
		}
	}
	svcKey, devKey := f.path("svc.key"), f.path("dev.key")
	j("key new", "key", "new", svcKey)
	f.must("key", "new", devKey)
	j("key show", "key", "show", devKey)
	svc := val(j("register", "register", "--kind", "service", "--key", svcKey, "--provider", f.provider), "did")
	dev := val(f.must("--output", "json", "register", "--key", devKey, "--provider", f.provider, "--alias", "urn:dev:mac:0024befffe804ff1"), "did")
	j("provider validate", "provider", "validate", svc, "--key", f.admin)
	f.must("provider", "validate", dev, "--key", f.admin)
	j("show", "show", dev)
	j("status", "status")
	j("resolve", "resolve", dev)
	j("update", "update", dev, "--key", devKey, "--attr", "model=cam-2")
	newKey := f.path("dev2.key")
	f.must("key", "new", newKey)
	j("rotate", "rotate", dev, "--key", devKey, "--new-key", newKey)
	devKey = newKey
	f.must("provider", "validate", dev, "--key", f.admin) // an update makes it pending again
	// The node publishes its CA certificate and its token key on its own
	// at start: the shape is the one with both.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		p, err := f.h.Client.Provider(t.Context(), f.provider)
		if err == nil && p.Publication != nil && len(p.Publication.CA) > 0 && len(p.Publication.TokenKeys) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node did not publish its CA and token key: %+v %v", p, err)
		}
	}
	j("provider show", "provider", "show", f.provider)
	j("provider list", "provider", "list")
	tk := f.path("tk.key")
	f.must("key", "new", tk)
	j("provider ticket", "provider", "ticket", "--key", f.admin, "--provider", f.provider, "--device-key", tk, "--out", f.path("t.ticket"), "--claim", "serial=1")
	j("provider reject", "provider", "reject", val(f.must("--output", "json", "register", "--key", tk, "--provider", f.provider), "did"), "--key", f.admin)
	batch := f.path("batch")
	j("key new --batch", "key", "new", "--batch", "2", "--dir", batch)
	j("provider enroll", "provider", "enroll", "--key", f.admin, "--provider", f.provider, "--file", filepath.Join(batch, "devices.csv"))

	ch := j("auth challenge", "auth", "challenge", svc, "--key", svcKey, "--url", "https://printer.example")
	chFile, prFile := f.path("ch.txt"), f.path("pr.txt")
	if err := os.WriteFile(chFile, []byte(val(ch, "challenge")), 0o600); err != nil {
		t.Fatal(err)
	}
	pr := j("auth answer", "auth", "answer", dev, chFile, "--key", devKey, "--url", "https://printer.example")
	if err := os.WriteFile(prFile, []byte(val(pr, "proof")), 0o600); err != nil {
		t.Fatal(err)
	}
	j("auth verify", "auth", "verify", chFile, prFile)
	j("auth demo", "auth", "demo", svc, dev, "--service-key", svcKey, "--device-key", devKey)
	j("oauth token", "oauth", "token", dev, "--key", devKey, "--resource", svc)

	src, inputs := f.path("c.cel"), f.path("in.json")
	if err := os.WriteFile(src, []byte(`"validate"`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inputs, []byte(`{"kind":"device","aliases":[],"time":"2026-11-25T10:00:00Z"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	j("contract dry-run", "contract", "dry-run", "--kind", "registration", "--file", src, "--inputs", inputs)
	j("contract deploy", "contract", "deploy", "--key", f.admin, "--provider", f.provider, "--name", "c", "--file", src)
	j("contract update", "contract", "update", "--key", f.admin, "--provider", f.provider, "--name", "c", "--file", src)
	j("contract show", "contract", "show", f.provider, "c")
	j("contract list", "contract", "list", f.provider)
	acc := f.path("acc.cel")
	if err := os.WriteFile(acc, []byte(`true`), 0o600); err != nil {
		t.Fatal(err)
	}
	f.must("contract", "deploy", "--key", f.admin, "--provider", f.provider, "--name", "acc", "--kind", "access", "--file", acc)
	j("contract bind", "contract", "bind", svc, "--key", f.admin, "--contract", f.provider+"/acc")

	j("x509 ca", "x509", "ca", f.provider)
	cert := f.path("dev.pem")
	j("x509 issue", "x509", "issue", dev, "--key", devKey, "--provider", f.provider, "--out", cert)
	j("x509 show", "x509", "show", cert)
	j("x509 crl", "x509", "crl", f.provider)
	j("x509 publish", "x509", "publish", f.provider, "--key", f.admin, "--cert", ca.CertPath(f.h.Home))
	// Sealed provisioning: an agreement key, an envelope, its opening.
	ka := f.path("dev-agreement.key")
	j("key new --alg x25519", "key", "new", "--alg", "x25519", ka)
	j("agreement", "agreement", dev, "--key", devKey, "--file", ka)
	data := f.path("wifi.json")
	if err := os.WriteFile(data, []byte(`{"ssid":"plant-7"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	envFile := f.path("wifi.sealed")
	if err := os.WriteFile(envFile, []byte(val(j("provider seal", "provider", "seal", "--to", dev, "--file", data, "--key", f.admin, "--type", "application/json"), "envelope")), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := val(j("open", "open", envFile, "--key", ka), "data"); got != base64.RawURLEncoding.EncodeToString([]byte(`{"ssid":"plant-7"}`)) {
		t.Errorf("open --output json: data %q", got)
	}
	cred := val(j("provider credential issue", "provider", "credential", "issue", "--token-key", node.TokenKeyPath(f.h.Home), "--provider", f.provider,
		"--device", dev, "--attr", "subscription=gold", "--out", f.path("dev.cred")), "id")
	j("provider credential revoke", "provider", "credential", "revoke", "--key", f.admin, "--provider", f.provider, "--", cred) // an id may start with -

	// Governance: a proposal is open with one approval of two, and the
	// other provider's vote executes it.
	_, opPub := f.newKey("operator-e.key")
	prop := val(j("gov propose", "gov", "propose", "--key", f.admin, "--provider", f.provider, "--kind", "provider.admit",
		"--name", "operator-e", "--admin-key", "ed25519:"+opPub), "proposal")
	j("gov vote", "gov", "vote", prop, "--key", filepath.Join(f.h.Home, "provider", "other.key"), "--provider", f.h.Other.DID.String())
	j("gov show", "gov", "show", prop)
	j("gov list", "gov", "list")
	if out := j("events", "events", "--from", "1", "--count", "3"); strings.Count(out, "\n") != 3 || !strings.Contains(out, svc) {
		t.Errorf("events --from 1 --count 3: %s", out)
	}
	if out := j("events --decisions", "events", "--decisions", "--after", "0", "--count", "1"); !strings.Contains(out, dev) {
		t.Errorf("events --decisions: %s", out)
	}
	vout := j("version", "version", "--server")
	var vs map[string]version.Info
	if err := json.Unmarshal([]byte(vout), &vs); err != nil || vs["node"] != vs["client"] || vs["node"].CometBFT == "" || vs["node"].Go == "" {
		t.Errorf("version --server: %s", vout)
	}

	j("provider revoke", "provider", "revoke", dev, "--key", f.admin)
	j("deactivate", "deactivate", svc, "--key", svcKey)

	// The provider's admin keys: 2 of 3, then back to 1 of 1 by a file
	// that the second key cosigns and the third submits.
	adminPub := val(f.must("--output", "json", "key", "show", f.admin), "publicKey")
	second, third := f.path("admin-2.key"), f.path("admin-3.key")
	secondPub := val(f.must("--output", "json", "key", "new", second), "publicKey")
	thirdPub := val(f.must("--output", "json", "key", "new", third), "publicKey")
	j("provider keys", "provider", "keys", "--provider", f.provider, "--key", f.admin,
		"--admin-key", "ed25519:"+adminPub, "--admin-key", "ed25519:"+secondPub, "--admin-key", "ed25519:"+thirdPub, "--threshold", "2")
	rot := f.path("rotate.cose")
	j("provider keys --out", "provider", "keys", "--provider", f.provider, "--key", f.admin, "--admin-key", "ed25519:"+adminPub, "--threshold", "1", "--out", rot)
	j("provider cosign", "provider", "cosign", rot, "--provider", f.provider, "--key", second)
	j("provider cosign --submit", "provider", "cosign", rot, "--provider", f.provider, "--key", third, "--submit")

	// The node and the testnet commands, on their own homes.
	home := filepath.Join(t.TempDir(), "home")
	out := runBackground(t, "--output", "json", "node", "--home", home, "--http", "127.0.0.1:0", "--p2p", "tcp://127.0.0.1:0")
	waitFor(t, "bias node to print its JSON line", func() bool { return strings.HasSuffix(out.String(), "}\n") })
	g.check("node", out.String())
	dir := filepath.Join(t.TempDir(), "net")
	r := runCLI(t, "--output", "json", "testnet", "init", "--validators", "1", "--dir", dir)
	g.check("testnet init", r.stdout)
	out = runBackground(t, "--output", "json", "testnet", "start", "--dir", dir, "--log-level", "error")
	waitFor(t, "the testnet node to serve", func() bool { return strings.Contains(out.String(), `"event":"output"`) })
	g.check("testnet start", strings.SplitAfter(out.String(), "\n")[0])
	g.check("testnet status", runCLI(t, "--output", "json", "testnet", "status", "--dir", dir).stdout)
	g.check("testnet stop", runCLI(t, "--output", "json", "testnet", "stop", "--dir", dir).stdout)
	gen, n0 := filepath.Join(t.TempDir(), "genesis.json"), filepath.Join(dir, "node0")
	for _, c := range [][]string{
		{"genesis init", "genesis", "init", "--network", "n", "--out", gen},
		{"genesis add-validator", "genesis", "add-validator", gen, "--home", n0, "--name", "v"},
		{"genesis add-provider", "genesis", "add-provider", gen, "--name", "p", "--key", filepath.Join(n0, "provider", "admin.key"), "--validator-home", n0},
		{"genesis validate", "genesis", "validate", gen},
		{"node id", "node", "id", "--home", n0},
	} {
		r := runCLI(t, append([]string{"--output", "json"}, c[1:]...)...)
		if r.code != 0 {
			t.Fatalf("%v: %s", c, r)
		}
		g.check(c[0], r.stdout)
	}

	cfg := map[string]string{"BIAS_CONFIG": filepath.Join(t.TempDir(), "contexts.json")}
	for _, c := range [][]string{
		{"context add", "context", "add", "lab", "--node", f.url, "--provider", f.provider, "--admin-key", f.admin},
		{"context use", "context", "use", "lab"},
		{"context list", "context", "list"},
	} {
		r := runCLIEnv(t, cfg, append([]string{"--output", "json"}, c[1:]...)...)
		if r.code != 0 {
			t.Fatalf("%v: %s", c, r)
		}
		g.check(c[0], r.stdout)
	}

	var missing []string
	walk(newRoot(Env{Getenv: func(string) string { return "" }}), func(c *cobra.Command) {
		if c.RunE == nil {
			return
		}
		name := strings.TrimPrefix(c.CommandPath(), "bias ")
		if !slices.ContainsFunc(g.covered, func(c string) bool { return c == name || strings.HasPrefix(c, name+" --") }) && noJSON[name] == "" {
			missing = append(missing, name)
		}
	})
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("commands with no --output json case: %q", missing)
	}
}

// bgRun is a command running in the background: its stdout as it grows,
// and what stops it (cancels its context and waits for its end).
type bgRun struct {
	*syncBuffer
	stop func()
}

// runBackground runs `bias args...` until stopped or the test ends.
func runBackground(t *testing.T, args ...string) *bgRun {
	t.Helper()
	return runBackgroundEnv(t, nil, args...)
}

// runBackgroundEnv is runBackground with the environment vars.
func runBackgroundEnv(t *testing.T, vars map[string]string, args ...string) *bgRun {
	t.Helper()
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	env := Env{Stdin: strings.NewReader(""), Stdout: out, Stderr: &syncBuffer{}, Getenv: func(k string) string { return vars[k] }}
	go func() {
		defer close(done)
		Run(ctx, env, args)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	t.Cleanup(stop)
	return &bgRun{out, stop}
}

// TestJSONFieldsDocumented: docs/cli.md has a row for each command whose
// JSON shape testdata/json fixes, naming each of its top-level fields.
func TestJSONFieldsDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(doc), "\n") {
		if cmd, rest, ok := strings.Cut(strings.TrimPrefix(line, "| `bias "), "` |"); ok && strings.HasPrefix(line, "| `bias ") {
			rows[cmd] = rest
		}
	}
	files, err := filepath.Glob(filepath.Join("testdata", "json", "*.json"))
	if err != nil || len(files) < 50 {
		t.Fatalf("%d golden files, %v", len(files), err)
	}
	for _, file := range files {
		name := strings.ReplaceAll(strings.TrimSuffix(filepath.Base(file), ".json"), "_", " ")
		row, ok := rows[name]
		if !ok {
			t.Errorf("docs/cli.md has no row for bias %s", name)
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var shapes []any
		if err := json.Unmarshal(b, &shapes); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, s := range shapes {
			if l, ok := s.([]any); ok && len(l) > 0 {
				s = l[0]
			}
			m, _ := s.(map[string]any)
			for k := range m {
				if !strings.Contains(row, "`"+k+"`") {
					t.Errorf("docs/cli.md, bias %s: no field %s", name, k)
				}
			}
		}
	}
}

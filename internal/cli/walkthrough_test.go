package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// docRunner runs documented command lines in process as a user types
// them in a shell: in the test's working directory, with ~ as HOME and
// the docs' placeholders ($P, did:bias:local:..., 127.0.0.1:8080)
// replaced by what the walkthrough made so far.
type docRunner struct {
	t     *testing.T
	home  string
	subst map[string]string
	env   map[string]string // the environment of the commands
	ran   []string          // the doc lines run
}

// words is line as its arguments (without bias): placeholders replaced,
// a pipe or a redirection cut (the shell's), ~/ expanded.
func (d *docRunner) words(line string) []string {
	d.ran = append(d.ran, line)
	line = cutShell(line)
	var pairs []string
	for k, v := range d.subst {
		pairs = append(pairs, k, v)
	}
	w := shellWords(strings.NewReplacer(pairs...).Replace(line))
	for i, s := range w {
		if rest, ok := strings.CutPrefix(s, "~/"); ok {
			w[i] = filepath.Join(d.home, rest)
		}
	}
	return w[1:]
}

// run runs a doc line.
func (d *docRunner) run(line string) result {
	d.t.Helper()
	return runCLIEnv(d.t, d.env, d.words(line)...)
}

// must runs a doc line that must succeed, and returns its stdout.
func (d *docRunner) must(line string) string {
	d.t.Helper()
	r := d.run(line)
	if r.code != 0 {
		d.t.Fatalf("%s: %s", line, r)
	}
	return r.stdout
}

// background runs a doc line until stopped (or the test ends).
func (d *docRunner) background(line string) *bgRun {
	d.t.Helper()
	return runBackgroundEnv(d.t, d.env, d.words(line)...)
}

// docStep is what the walkthrough does with the doc lines that start
// with prefix, instead of running them and asking for success.
type docStep struct {
	prefix string
	do     func(line string)
}

// follow runs the lines in order: each through the first step whose
// prefix it has, else as must; a line whose prefix notRun lists is
// skipped. A step that matched no line fails the test: the doc changed.
func (d *docRunner) follow(lines []string, steps []docStep, notRun map[string]string) {
	d.t.Helper()
	used := make([]bool, len(steps))
	for _, line := range lines {
		if why := lookupPrefix(notRun, line); why != "" {
			d.t.Logf("not run: %s (%s)", line, why)
			continue
		}
		i := slices.IndexFunc(steps, func(s docStep) bool { return strings.HasPrefix(line, s.prefix) })
		if i < 0 {
			d.must(line)
			continue
		}
		used[i] = true
		steps[i].do(line)
	}
	for i, s := range steps {
		if !used[i] {
			d.t.Errorf("no documented line starts with %q any more", s.prefix)
		}
	}
}

func lookupPrefix(m map[string]string, line string) string {
	for p, v := range m {
		if strings.HasPrefix(line, p) {
			return v
		}
	}
	return ""
}

// notRunDocs lists the documented command lines (by prefix) that
// TestDocExamplesRun does not run, and why.
var notRunDocs = map[string]string{
	"bias --node $A gov propose":                              "operator E's join needs four validator processes on their own ports: tests/e2e TestJoin runs these commands in this order (scripts/e2e.sh); beside one in-process validator, --power 10 breaks the safety rule",
	"bias --node $B gov vote":                                 "TestJoin (tests/e2e): B's vote, at B's node",
	"bias --node $C gov vote":                                 "TestJoin (tests/e2e): C's vote, at C's node",
	"bias --node http://e.example:8080 gov vote":              "TestJoin (tests/e2e): E's first vote, at E's node",
	"bias --node http://e.example:8080 show --verify genesis": "TestJoin (tests/e2e): a record verified from the genesis across both validator changes",
}

// TestDocExamplesRun runs the README's walkthrough in order, as a new user
// types it (bias node first, then each command of "A first registration",
// with bias testnet started while that node runs, on free ports), then the
// command examples of docs/operations.md, against real nodes in process
// (a testnet's nodes as processes). Along the way it runs one failure of
// each exit-code class. Every documented line runs, or notRunDocs says why
// not.
func TestDocExamplesRun(t *testing.T) {
	readme, ops := filepath.Join("..", "..", "README.md"), filepath.Join("..", "..", "docs", "operations.md")
	readmeLines, opsLines := docCommands(t, readme), docCommands(t, ops)
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"go run ./cmd/bias node", "P=$(cat ~/.bias/provider/did)"} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("the README no longer says %q", want)
		}
	}
	work := t.TempDir()
	t.Chdir(work) // the README's relative paths: cam.key, ./batch, ./testnet
	home := filepath.Join(work, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}

	// go run ./cmd/bias node: on free ports (BIAS_HTTP, BIAS_P2P), as the
	// README says each flag may be given.
	api := "127.0.0.1:" + freePort(t)
	node := runBackgroundEnv(t, map[string]string{"HOME": home, "BIAS_HTTP": api, "BIAS_P2P": "tcp://127.0.0.1:0"}, "node")
	waitFor(t, "bias node to serve", func() bool { return strings.Contains(node.String(), "serving http://"+api) })
	if !strings.Contains(node.String(), filepath.Join(home, ".bias", "provider", "admin.key")) {
		t.Errorf("the first bias node does not name ~/.bias/provider/admin.key:\n%s", node)
	}
	p, err := os.ReadFile(filepath.Join(home, ".bias", "provider", "did")) // P=$(cat ~/.bias/provider/did)
	if err != nil {
		t.Fatal(err)
	}
	provider := strings.TrimSpace(string(p))
	// The README's commands reach the node at its default address: here
	// BIAS_NODE says where it is, until the context does.
	d := &docRunner{t: t, home: home, env: map[string]string{"HOME": home, "BIAS_NODE": api},
		subst: map[string]string{"$P": provider, "127.0.0.1:8080": api}}
	var cam, svc string
	classCase := func(name string, code int, args ...string) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			r := runCLIEnv(t, d.env, args...)
			if r.code != code || !strings.HasPrefix(r.stderr, "error: ") {
				t.Errorf("bias %s: %s\nwant exit %d (%s)", strings.Join(args, " "), r, code, exitClasses[code])
			}
		})
	}

	d.follow(readmeLines, []docStep{
		{"bias key new cam.key", func(line string) {
			d.must(line)
			classCase("fail/usage", exitUsage, "register", "--key", "nosuch.key", "--provider", provider)
			classCase("fail/internal", exitInternal, "key", "new", "cam.key") // a file that cannot be written: it exists
		}},
		{"bias register --key cam.key", func(line string) {
			cam = field(t, d.must(line), "did")
			d.subst["did:bias:local:..."] = cam
		}},
		{"bias show did:bias:local:...", func(line string) {
			var v struct{ DID, Status string }
			if err := json.Unmarshal([]byte(d.must(line)), &v); err != nil || v.DID != cam || v.Status != "validated" {
				t.Errorf("%s: %+v %v", line, v, err)
			}
			// The comment's --verify: a light client from the genesis.
			if r := runCLIEnv(t, d.env, "show", "--verify", filepath.Join(home, ".bias", "config", "genesis.json"), cam); r.code != 0 || !strings.Contains(r.stderr, "verified") {
				t.Errorf("show --verify: %s", r)
			}
		}},
		{"bias resolve urn:imei:49015420-323751-8", func(line string) {
			if out := d.must(line); !strings.Contains(out, cam) {
				t.Errorf("%s does not name %s:\n%s", line, cam, out)
			}
		}},
		{"bias provider revoke did:bias:local:...", func(line string) {
			d.must(line)
			classCase("fail/refused", exitRefused, "provider", "validate", cam, "--key", filepath.Join(home, ".bias", "provider", "admin.key"))
			svcKey := filepath.Join(work, "printer.key")
			if r := runCLIEnv(t, d.env, "key", "new", svcKey); r.code != 0 {
				t.Fatal(r)
			}
			r := runCLIEnv(t, d.env, "register", "--kind", "service", "--key", svcKey, "--provider", provider)
			if r.code != 0 {
				t.Fatal(r)
			}
			svc = field(t, r.stdout, "did")
			if r := runCLIEnv(t, d.env, "provider", "validate", svc, "--key", filepath.Join(home, ".bias", "provider", "admin.key")); r.code != 0 {
				t.Fatal(r)
			}
			classCase("fail/authentication", exitAuth, "auth", "demo", svc, cam, "--service-key", svcKey, "--device-key", "cam2.key")
		}},
		{"bias provider enroll --key ~/.bias/provider/admin.key --provider $P --file ./batch/devices.csv", func(line string) {
			if r := d.run(line); r.code != 0 || !strings.Contains(r.stderr, "100 enrolled, 0 already") {
				t.Errorf("%s: %s", line, r)
			}
		}},
		{"bias testnet start --dir ./testnet", func(line string) {
			tn := d.background(line)
			waitFor(t, "the four testnet nodes to commit", func() bool {
				st := testnetStatus(t, "testnet")
				for _, n := range []string{"node0", "node1", "node2", "node3"} {
					if st[n][0] != "running" || height(t, st, n) < 1 {
						return false
					}
				}
				return true
			})
			t.Cleanup(tn.stop)
		}},
		{"bias testnet status --dir ./testnet", func(line string) {
			if out := d.must(line); strings.Count(out, " running ") != 4 {
				t.Errorf("%s:\n%s", line, out)
			}
			// Two validators of four gone: node0 answers, but cannot commit.
			for _, n := range []string{"node2", "node3"} {
				if err := syscall.Kill(homePID(filepath.Join("testnet", n)), syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
			api0 := testnetAPI(t, "testnet", "node0")
			waitFor(t, "node0 to be not ready", func() bool { return runCLIEnv(t, d.env, "--node", api0, "status").code == exitNotReady })
			classCase("fail/not-ready", exitNotReady, "--node", api0, "status")
			// The comment's testnet stop.
			if r := runCLIEnv(t, d.env, "testnet", "stop", "--dir", "./testnet"); r.code != 0 || strings.Count(r.stdout, " stopped (pid") != 2 {
				t.Errorf("testnet stop: %s", r)
			}
		}},
		{"bias context add lab", func(line string) {
			d.must(line)
			delete(d.env, "BIAS_NODE") // from here on the context gives it
		}},
		{"bias provider enroll --file ./batch/devices.csv", func(line string) {
			if r := d.run(line); r.code != 0 || !strings.Contains(r.stderr, "0 enrolled, 100 already") {
				t.Errorf("%s: %s", line, r)
			}
		}},
		{"bias events --from 1 --output json", func(line string) {
			ev := d.background(line)
			waitFor(t, "events to reach the revocation", func() bool { return strings.Count(ev.String(), cam) >= 4 })
			ev.stop()
			for _, l := range strings.Split(strings.TrimSpace(ev.String()), "\n") {
				var e struct{ Height int64 }
				if err := json.Unmarshal([]byte(l), &e); err != nil || e.Height < 1 {
					t.Errorf("%s: line %q: %v", line, l, err)
				}
			}
		}},
		{"bias gov list", func(line string) {
			var g struct{ Governance struct{ Providers []string } }
			if err := json.Unmarshal([]byte(d.must(line)), &g); err != nil || !slices.Contains(g.Governance.Providers, provider) {
				t.Errorf("%s: %+v %v", line, g, err)
			}
		}},
	}, notRunDocs)

	// docs/operations.md, in a directory of its own.
	t.Chdir(t.TempDir())
	d.subst["$A"] = "http://" + api
	d.follow(opsLines, []docStep{
		{"bias testnet start --dir ./testnet", func(line string) {
			tn := d.background(line)
			t.Cleanup(tn.stop)
			waitFor(t, "four validators and two full nodes to commit", func() bool {
				st := testnetStatus(t, "testnet")
				for i := range 6 {
					if n := "node" + string(rune('0'+i)); st[n][0] != "running" || height(t, st, n) < 1 {
						return false
					}
				}
				return true
			})
		}},
		{"bias testnet status --dir ./testnet", func(line string) {
			if out := d.must(line); strings.Count(out, " running ") != 6 {
				t.Errorf("%s:\n%s", line, out)
			}
		}},
		{"bias testnet stop --dir ./testnet", func(line string) {
			if out := d.must(line); strings.Count(out, " stopped (pid") != 6 {
				t.Errorf("%s:\n%s", line, out)
			}
		}},
		{"bias genesis init", func(line string) {
			// Step 1 of the set-up, in its prose: each operator's home.
			for _, dir := range []string{"./mine", "./b"} {
				if r := runCLIEnv(t, d.env, "testnet", "init", "--validators", "1", "--dir", dir); r.code != 0 {
					t.Fatal(r)
				}
			}
			var id struct{ ValidatorPubKey string }
			if err := json.Unmarshal([]byte(runCLIEnv(t, d.env, "--output", "json", "node", "id", "--home", "./b/node0").stdout), &id); err != nil || id.ValidatorPubKey == "" {
				t.Fatalf("node id --home ./b/node0: %+v %v", id, err)
			}
			d.subst["<operator-b's validator pubkey>"] = id.ValidatorPubKey
			d.must(line)
		}},
		{"bias genesis validate genesis.json", func(line string) {
			if out := d.must(line); strings.Count(out, "did:bias:consortium:") != 1 || !strings.Contains(out, "operator-b") {
				t.Errorf("%s:\n%s", line, out)
			}
		}},
		{"bias testnet init --validators 1 --network testnet --dir ./e", func(line string) {
			// On free ports and loopback, not E's public ones.
			w := d.words(line)
			for i := range w[:len(w)-1] {
				switch w[i] {
				case "--http-base", "--p2p-base":
					w[i+1] = freePort(t)
				case "--host":
					w[i+1] = "127.0.0.1"
				}
			}
			if r := runCLIEnv(t, d.env, w...); r.code != 0 {
				t.Fatalf("%s: %s", line, r)
			}
		}},
		{"bias --node $A status", func(line string) {
			var st struct{ NodeID string }
			if err := json.Unmarshal([]byte(d.must(line)), &st); err != nil || st.NodeID == "" {
				t.Errorf("%s | jq -r .nodeId: %+v %v", line, st, err)
			}
		}},
		{"bias node --home ./e/node0", func(line string) {
			n := d.background(line)
			waitFor(t, "E's node to serve", func() bool { return strings.Contains(n.String(), "serving http://127.0.0.1:") })
			n.stop()
		}},
		{"bias provider enroll --key ~/.bias/provider/admin.key --provider $P --file ./batch-7/devices.csv", func(line string) {
			if r := d.run(line); r.code != 0 || !strings.Contains(r.stderr, "500 enrolled, 0 already") {
				t.Errorf("%s: %s", line, r)
			}
		}},
	}, notRunDocs)

	// No node at the context's address once the node stopped.
	node.stop()
	classCase("fail/unreachable", exitUnreachable, "status")

	for _, line := range append(readmeLines, opsLines...) {
		if !slices.Contains(d.ran, line) && lookupPrefix(notRunDocs, line) == "" {
			t.Errorf("documented but neither run nor listed in notRunDocs: %s", line)
		}
	}
	for p := range notRunDocs {
		if !slices.ContainsFunc(append(readmeLines, opsLines...), func(l string) bool { return strings.HasPrefix(l, p) }) {
			t.Errorf("notRunDocs lists %q, which no doc has any more", p)
		}
	}
}

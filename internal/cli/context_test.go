package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestContexts: a context's node, provider and admin key fill in the flags
// a command lacks, below the command line and the BIAS_ variables.
func TestContexts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	env := map[string]string{"BIAS_CONFIG": filepath.Join(t.TempDir(), "contexts.json")}
	run := func(args ...string) result {
		t.Helper()
		return runCLIEnv(t, env, args...)
	}
	if r := run("context", "add", "lab", "--node", strings.TrimPrefix(f.url, "http://"), "--provider", f.provider, "--admin-key", f.admin); r.code != 0 {
		t.Fatal(r)
	}
	if r := run("context", "add", "nowhere", "--node", "127.0.0.1:1"); r.code != 0 {
		t.Fatal(r)
	}
	var c clientConfig
	r := run("--output", "json", "context", "list")
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil || c.Current != "lab" || len(c.Contexts) != 2 || c.Contexts["lab"].Node != f.url {
		t.Fatalf("context list: %+v %v %s", c, err, r)
	}
	// No --node, no --provider, no --key: the current context's.
	key, _ := f.newKey("cam.key")
	r = run("register", "--key", key)
	if r.code != 0 {
		t.Fatalf("register in the lab context: %s", r)
	}
	id := field(t, r.stdout, "did")
	if r := run("provider", "validate", id); r.code != 0 {
		t.Fatalf("validate with the context's admin key: %s", r)
	}
	if v := f.show(id); v.Status != "validated" {
		t.Fatalf("after validate: %+v", v)
	}
	// Another context, by --context or use; a flag or variable wins.
	if r := run("--context", "nowhere", "status"); r.code != exitUnreachable {
		t.Errorf("--context nowhere status: %s", r)
	}
	if r := run("context", "use", "nowhere"); r.code != 0 {
		t.Fatal(r)
	}
	if r := run("status"); r.code != exitUnreachable {
		t.Errorf("status in the current context nowhere: %s", r)
	}
	if r := run("--node", f.url, "status"); r.code != 0 {
		t.Errorf("--node over the context: %s", r)
	}
	env["BIAS_NODE"] = f.url
	if r := run("status"); r.code != 0 {
		t.Errorf("BIAS_NODE over the context: %s", r)
	}
	for _, args := range [][]string{{"context", "use", "nosuch"}, {"--context", "nosuch", "status"}} {
		if r := run(args...); r.code != exitUsage || !strings.Contains(r.stderr, `no context "nosuch"`) {
			t.Errorf("bias %v: %s", args, r)
		}
	}
}

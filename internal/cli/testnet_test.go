package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer that goroutines may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startTestnet runs `bias testnet start args...` in the background (until
// the test ends at the latest), and returns its output and what waits for
// its exit code.
func startTestnet(t *testing.T, args ...string) (*syncBuffer, func() int) {
	t.Helper()
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	env := Env{Stdin: strings.NewReader(""), Stdout: out, Stderr: out, Getenv: func(string) string { return "" }}
	go func() { done <- Run(ctx, env, append([]string{"testnet", "start"}, args...)) }()
	var once sync.Once
	var code int
	wait := func() int {
		once.Do(func() { code = <-done })
		return code
	}
	t.Cleanup(func() {
		cancel()
		wait()
	})
	return out, wait
}

// testnetStatus runs `bias testnet status` and returns each node's state
// and height.
func testnetStatus(t *testing.T, dir string) map[string][2]string {
	t.Helper()
	r := runCLI(t, "testnet", "status", "--dir", dir)
	if r.code != 0 {
		t.Fatalf("testnet status: %s", r)
	}
	m := map[string][2]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			t.Fatalf("testnet status line %q", line)
		}
		h := ""
		if i := strings.Index(line, "height "); i >= 0 {
			h = strings.Fields(line[i:])[1]
		}
		m[f[0]] = [2]string{f[1], h}
	}
	return m
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
	}
}

func height(t *testing.T, st map[string][2]string, name string) int {
	t.Helper()
	h, err := strconv.Atoi(st[name][1])
	if err != nil {
		return -1
	}
	return h
}

// TestTestnetSurvivesANodeDown runs a four-validator testnet as
// processes: one node killed, the others keep committing and `testnet
// status` shows it stopped; `testnet start` again starts it alone and it
// catches up; `testnet stop` stops them all.
func TestTestnetSurvivesANodeDown(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "net")
	if r := runCLI(t, "testnet", "init", "--validators", "4", "--dir", dir, "--timeout-commit", "100ms"); r.code != 0 {
		t.Fatalf("testnet init: %s", r)
	}
	out, wait := startTestnet(t, "--dir", dir, "--log-level", "warn")
	names := []string{"node0", "node1", "node2", "node3"}
	waitFor(t, "four nodes running", func() bool {
		st := testnetStatus(t, dir)
		for _, n := range names {
			if st[n][0] != "running" || height(t, st, n) < 1 {
				return false
			}
		}
		return true
	})

	// A second node on a running home names the process that holds it.
	pid3 := homePID(filepath.Join(dir, "node3"))
	if r := runCLI(t, "node", "--home", filepath.Join(dir, "node3")); r.code == 0 || !strings.Contains(r.stderr, "pid "+strconv.Itoa(pid3)) {
		t.Fatalf("a second node on node3's home: %s", r)
	}

	api0 := "http://" + strings.TrimPrefix(testnetAPI(t, dir, "node0"), "http://")
	provider, err := os.ReadFile(filepath.Join(dir, "node0", "provider", "did"))
	if err != nil {
		t.Fatal(err)
	}
	register := func(name string) string {
		t.Helper()
		key := filepath.Join(t.TempDir(), name+".key")
		if r := runCLI(t, "key", "new", key); r.code != 0 {
			t.Fatal(r)
		}
		r := runCLI(t, "--node", api0, "register", "--key", key, "--provider", strings.TrimSpace(string(provider)))
		if r.code != 0 {
			t.Fatalf("register at node0: %s", r)
		}
		return field(t, r.stdout, "did")
	}
	register("before")

	if err := syscall.Kill(pid3, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node3 shown stopped", func() bool { return testnetStatus(t, dir)["node3"][0] == "stopped" })
	waitFor(t, "testnet start to report node3's exit", func() bool { return strings.Contains(out.String(), "node3  exited") })
	st := testnetStatus(t, dir)
	h0 := height(t, st, "node0")
	for _, n := range names[:3] {
		if st[n][0] != "running" {
			t.Fatalf("%s is %s after node3 was killed:\n%s", n, st[n][0], out)
		}
	}
	// Three of four validators keep committing.
	during := register("during")
	st = testnetStatus(t, dir)
	if h := height(t, st, "node0"); h <= h0 {
		t.Fatalf("node0 height %d after a write with node3 down, was %d", h, h0)
	}
	target := height(t, st, "node0")

	// A second start starts node3 alone, and it catches up.
	again, waitAgain := startTestnet(t, "--dir", dir, "--log-level", "warn")
	waitFor(t, "node3 restarted and caught up", func() bool {
		st := testnetStatus(t, dir)
		return st["node3"][0] == "running" && height(t, st, "node3") >= target
	})
	for _, n := range names[:3] {
		if !strings.Contains(again.String(), n+"  already running") {
			t.Errorf("the second testnet start did not skip %s:\n%s", n, again)
		}
	}
	// Its status may show a block a moment before its state serves it.
	api3 := testnetAPI(t, dir, "node3")
	waitFor(t, "node3 to serve "+during, func() bool {
		r := runCLI(t, "--node", api3, "show", during)
		return r.code == 0 && strings.Contains(r.stdout, during)
	})

	r := runCLI(t, "testnet", "stop", "--dir", dir)
	if r.code != 0 {
		t.Fatalf("testnet stop: %s", r)
	}
	for _, n := range names {
		if !strings.Contains(r.stdout, n+"  stopped (pid ") {
			t.Errorf("testnet stop did not stop %s:\n%s", n, r.stdout)
		}
		if s := testnetStatus(t, dir)[n][0]; s != "stopped" {
			t.Errorf("%s is %s after testnet stop", n, s)
		}
	}
	// The first start saw node3 fail, the second saw its node stopped.
	if code := wait(); code != 1 || !strings.Contains(out.String(), "error: node3 exited with an error") {
		t.Errorf("the first testnet start exited %d:\n%s", code, out)
	}
	if code := waitAgain(); code != 0 || !strings.Contains(again.String(), "node3  stopped") {
		t.Errorf("the second testnet start exited %d:\n%s", code, again)
	}
}

// testnetAPI is a node's API URL as testnet status prints it.
func testnetAPI(t *testing.T, dir, name string) string {
	t.Helper()
	r := runCLI(t, "testnet", "status", "--dir", dir)
	for _, line := range strings.Split(r.stdout, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return f[len(f)-1]
		}
	}
	t.Fatalf("no %s in testnet status:\n%s", name, r)
	return ""
}

// TestTestnetInitPorts: init picks free ports by default, refuses a port
// in use and naming it, and takes its flags from BIAS_ variables below the
// command line.
func TestTestnetInitPorts(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close() //nolint:errcheck // test listener
	busy := l.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	r := runCLI(t, "testnet", "init", "--validators", "2", "--dir", filepath.Join(dir, "a"), "--http-base", strconv.Itoa(busy))
	if r.code == 0 || !strings.Contains(r.stderr, "port "+strconv.Itoa(busy)+" on 127.0.0.1 is in use") {
		t.Fatalf("init on a busy port: %s", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !os.IsNotExist(err) {
		t.Errorf("a refused init left %s: %v", filepath.Join(dir, "a"), err)
	}

	env := map[string]string{"BIAS_VALIDATORS": "3", "BIAS_NETWORK": "envnet"}
	r = runCLIEnv(t, env, "testnet", "init", "--dir", filepath.Join(dir, "b"), "--validators", "2")
	if r.code != 0 {
		t.Fatalf("init: %s", r)
	}
	if n := strings.Count(r.stdout, "provider did:bias:envnet:"); n != 2 {
		t.Errorf("--validators 2 with BIAS_VALIDATORS=3 and BIAS_NETWORK=envnet made %d envnet validators:\n%s", n, r.stdout)
	}
	r = runCLIEnv(t, env, "testnet", "init", "--dir", filepath.Join(dir, "c"))
	if n := strings.Count(r.stdout, "provider did:bias:envnet:"); r.code != 0 || n != 3 {
		t.Errorf("BIAS_VALIDATORS=3 made %d validators: %s", n, r)
	}
	r = runCLIEnv(t, map[string]string{"BIAS_VALIDATORS": "three"}, "testnet", "init", "--dir", filepath.Join(dir, "d"))
	if r.code == 0 || !strings.Contains(r.stderr, "BIAS_VALIDATORS") {
		t.Errorf("BIAS_VALIDATORS=three: %s", r)
	}
}

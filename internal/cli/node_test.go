package cli

import (
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestNodeBootstrapAndPrecedence: the first run of bias node prints the
// bootstrap summary, whose next command works; a later run does not print
// it again, and takes --http from the flag over BIAS_HTTP over the config
// file.
func TestNodeBootstrapAndPrecedence(t *testing.T) {
	t.Parallel()
	home := filepath.Join(t.TempDir(), "home")
	out := runBackground(t, "node", "--home", home, "--http", "127.0.0.1:0", "--p2p", "tcp://127.0.0.1:0")
	waitFor(t, "the first run to serve", func() bool { return strings.Contains(out.String(), " serving ") })
	s := out.String()
	for _, want := range []string{
		"initialised " + home, filepath.Join(home, "config", "bias.json"), filepath.Join(home, "config", "genesis.json"),
		"provider DID:       did:bias:local:", filepath.Join(home, "provider", "admin.key"), "next, in another shell:",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the bootstrap summary does not show %q:\n%s", want, s)
		}
	}
	next := regexp.MustCompile(`bias --node (http://127\.0\.0\.1:\d+) status`).FindStringSubmatch(s)
	if next == nil {
		t.Fatalf("no next command in:\n%s", s)
	}
	if r := runCLI(t, "--node", next[1], "status"); r.code != 0 || !strings.Contains(r.stdout, `"network": "local"`) {
		t.Fatalf("the suggested next command: %s", r)
	}
	// A second node on the home is refused while this one runs; stop it.
	if r := runCLI(t, "node", "--home", home); r.code == 0 || !strings.Contains(r.stderr, "is used by bias node pid") {
		t.Fatalf("a second node on the same home: %s", r)
	}
	out.stop()

	// The config file says 127.0.0.1:0; BIAS_HTTP wins over it, the flag
	// over BIAS_HTTP.
	port := freePort(t)
	out = runBackgroundEnv(t, map[string]string{"BIAS_HTTP": "127.0.0.1:" + port}, "node", "--home", home, "--p2p", "tcp://127.0.0.1:0")
	waitFor(t, "the second run to serve", func() bool { return strings.Contains(out.String(), " serving ") })
	if s := out.String(); strings.Contains(s, "initialised") || !strings.Contains(s, "serving http://127.0.0.1:"+port+" ") {
		t.Errorf("second run with BIAS_HTTP=127.0.0.1:%s:\n%s", port, s)
	}
	out.stop()
	// BIAS_HTTP's port is held now, so that --http 127.0.0.1:0 cannot be
	// given it again by chance (and BIAS_HTTP, if it won, could not bind).
	held, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close() //nolint:errcheck // probe
	out = runBackgroundEnv(t, map[string]string{"BIAS_HTTP": "127.0.0.1:" + port}, "node", "--home", home, "--p2p", "tcp://127.0.0.1:0", "--http", "127.0.0.1:0")
	waitFor(t, "the third run to serve", func() bool { return strings.Contains(out.String(), " serving ") })
	if s := out.String(); strings.Contains(s, "serving http://127.0.0.1:"+port+" ") {
		t.Errorf("--http 127.0.0.1:0 lost to BIAS_HTTP:\n%s", s)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close() //nolint:errcheck // probe
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}

// TestNodeEVM: bias node on the EVM engine over an in-process simulated
// chain, chosen by BIAS_LEDGER: it serves, names its anchor contract, and
// keeps the engine in its home; its state is refused at the next start
// (the chain ended with the run), and so is the other engine.
func TestNodeEVM(t *testing.T) {
	t.Parallel()
	home := filepath.Join(t.TempDir(), "home")
	out := runBackgroundEnv(t, map[string]string{"BIAS_LEDGER": "evm"}, "node", "--home", home, "--http", "127.0.0.1:0", "--p2p", "tcp://127.0.0.1:0")
	waitFor(t, "the EVM node to serve", func() bool { return strings.Contains(out.String(), " serving ") })
	s := out.String()
	if !regexp.MustCompile(`anchor contract 0x[0-9a-fA-F]{40} `).MatchString(s) {
		t.Errorf("no anchor contract in:\n%s", s)
	}
	api := regexp.MustCompile(`serving (http://127\.0\.0\.1:\d+) `).FindStringSubmatch(s)
	if api == nil {
		t.Fatalf("no API in:\n%s", s)
	}
	// Just after it serves, the follower may still be applying the blocks
	// its own start sealed (status exits 6, "catching up"): it must become
	// ready.
	var r result
	waitFor(t, "the EVM node to be ready", func() bool {
		r = runCLI(t, "--node", api[1], "status")
		return r.code != 6
	})
	if r.code != 0 || !strings.Contains(r.stdout, `"network": "local"`) {
		t.Fatalf("status of the EVM node: %s", r)
	}
	out.stop()
	if r := runCLI(t, "node", "--home", home, "--http", "127.0.0.1:0", "--p2p", "tcp://127.0.0.1:0"); r.code == 0 ||
		!strings.Contains(r.stderr, "in-process simulated chain") {
		t.Fatalf("a restart on a simulated chain's state: %s", r)
	}
	if r := runCLI(t, "node", "--home", home, "--ledger", "cometbft", "--http", "127.0.0.1:0"); r.code == 0 ||
		!strings.Contains(r.stderr, "initialised for the evm ledger") {
		t.Fatalf("an EVM home started on cometbft: %s", r)
	}
	if r := runCLI(t, "node", "--home", t.TempDir(), "--ledger", "evm", "--evm-contract", "0x12"); r.code == 0 || !strings.Contains(r.stderr, "evm.contract") {
		t.Fatalf("a bad --evm-contract: %s", r)
	}
}

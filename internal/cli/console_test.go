package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/op"
)

// chromiumPath is Debian's chromium (.ci/run installs it).
const chromiumPath = "/usr/bin/chromium"

// screenshotsEnv names the directory (from the module's root, unless
// absolute) the browser test writes each page's screenshot to; unset, it
// writes none.
const screenshotsEnv = "BIAS_CONSOLE_SCREENSHOTS"

// browserContext starts a headless Chromium with a fresh profile; it
// fails the test when Chromium is not installed.
func browserContext(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the console's browser test needs Chromium at %s (apt-get install chromium): %v", chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The browser starts, and lives as long as ctx: later steps run with
	// timeouts of their own, derived from it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	// A generous bound for the whole test, so that a stuck browser fails
	// it rather than the package's timeout.
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelTimeout)
	return ctx
}

// screenshooter writes full-page PNGs of the browser's pages to the
// directory screenshotsEnv names, if any.
type screenshooter struct {
	t   *testing.T
	dir string
}

func newScreenshooter(t *testing.T) screenshooter {
	dir := os.Getenv(screenshotsEnv)
	if dir != "" && !filepath.IsAbs(dir) {
		dir = filepath.Join("..", "..", dir)
	}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil { //nolint:gosec // the directory the developer asked the screenshots in
			t.Fatal(err)
		}
	}
	return screenshooter{t: t, dir: dir}
}

func (s screenshooter) take(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if s.dir == "" {
			return nil
		}
		png, err := chromedp.FullScreenshot(100)(ctx, t)
		if err != nil {
			return err
		}
		s.t.Logf("screenshot %s.png (%d bytes)", name, len(png))
		return os.WriteFile(filepath.Join(s.dir, name+".png"), png, 0o644)
	})
}

// startConsoleCmd runs bias console against the fixture's node on a free
// port, and returns its login URL.
func startConsoleCmd(t *testing.T, f *fixture) string {
	t.Helper()
	run := runBackground(t, "--node", f.url, "console", "--listen", "127.0.0.1:0", "--provider", f.provider, "--key", f.admin)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		for _, line := range strings.Split(run.String(), "\n") {
			if u, ok := strings.CutPrefix(line, "console: "); ok {
				return strings.TrimSpace(u)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("bias console printed no URL: %q", run.String())
		}
	}
}

// TestConsoleInBrowser drives a real headless Chromium through bias
// console against a real node: it logs in with the printed URL, sees the
// network's health, finds a pending device, validates it and sees its
// status change, revokes another device and sees the revocation arrive
// on the live stream (in another tab), and sees the contracts and their
// versions. With BIAS_CONSOLE_SCREENSHOTS=docs/console it writes each
// page's screenshot there.
func TestConsoleInBrowser(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pending := f.h.Register(op.KindDevice, f.h.Provider.DID, cose.AlgEdDSA).DID.String()
	// A service and a device, validated, whose authentications the live
	// stream shows, and the device revoked from the console.
	svcKey, _ := f.newKey("printer.key")
	devKey, _ := f.newKey("cam.key")
	svc := field(t, f.must("register", "--kind", "service", "--key", svcKey, "--provider", f.provider), "did")
	doomed := field(t, f.must("register", "--key", devKey, "--provider", f.provider), "did")
	for _, id := range []string{svc, doomed} {
		f.must("provider", "validate", id, "--key", f.admin)
	}
	authenticate := func(n int) error {
		ch, pr := f.path(fmt.Sprintf("challenge-%d.txt", n)), f.path(fmt.Sprintf("proof-%d.txt", n))
		if err := os.WriteFile(ch, []byte(f.must("auth", "challenge", svc, "--key", svcKey, "--url", "https://printer.example")), 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(pr, []byte(f.must("auth", "answer", doomed, ch, "--key", devKey, "--url", "https://printer.example")), 0o600); err != nil {
			return err
		}
		if r := f.bias("auth", "verify", ch, pr); (r.code == 0) != (n == 1) {
			return fmt.Errorf("authentication %d: %s", n, r)
		}
		return nil
	}
	f.h.Register(op.KindDevice, f.h.Provider.DID, cose.AlgES256) // another pending one, left so
	acc := f.path("open.cel")
	if err := os.WriteFile(acc, []byte(`device["kind"] == "device"`), 0o600); err != nil {
		t.Fatal(err)
	}
	f.must("contract", "deploy", "--key", f.admin, "--provider", f.provider, "--name", "open", "--kind", "access", "--file", acc)
	if err := os.WriteFile(acc, []byte(`device["kind"] == "device" && device["status"] == "validated"`), 0o600); err != nil {
		t.Fatal(err)
	}
	f.must("contract", "update", "--key", f.admin, "--provider", f.provider, "--name", "open", "--file", acc)

	login := startConsoleCmd(t, f)
	base := login[:strings.Index(login, "/login")]
	ctx := browserContext(t)
	shot := newScreenshooter(t)
	text := func(sel string) string {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
			t.Fatalf("wait for %s: %v", sel, err)
		}
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	// page is where the browser is and what it shows, for a failure.
	page := func(ctx context.Context) string {
		short, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		v, err := chromedp.Run(short, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
		if err != nil {
			return err.Error()
		}
		return v
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		step, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(step, actions...); err != nil {
			t.Fatalf("%s: %v; the browser shows %s", what, err, page(ctx))
		}
	}
	visible := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.WaitVisible(chromedp.CSS(sel)) }
	click := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }
	eval := func(what, js string) any {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[any](js))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}

	// Log in: the printed URL opens a session and lands on the health page.
	run("log in", chromedp.Navigate(login), visible("#height"))
	if got := text("#ready"); got != "ready" {
		t.Errorf("readiness %q, want ready", got)
	}
	if got := text("#height"); got == "" || got == "0" {
		t.Errorf("height %q", got)
	}
	run("health screenshot", shot.take("health"))

	// The pending device is listed; validate it from the list.
	row := `#pending tr[data-did="` + pending + `"]`
	run("pending page", chromedp.Navigate(base+"/pending"), visible(row), shot.take("pending"))
	run("validate", click(row+` button.validate`), visible("#found-status"))
	if got := text("#found-status"); got != op.StatusValidated {
		t.Errorf("status after Validate %q, want validated", got)
	}
	if got := text("#done"); !strings.HasPrefix(got, "validate committed at height") {
		t.Errorf("notice %q", got)
	}
	run("entity screenshot", shot.take("entity"))
	if v := f.show(pending); v.Status != op.StatusValidated {
		t.Errorf("the node says %s, want validated", v.Status)
	}
	// The list follows: the device is validated there too, and no longer pending.
	run("entities list", chromedp.Navigate(base+"/entities?status=validated"),
		visible(`#entities tr[data-did="`+pending+`"][data-status="validated"]`))
	run("entities screenshot", chromedp.Navigate(base+"/entities"), visible("#entities"), shot.take("entities"))
	run("pending again", chromedp.Navigate(base+"/pending"), visible("#pending"))
	if gone := eval("pending row", `document.querySelector('#pending tr[data-did="`+pending+`"]') === null`); gone != true {
		t.Errorf("%s is still listed as pending after its validation", pending)
	}

	// The live stream, open in this tab; the revocation made in another.
	run("stream", chromedp.Navigate(base+"/stream"), visible(`body[data-stream="live"]`))
	if err := authenticate(1); err != nil {
		t.Fatal(err)
	}
	run("decision on the stream", visible(`#stream-rows tr.decision[data-did="`+doomed+`"]`))
	if got := text(`#stream-rows tr.decision[data-did="` + doomed + `"]`); !strings.Contains(got, "allowed") || !strings.Contains(got, svc) {
		t.Errorf("decision row %q", got)
	}
	tab, closeTab := chromedp.NewContext(ctx)
	defer closeTab()
	if err := chromedp.Do(tab,
		chromedp.Navigate(base+"/revoke?did="+doomed),
		visible("#revoke-did"),
		chromedp.SendKeys(chromedp.CSS("#revoke-reason"), "stolen"),
		shot.take("revoke"),
		click("#revoke"),
		visible("#found-status"),
	); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if revoked, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("#found-status"))); err != nil || strings.TrimSpace(revoked) != op.StatusRevoked {
		t.Errorf("status after Revoke %q (%v), want revoked", revoked, err)
	}
	arrived := `#stream-rows tr.entity[data-did="` + doomed + `"][data-op="` + op.TypeRevoke + `"]`
	run("revocation on the stream", visible(arrived))
	if got := text(arrived); !strings.Contains(got, "revoked") {
		t.Errorf("stream row %q", got)
	}
	// The revoked device is refused, and the refusal is on the stream too
	// (attributed to no one: the node names a device only in a decision
	// whose proof verified).
	if err := authenticate(2); err != nil {
		t.Fatal(err)
	}
	refused := `#stream-rows tr.decision-denied[data-reason="` + string(authn.FailRevoked) + `"]`
	run("refusal on the stream", visible(refused))
	if got := text(refused); !strings.Contains(got, "denied") {
		t.Errorf("refusal row %q", got)
	}
	run("stream screenshot", shot.take("stream"))

	// Contracts and their versions.
	run("contracts", chromedp.Navigate(base+"/contracts"), visible(".contract"))
	if got := text(".contract h2"); !strings.Contains(got, "open") || !strings.Contains(got, "version 2") {
		t.Errorf("contract heading %q", got)
	}
	if versions := eval("versions", `document.querySelectorAll('.contract table tr').length - 1`); versions != 2.0 {
		t.Errorf("%d versions shown, want 2", versions)
	}
	run("contracts screenshot", shot.take("contracts"))

	// Logged out, the pages are the login form's.
	run("log out", click(".logout button"), visible(`input[name="token"]`), shot.take("login"))
	if got := eval("logged out", `location.pathname + " " + (document.querySelector("nav") === null)`); got != "/login true" {
		t.Errorf("after logging out: %v", got)
	}
	run("a page without a session", chromedp.Navigate(base+"/pending"), visible(`input[name="token"]`))
	if got := eval("no session", `document.querySelector("#pending") === null`); got != true {
		t.Errorf("the pending list shows without a session")
	}
}

// TestConsoleCommandRefusals: bias console refuses, before it listens, a
// non-loopback address without TLS, a key that is not the provider's, a
// login token too short to guess at, and a run without provider or key.
func TestConsoleCommandRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	stranger, _ := f.newKey("stranger.key")
	short := f.path("short.txt")
	if err := os.WriteFile(short, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		code int
		want string
		args []string
	}{
		{"fail/non-loopback-without-tls", exitUsage, "not a loopback address", []string{"--listen", "0.0.0.0:0", "--provider", f.provider, "--key", f.admin}},
		{"fail/name-without-tls", exitUsage, "not a loopback address", []string{"--listen", "console.example:8090", "--provider", f.provider, "--key", f.admin}},
		{"fail/tls-cert-without-key", exitUsage, "tls-key", []string{"--tls-cert", "x.pem", "--provider", f.provider, "--key", f.admin}},
		{"fail/not-an-admin-key", exitInternal, "is not an admin key", []string{"--listen", "127.0.0.1:0", "--provider", f.provider, "--key", stranger}},
		{"fail/short-token", exitUsage, "at least 16 characters", []string{"--listen", "127.0.0.1:0", "--provider", f.provider, "--key", f.admin, "--token-file", short}},
		{"fail/no-key", exitUsage, "--provider and --key are needed", []string{"--listen", "127.0.0.1:0", "--provider", f.provider}},
	} {
		r := f.bias(append([]string{"console"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) || strings.Contains(r.stdout, "console: ") {
			t.Errorf("%s: want exit %d and %q: %s", tc.name, tc.code, tc.want, r)
		}
	}
}

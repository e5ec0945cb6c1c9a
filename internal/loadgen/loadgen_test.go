package loadgen_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bias-iot/bias/internal/loadgen"
	"github.com/bias-iot/bias/internal/node/nodetest"
)

// TestRun: a small run against a real node enrolls its devices, measures
// at each mark, soaks with every kind of operation and none fails; the
// bounds check passes within generous bounds and names what is broken
// otherwise.
func TestRun(t *testing.T) {
	h := nodetest.Start(t)
	var logMu sync.Mutex
	var logged []string
	logf := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		logged = append(logged, fmt.Sprintf(format, args...))
		t.Logf(format, args...)
	}
	rep, err := loadgen.Run(t.Context(), loadgen.Config{
		Client: h.Client, Admin: h.Provider.Signer, AdminKid: h.Provider.Kid, PID: os.Getpid(), Home: h.Home,
		Devices: 5000, Batch: 1000, Marks: []int{2000}, Resolutions: 50,
		Auth: 200, Soak: 3 * time.Second, Rate: 60, Sample: time.Second, Log: logf, Progress: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The enrollment's progress: the devices enrolled of all, the rate,
	// the RSS and the time left.
	logMu.Lock()
	progress := regexp.MustCompile(`^enrolled (\d+) of 5000 devices \(.*%\): \d+ devices/s over the last 50ms, \d+/s since the start, RSS \d+ MiB, about \S+ left at that average$`)
	seen := 0
	for _, l := range logged {
		if m := progress.FindStringSubmatch(l); m != nil {
			if n, _ := strconv.Atoi(m[1]); n < seen || n > 5000 {
				t.Errorf("progress went from %d to %d devices", seen, n)
			} else {
				seen = n
			}
		}
	}
	logMu.Unlock()
	if seen == 0 {
		t.Errorf("no progress with devices enrolled in the log:\n%s", strings.Join(logged, "\n"))
	}
	var out bytes.Buffer
	rep.Table(&out)
	t.Log("\n" + out.String())
	if len(rep.Marks) != 2 || rep.Marks[0].Devices != 2000 || rep.Marks[1].Devices != 5000 {
		t.Fatalf("marks: %+v", rep.Marks)
	}
	for _, m := range rep.Marks {
		if m.RSS <= 0 || m.Disk <= 0 || m.P50 <= 0 || m.P99 < m.P50 || m.Rate <= 0 {
			t.Errorf("mark %+v: a measure is missing", m)
		}
	}
	for _, k := range []string{"register", "resolve", "authenticate", "revoke"} {
		if rep.Soak.Ops[k] == 0 {
			t.Errorf("soak: no %s in %v", k, rep.Soak.Ops)
		}
	}
	if a := rep.Auth; a.Full <= 0 || a.P50 <= 0 || a.P99 < a.P50 || !strings.Contains(out.String(), "authentication over HTTP") {
		t.Errorf("authentication: %+v", a)
	}
	// The node's own figures, from its request histogram.
	if a := rep.Auth; a.NodeP50 <= 0 || a.NodeP99 < a.NodeP50 || a.NodeWithin5ms <= 0 || a.NodeWithin5ms > 1 ||
		!strings.Contains(out.String(), "the node's own time to serve them") {
		t.Errorf("the node's own authentication latency: %+v", a)
	}
	if rep.Soak.Failed != 0 || len(rep.Soak.RSS) < 2 || rep.Soak.AuthP50 <= 0 {
		t.Errorf("soak: %+v", rep.Soak)
	}
	if err := rep.Check(loadgen.Bounds{MaxRSS: 64 << 30, MaxDiskPerDevice: 1 << 30}); err != nil {
		t.Errorf("generous bounds: %v", err)
	}
	err = rep.Check(loadgen.Bounds{MaxRSS: 1 << 20, MaxDiskPerDevice: 1, DiskFrom: 3000})
	if err == nil || !strings.Contains(err.Error(), "RSS") || !strings.Contains(err.Error(), "at 5000 devices the home takes") ||
		strings.Contains(err.Error(), "at 2000 devices the home") {
		t.Errorf("broken bounds: %v", err)
	}

	// A second run on the same node goes on from the devices it holds:
	// its marks and disk per device count them too.
	more := loadgen.Config{
		Client: h.Client, Admin: h.Provider.Signer, AdminKid: h.Provider.Kid, PID: os.Getpid(), Home: h.Home,
		Devices: 7000, Existing: 5000, Batch: 1000, Marks: []int{4000, 6000}, Resolutions: 20,
	}
	rep2, err := loadgen.Run(t.Context(), more)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep2.Marks) != 2 || rep2.Marks[0].Devices != 6000 || rep2.Marks[1].Devices != 7000 {
		t.Fatalf("marks of the second run: %+v", rep2.Marks)
	}
	if m := rep2.Marks[1]; m.DiskPerDevice() != float64(m.Disk)/7000 || m.Rate <= 0 {
		t.Errorf("the second run's last mark: %+v", m)
	}
	more.Existing = 7000
	if _, err := loadgen.Run(t.Context(), more); err == nil || !strings.Contains(err.Error(), "holds 7000 devices already") {
		t.Errorf("a run with nothing to enroll: %v", err)
	}
}

// TestMain: the command's exit codes: 2 for bad usage, 1 for a broken
// bound (an RSS bound of 1 MiB), 0 within its bounds.
func TestMainCommand(t *testing.T) {
	h := nodetest.Start(t)
	base := []string{"--node", h.Node.URL(), "--home", h.Home, "--pid", strconv.Itoa(os.Getpid()), "--devices", "2000", "--marks", "", "--soak", "0"}
	for _, c := range []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"fail/no-node", []string{"--home", h.Home}, 2, "--node and --home are required"},
		{"fail/bad-mark", append(append([]string{}, base...), "--marks", "ten"), 2, "is not a device count"},
		{"fail/rss-bound", append(append([]string{}, base...), "--max-rss-mb", "1"), 1, "over the bound of 1 MiB"},
		{"ok", append(append([]string{}, base...), "--max-rss-mb", "65536"), 0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := loadgen.Main(context.Background(), c.args, &stdout, &stderr)
			if code != c.code || !strings.Contains(stderr.String(), c.want) {
				t.Fatalf("exit %d, want %d; stderr: %s", code, c.code, stderr.String())
			}
			if code != 2 && !strings.Contains(stdout.String(), "disk B/device") {
				t.Errorf("no table: %s", stdout.String())
			}
		})
	}
}

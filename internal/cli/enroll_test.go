package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bias-iot/bias/op"
)

// readReport reads an enrollment report: one rowResult per row, in order.
func readReport(t *testing.T, path string) []rowResult {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 || strings.Join(recs[0], ",") != "row,status,did,reason" {
		t.Fatalf("report header: %q", recs)
	}
	var out []rowResult
	for i, r := range recs[1:] {
		n, err := strconv.Atoi(r[0])
		if err != nil || n != i+1 {
			t.Fatalf("report line %d names row %q, want %d", i+2, r[0], i+1)
		}
		out = append(out, rowResult{Row: n, Status: r[1], DID: r[2], Reason: r[3]})
	}
	return out
}

// runCtx runs `bias args...` against the fixture's node with ctx.
func (f *fixture) runCtx(ctx context.Context, args ...string) result {
	var stdout, stderr bytes.Buffer
	env := Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	code := Run(ctx, env, append([]string{"--node", f.url}, args...))
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// enrolledDIDs counts the entities each enroll operation of the
// provider created, by DID.
func (f *fixture) enrolledDIDs() map[string]int {
	f.t.Helper()
	seen := map[string]int{}
	after := ""
	for {
		page, err := f.h.Client.EventHistory(f.t.Context(), after, 1, 1000, "", f.provider)
		if err != nil {
			f.t.Fatal(err)
		}
		for _, e := range page.Events {
			if e.Op == op.TypeEnroll {
				seen[e.DID]++
			}
		}
		if page.Next == "" || len(page.Events) == 0 {
			return seen
		}
		after = page.Next
	}
}

// TestEnrollInterruptedAndResumed cancels bulk enrollments at random
// batches, either before the node saw the batch or after it committed it
// (the client never learns), and runs them again: at the end every row is
// enrolled exactly once, and each report accounts for every row.
func TestEnrollInterruptedAndResumed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const rows, batch = 40, 6
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	for round, committed := range []bool{false, true, false, true} {
		ds := genDevices(t, rows, 10000*(round+1))
		file := f.path(fmt.Sprintf("round%d.csv", round))
		writeCSV(t, file, enrollHeader, ds)
		report := file + ".report.csv"
		cut := int64(1 + rng.IntN((rows+batch-1)/batch))
		ctx, cancel := context.WithCancel(t.Context())
		first := f.posts.Load()
		hook := func(_ http.ResponseWriter, r *http.Request, n int64) bool {
			if n-first != cut {
				return false
			}
			if committed { // the node commits the batch; the client has gone
				body, err := io.ReadAll(r.Body)
				if err == nil {
					_, err = f.h.Client.Submit(context.Background(), body)
				}
				if err != nil {
					t.Errorf("round %d: submit the cut batch: %v", round, err)
				}
			}
			cancel()
			return true
		}
		f.intercept.Store(&hook)
		r := f.runCtx(ctx, "provider", "enroll", "--key", f.admin, "--provider", f.provider, "--file", file, "--batch", strconv.Itoa(batch))
		f.intercept.Store(nil)
		cancel()
		if r.code == 0 || !strings.Contains(r.stderr, "run the same command again") {
			t.Fatalf("round %d: enroll cut at batch %d: %s", round, cut, r)
		}
		rep := readReport(t, report)
		if len(rep) != rows {
			t.Fatalf("round %d: the interrupted report has %d rows, want %d", round, len(rep), rows)
		}
		statuses := map[string]int{}
		for _, x := range rep {
			statuses[x.Status]++
		}
		if statuses[rowEnrolled] != int(cut-1)*batch || statuses[rowUnknown] != min(batch, rows-int(cut-1)*batch) ||
			statuses[rowEnrolled]+statuses[rowUnknown]+statuses[rowNotDone] != rows {
			t.Fatalf("round %d cut at batch %d: report statuses %v", round, cut, statuses)
		}

		r = f.bias("provider", "enroll", "--key", f.admin, "--provider", f.provider, "--file", file, "--batch", strconv.Itoa(batch))
		if r.code != 0 {
			t.Fatalf("round %d: re-run: %s", round, r)
		}
		rep = readReport(t, report)
		if len(rep) != rows {
			t.Fatalf("round %d: the report has %d rows, want %d", round, len(rep), rows)
		}
		exists := 0
		for i, x := range rep {
			if x.Status != rowEnrolled && x.Status != rowExists {
				t.Errorf("round %d: row %d is %s after the re-run", round, i+1, x.Status)
			}
			if x.Status == rowExists {
				exists++
			}
			if !strings.Contains(r.stdout, fmt.Sprintf("%d,%s\n", i+1, x.DID)) {
				t.Errorf("round %d: stdout does not list row %d as %s", round, i+1, x.DID)
			}
			if v := f.show(x.DID); len(v.Keys) != 1 || v.Keys[0].PublicKey != ds[i].pub || v.Status != op.StatusValidated {
				t.Errorf("round %d: row %d is %+v on the ledger", round, i+1, v)
			}
		}
		if want := int(cut-1) * batch; committed {
			want += min(batch, rows-want)
			if exists != want {
				t.Errorf("round %d: %d rows found on the ledger, want %d", round, exists, want)
			}
		} else if exists != want {
			t.Errorf("round %d: %d rows found on the ledger, want %d", round, exists, want)
		}
	}
	// Exactly once: one enrollment per row of every round.
	got := f.enrolledDIDs()
	if len(got) != 4*rows {
		t.Errorf("%d devices enrolled, want %d", len(got), 4*rows)
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("%s enrolled %d times", id, n)
		}
	}
}

// TestEnrollBadRows enrolls a file with bad rows: the good ones are
// enrolled, each bad one is reported with its reason (rows counted from 1),
// the run exits with the refusal code, and a re-run changes nothing.
func TestEnrollBadRows(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ds := genDevices(t, 12, 50000)
	ds[2].pub = "not base64!"
	ds[4].alg = "rsa"
	ds[8].pub, ds[8].alg = ds[1].pub, ds[1].alg // the key of row 2 again
	ds[10].aliases = []string{"no-such-scheme"} // refused by the ledger, inside a batch
	file := f.path("bad-rows.csv")
	// Row 7 has too many fields, row 12 an attribute without '='.
	lines := strings.Split(string(csvBytes(t, enrollHeader, ds)), "\n")
	lines[7] += ",extra"
	lines[12] = "ed25519," + ds[11].pub + ",,model"
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	reasons := map[int]string{3: "base64url", 5: `unknown algorithm "rsa"`, 7: "5 fields, want 4", 9: "the key of row 2 again", 11: string(op.ReasonInvalidField), 12: `attribute "model": want k=v`}

	report := f.path("bad-rows.report.csv")
	for run := range 2 {
		r := f.bias("provider", "enroll", "--key", f.admin, "--provider", f.provider, "--file", file, "--batch", "20", "--report", report)
		if r.code != exitRefused || !strings.Contains(r.stderr, "6 of 12 rows failed") {
			t.Fatalf("run %d: %s", run, r)
		}
		want := "6 enrolled, 0 already"
		if run == 1 {
			want = "0 enrolled, 6 already"
		}
		if !strings.Contains(r.stderr, want) {
			t.Errorf("run %d: counts: %s", run, r.stderr)
		}
		rep := readReport(t, report)
		if len(rep) != 12 {
			t.Fatalf("run %d: %d report rows", run, len(rep))
		}
		for i, x := range rep {
			row := i + 1
			if why, bad := reasons[row]; bad {
				if x.Status != rowFailed || x.DID != "" || !strings.Contains(x.Reason, why) {
					t.Errorf("run %d: row %d: %+v, want failed with %q", run, row, x, why)
				}
				continue
			}
			if x.Status != rowEnrolled && x.Status != rowExists || x.Reason != "" {
				t.Errorf("run %d: row %d: %+v", run, row, x)
			}
			if v := f.show(x.DID); v.Keys[0].PublicKey != ds[i].pub {
				t.Errorf("run %d: row %d enrolled as %+v", run, row, v)
			}
			if !strings.Contains(r.stdout, fmt.Sprintf("%d,%s\n", row, x.DID)) {
				t.Errorf("run %d: stdout does not list row %d:\n%s", run, row, r.stdout)
			}
		}
	}
	if got := len(f.enrolledDIDs()); got != 6 {
		t.Errorf("%d devices enrolled, want 6", got)
	}
}

// TestKeyBatchAndSample makes a batch of device keys with `bias key new
// --batch`, enrolls its file, and enrolls the documented sample file.
func TestKeyBatchAndSample(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dir := f.path("batch")
	out := f.must("key", "new", "--batch", "5", "--dir", dir, "--alg", "p256")
	list := filepath.Join(dir, "devices.csv")
	if !strings.Contains(out, list) {
		t.Errorf("key new --batch: %s", out)
	}
	for i := 1; i <= 5; i++ {
		k := filepath.Join(dir, fmt.Sprintf("device-%04d.key", i))
		pub := field(t, f.must("key", "show", k), "publicKey")
		b, err := os.ReadFile(list)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "p256,"+pub+",,\n") {
			t.Errorf("%s does not list %s:\n%s", list, pub, b)
		}
	}
	if msg := f.fail("key", "new", "--batch", "5", "--dir", dir); !strings.Contains(msg, "devices.csv") {
		t.Errorf("a second batch in the same dir: %s", msg)
	}
	for _, bad := range [][]string{{"--batch", "0", "--dir", dir}, {"--batch", "3"}} {
		if r := f.bias(append([]string{"key", "new"}, bad...)...); r.code != exitUsage {
			t.Errorf("key new %v: %s", bad, r)
		}
	}
	for _, file := range []string{list, filepath.Join("..", "..", "docs", "enroll-sample.csv")} {
		r := f.bias("provider", "enroll", "--key", f.admin, "--provider", f.provider, "--file", file, "--report", f.path("r.csv"))
		if r.code != 0 || strings.Count(r.stdout, "did:bias:") == 0 {
			t.Errorf("enroll %s: %s", file, r)
		}
	}
}

package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// TestEnrollTimeoutCommitted: a batch that the node answers 504 timeout
// and commits later is enrolled, exactly once, by a single run. In front
// of a real node, a proxy answers the first submission with a 504 as the
// node's API makes it (reason timeout, hash, from), or as a gateway does
// (plain text), after the node committed it, or before the node saw it:
//
//   - node-504: the run looks the batch up by its hash and finds it;
//   - gateway-504, no lookup: the node offers no lookup (404), so the run
//     submits the same bytes again, is refused as replayed, and counts
//     the rows enrolled only once the node serves each device;
//   - not-seen: the lookup finds nothing, the run submits again, and the
//     node commits it then.
func TestEnrollTimeoutCommitted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	target, err := url.Parse(f.h.Node.URL())
	if err != nil {
		t.Fatal(err)
	}
	for round, tc := range []struct {
		name             string
		commit, noLookup bool
		plain            bool // a gateway's 504, not the node's
		posts            int64
	}{
		{name: "node-504", commit: true, posts: 1},
		{name: "gateway-504-no-lookup", commit: true, noLookup: true, plain: true, posts: 2},
		{name: "not-seen", posts: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var posts, lookups atomic.Int64
			rp := httputil.NewSingleHostReverseProxy(target)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == http.MethodPost && r.URL.Path == "/v1/operations":
					if posts.Add(1) == 1 {
						timeOut(t, f, w, r, tc.commit, tc.plain)
						return
					}
				case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/operations/"):
					lookups.Add(1)
					if tc.noLookup {
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(http.StatusNotFound)
						_, _ = io.WriteString(w, `{"reason":"not-found","message":"no such route"}`)
						return
					}
				}
				rp.ServeHTTP(w, r)
			}))
			defer srv.Close()

			const rows = 7
			ds := genDevices(t, rows, 50000*(round+1))
			file := f.path(tc.name + ".csv")
			writeCSV(t, file, enrollHeader, ds)
			var stdout, stderr bytes.Buffer
			env := Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
			code := Run(t.Context(), env, []string{"--node", srv.URL, "provider", "enroll", "--key", f.admin, "--provider", f.provider, "--file", file})
			if code != 0 {
				t.Fatalf("enroll: exit %d: %s", code, stderr.String())
			}
			if posts.Load() != tc.posts || lookups.Load() < 1 {
				t.Fatalf("%d submissions and %d lookups, want %d and some", posts.Load(), lookups.Load(), tc.posts)
			}
			for i, x := range readReport(t, file+".report.csv") {
				if x.Status != rowEnrolled {
					t.Errorf("row %d: %s %s", i+1, x.Status, x.Reason)
				}
				if v := f.show(x.DID); len(v.Keys) != 1 || v.Keys[0].PublicKey != ds[i].pub || v.Status != op.StatusValidated {
					t.Errorf("row %d is %+v on the ledger", i+1, v)
				}
			}
		})
	}
	for id, n := range f.enrolledDIDs() {
		if n != 1 {
			t.Errorf("%s enrolled %d times", id, n)
		}
	}
}

// timeOut answers a submission 504 timeout, as the node's API does (its
// hash and the height to look it up from) or as a gateway does, after
// the node committed it (commit) or without handing it on.
func timeOut(t *testing.T, f *fixture, w http.ResponseWriter, r *http.Request, commit, plain bool) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Error(err)
		return
	}
	st, err := f.h.Client.Status(context.WithoutCancel(r.Context()))
	if err != nil {
		t.Error(err)
		return
	}
	if commit {
		if res, err := f.h.Client.Submit(context.WithoutCancel(r.Context()), body); err != nil || res.Status != "committed" {
			t.Errorf("submit the batch behind the client's back: %+v %v", res, err)
		}
	}
	if plain {
		w.WriteHeader(http.StatusGatewayTimeout)
		_, _ = io.WriteString(w, "upstream timed out\n")
		return
	}
	res := sdk.ErrorBody{Reason: string(op.ReasonTimeout), Message: "not committed within 30s; it may still commit", Hash: hashOf(body), From: max(st.Height-1, 1)}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusGatewayTimeout)
	if err := json.NewEncoder(w).Encode(res); err != nil {
		t.Error(err)
	}
}

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestEnrollReplayedIsChecked: a refusal as replayed is not taken on its
// word. A proxy answers a one-device batch 409 replayed without handing
// it to the node: the node serves no such device, so the row is unknown
// and the run asks to be run again (it once reported the row as on the
// ledger); the re-run enrolls it.
func TestEnrollReplayedIsChecked(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ds := genDevices(t, 1, 70000)
	file := f.path("replayed.csv")
	writeCSV(t, file, enrollHeader, ds)
	hook := func(w http.ResponseWriter, r *http.Request, _ int64) bool {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		_ = json.NewEncoder(w).Encode(sdk.ErrorBody{Reason: string(op.ReasonReplayed), Message: "enroll.items[0] is already registered", Hash: hashOf(body)})
		return true
	}
	f.intercept.Store(&hook)
	r := f.bias("provider", "enroll", "--key", f.admin, "--provider", f.provider, "--file", file)
	f.intercept.Store(nil)
	if rep := readReport(t, file+".report.csv"); r.code == 0 || !strings.Contains(r.stderr, "run the same command again") || rep[0].Status != rowUnknown {
		t.Fatalf("a replayed refusal of a batch the node never saw: %s, report %+v", r, rep)
	}
	if r := f.bias("provider", "enroll", "--key", f.admin, "--provider", f.provider, "--file", file); r.code != 0 {
		t.Fatalf("re-run: %s", r)
	}
	if rep := readReport(t, file+".report.csv"); rep[0].Status != rowEnrolled || f.show(rep[0].DID).Keys[0].PublicKey != ds[0].pub {
		t.Fatalf("re-run: report %+v", rep)
	}
}

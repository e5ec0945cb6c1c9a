package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/proof"
)

// TestEveryCommandHasHelpAndExample walks the command tree: every runnable
// command has a summary and an example, and its --help shows the example.
func TestEveryCommandHasHelpAndExample(t *testing.T) {
	t.Parallel()
	root := newRoot(Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }})
	var runnable []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.RunE != nil || c.Run != nil {
			runnable = append(runnable, c)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)

	var paths []string
	for _, c := range runnable {
		path := strings.Fields(c.CommandPath())[1:] // without "bias"
		name := strings.Join(path, " ")
		paths = append(paths, name)
		t.Run(name, func(t *testing.T) {
			if strings.TrimSpace(c.Short) == "" {
				t.Errorf("bias %s has no Short", name)
			}
			if strings.TrimSpace(c.Example) == "" {
				t.Errorf("bias %s has no Example", name)
			}
			r := runCLI(t, append(path, "--help")...)
			if r.code != 0 {
				t.Fatalf("bias %s --help: %s", name, r)
			}
			if c.Example != "" && !strings.Contains(r.stdout, c.Example) {
				t.Errorf("bias %s --help does not show the example %q:\n%s", name, c.Example, r.stdout)
			}
			if !strings.Contains(r.stdout, c.Short) && !strings.Contains(r.stdout, strings.TrimSpace(c.Long)) {
				t.Errorf("bias %s --help shows neither Short nor Long:\n%s", name, r.stdout)
			}
		})
	}
	// Guard against a walk that finds nothing.
	for _, want := range []string{
		"node", "testnet init", "testnet start", "testnet status", "testnet stop", "key new", "key show", "register", "show", "update", "rotate", "deactivate",
		"provider validate", "provider reject", "provider revoke", "provider enroll", "provider ticket", "provider show",
		"provider list", "status",
	} {
		if !slices.Contains(paths, want) {
			t.Errorf("runnable command %q not found; found %q", want, paths)
		}
	}
}

// TestDeviceLifecycle drives a device through register, validate, update,
// rotate, revoke and deactivate with the CLI alone.
func TestDeviceLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	key, pub := f.newKey("cam.key")
	fi, err := os.Stat(key)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key new wrote mode %v, want 0600", fi.Mode().Perm())
	}
	if got := field(t, f.must("key", "show", key), "publicKey"); got != pub {
		t.Fatalf("key show publicKey = %s, key new printed %s", got, pub)
	}
	if got := f.bias("key", "new", key); got.code == 0 {
		t.Fatalf("key new over an existing file succeeded: %s", got)
	}
	if got := field(t, f.must("key", "show", key), "publicKey"); got != pub {
		t.Fatal("key new over an existing file changed it")
	}

	const imei = "urn:imei:490154203237518"
	const imeiCanonical = "urn:imei:49015420-323751-8"
	out := f.must("register", "--key", key, "--provider", f.provider, "--alias", imei, "--attr", "model=cam-1")
	id := field(t, out, "did")
	if !strings.HasPrefix(id, "did:bias:"+f.h.Network+":") {
		t.Fatalf("register printed did %q", id)
	}
	if !strings.Contains(out, "committed at height") {
		t.Fatalf("register output: %s", out)
	}
	v := f.show(id)
	if v.DID != id || v.Status != op.StatusPending || v.Version != 1 || v.Kind != op.KindDevice || v.Provider != f.provider {
		t.Fatalf("after register: %+v", v)
	}
	if len(v.Keys) != 1 || v.Keys[0].ID != "k1" || v.Keys[0].PublicKey != pub {
		t.Fatalf("after register, keys %+v, want k1 %s", v.Keys, pub)
	}
	// The IMEI is stored in its canonical (RFC 7254) spelling.
	if !slices.Equal(v.Aliases, []string{imeiCanonical}) || v.Attributes["model"] != "cam-1" {
		t.Fatalf("after register: aliases %q attributes %v", v.Aliases, v.Attributes)
	}

	f.must("provider", "validate", id, "--key", f.admin, "--reason", "checked")
	if v := f.show(id); v.Status != op.StatusValidated || v.Version != 2 || v.StatusReason != "checked" {
		t.Fatalf("after validate: %+v", v)
	}

	// update replaces the attributes given, keeps the aliases not given.
	// The provider signs it: a device's own change of its attributes
	// would wait for the provider (pending) again.
	f.must("update", id, "--key", f.admin, "--attr", "fw=2")
	v = f.show(id)
	if v.Version != 3 || v.Status != op.StatusValidated {
		t.Fatalf("after update: %+v", v)
	}
	if !slices.Equal(v.Aliases, []string{imeiCanonical}) {
		t.Fatalf("update --attr dropped the aliases: %q", v.Aliases)
	}
	if v.Attributes["fw"] != "2" {
		t.Fatalf("after update, attributes %v, want fw=2", v.Attributes)
	}
	if len(v.Keys) != 1 || v.Keys[0].PublicKey != pub {
		t.Fatalf("update changed the keys: %+v", v.Keys)
	}

	// rotate: k1 is replaced by the new key, k2.
	key2, pub2 := f.newKey("cam2.key")
	f.must("rotate", id, "--key", key, "--new-key", key2)
	v = f.show(id)
	if v.Version != 4 || len(v.Keys) != 1 || v.Keys[0].ID != "k2" || v.Keys[0].PublicKey != pub2 {
		t.Fatalf("after rotate: version %d keys %+v, want k2 %s", v.Version, v.Keys, pub2)
	}
	if !slices.Equal(v.Aliases, []string{imeiCanonical}) || v.Attributes["fw"] != "2" {
		t.Fatalf("rotate changed the document: aliases %q attributes %v", v.Aliases, v.Attributes)
	}
	// The old key no longer signs for the device.
	before := f.posts.Load()
	f.fail("update", id, "--key", key, "--attr", "fw=3")
	f.fail("deactivate", id, "--key", key)
	if f.posts.Load() != before {
		t.Fatal("an operation signed by the old key was submitted")
	}
	if v := f.show(id); v.Version != 4 || v.Status != op.StatusValidated {
		t.Fatalf("after signing with the old key: %+v", v)
	}

	f.must("provider", "revoke", id, "--key", f.admin, "--reason", "compromised")
	if v := f.show(id); v.Status != op.StatusRevoked || v.StatusReason != "compromised" || v.Version != 5 {
		t.Fatalf("after revoke: %+v", v)
	}
	// A revoked entity cannot be validated again.
	if msg := f.fail("provider", "validate", id, "--key", f.admin); !strings.Contains(msg, string(op.ReasonInvalidTransition)) {
		t.Fatalf("validate after revoke: %s", msg)
	}

	// The revocation stands against the entity's own (perhaps stolen) key;
	// the provider deactivates it.
	if msg := f.fail("deactivate", id, "--key", key2); !strings.Contains(msg, string(op.ReasonInvalidTransition)) {
		t.Fatalf("self-deactivate after revoke: %s", msg)
	}
	f.must("deactivate", id, "--key", f.admin, "--reason", "decommissioned")
	if v := f.show(id); v.Status != op.StatusDeactivated || v.Version != 6 {
		t.Fatalf("after deactivate: %+v", v)
	}

	if v := f.show("--version", "1", id); v.Status != op.StatusPending || v.Version != 1 || v.Keys[0].PublicKey != pub {
		t.Fatalf("show --version 1: %+v", v)
	}
	if v := f.show("--version", "3", id); v.Status != op.StatusValidated || v.Attributes["fw"] != "2" {
		t.Fatalf("show --version 3: %+v", v)
	}

	v = f.show("--proof", id)
	if v.Proof == nil || v.Proof.AppHash == "" || len(v.Proof.Proof) == 0 {
		t.Fatalf("show --proof: proof %+v", v.Proof)
	}
	appHash, err := hex.DecodeString(v.Proof.AppHash)
	if err != nil {
		t.Fatalf("appHash %q: %v", v.Proof.AppHash, err)
	}
	if err := proof.Verify(appHash, v.Proof.Key, v.Proof.Value, v.Proof.Proof); err != nil {
		t.Fatalf("the proof of show --proof does not verify: %v", err)
	}
	if v.Status != op.StatusDeactivated {
		t.Fatalf("show --proof status %s", v.Status)
	}
	// --verify: the node is not trusted, the genesis file's validators are.
	genesis := filepath.Join(f.h.Home, "config", "genesis.json")
	r := f.bias("show", "--verify", genesis, id)
	if r.code != 0 || !strings.Contains(r.stderr, "verified: ") || !strings.Contains(r.stdout, `"status": "deactivated"`) {
		t.Fatalf("show --verify: %s", r)
	}
	// --trust-file keeps the newest verified header: the next --verify
	// starts from it (and needs the file to hold what it wrote).
	trust := f.path("trusted.json")
	if r := f.bias("show", "--verify", genesis, "--trust-file", trust, id); r.code != 0 || !strings.Contains(r.stdout, `"status": "deactivated"`) {
		t.Fatalf("show --verify --trust-file: %s", r)
	}
	kept, err := os.ReadFile(trust)
	if err != nil || !strings.Contains(string(kept), f.h.Network) {
		t.Fatalf("the trust file: %q %v", kept, err)
	}
	if r := f.bias("show", "--verify", genesis, "--trust-file", trust, id); r.code != 0 {
		t.Fatalf("show --verify from the kept header: %s", r)
	}
	if err := os.WriteFile(trust, []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := f.bias("show", "--verify", genesis, "--trust-file", trust, id); r.code == 0 || !strings.Contains(r.stderr, "trusted header store") {
		t.Fatalf("show --verify with a damaged trust file: %s", r)
	}
	if r := f.bias("show", "--trust-file", trust, id); r.code != exitUsage {
		t.Fatalf("--trust-file without --verify: %s", r)
	}
	// A node that lies in its JSON (not in the proven bytes): --verify
	// shows what was proven.
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(f.h.Node.URL() + r.URL.RequestURI())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		b = []byte(strings.ReplaceAll(string(b), `"status": "deactivated"`, `"status": "validated"`))
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		w.Write(b)
	}))
	defer liar.Close()
	lied := runCLI(t, "--node", liar.URL, "show", id)
	if !strings.Contains(lied.stdout, `"status": "validated"`) {
		t.Fatalf("the lying node's plain answer: %s", lied)
	}
	if r := runCLI(t, "--node", liar.URL, "show", "--verify", genesis, id); r.code != 0 || !strings.Contains(r.stdout, `"status": "deactivated"`) {
		t.Fatalf("show --verify through a lying node: %s", r)
	}
	nobody := did.New(f.h.Network, []byte("nobody")).String()
	if r := f.bias("show", "--verify", genesis, nobody); r.code == 0 || !strings.Contains(r.stderr, "verified: "+nobody+" is not registered") ||
		!strings.Contains(r.stderr, string(op.ReasonUnknownEntity)) {
		t.Fatalf("show --verify of an unknown DID: %s", r)
	}
	other := f.path("other-genesis.json")
	b, err := os.ReadFile(genesis)
	if err != nil {
		t.Fatal(err)
	}
	//nolint:gosec // G703 taints the data, read from a file; the path is the fixture's
	if err := os.WriteFile(other, []byte(strings.Replace(string(b), `"chain_id": "`+f.h.Network+`"`, `"chain_id": "elsewhere"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if msg := f.fail("show", "--verify", other, id); !strings.Contains(msg, "genesis file is of elsewhere") {
		t.Fatalf("show --verify with another network's genesis: %s", msg)
	}
}

// TestServiceAndTicket registers a service with an enrollment ticket and
// an endpoint.
func TestServiceAndTicket(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key, pub := f.newKey("print.key")
	ticket := f.path("print.ticket")
	out := f.must("provider", "ticket", "--key", f.admin, "--provider", f.provider, "--device-key", key, "--claim", "serial=SN1", "--out", ticket)
	if !strings.Contains(out, "ticket written to "+ticket) {
		t.Fatalf("provider ticket output: %s", out)
	}
	if fi, err := os.Stat(ticket); err != nil || fi.Size() == 0 {
		t.Fatalf("ticket file: %v, %v", fi, err)
	}

	// The ticket binds the key it names: another key cannot use it.
	other, _ := f.newKey("other.key")
	before := f.posts.Load()
	if msg := f.fail("register", "--kind", "service", "--key", other, "--provider", f.provider, "--ticket", ticket); !strings.Contains(msg, string(op.ReasonBadTicket)) {
		t.Fatalf("register with another key's ticket: %s", msg)
	}
	if f.posts.Load() != before+1 {
		t.Fatal("the refused registration was not submitted once")
	}

	out = f.must("register", "--kind", "service", "--key", key, "--provider", f.provider, "--ticket", ticket,
		"--endpoint", "api,Print,https://print.example")
	id := field(t, out, "did")
	v := f.show(id)
	if v.Kind != op.KindService || v.Status != op.StatusPending || v.Keys[0].PublicKey != pub {
		t.Fatalf("service: %+v", v)
	}
	if v.Ticket["serial"] != "SN1" {
		t.Fatalf("ticketClaims = %v, want serial=SN1", v.Ticket)
	}
	want := op.Endpoint{ID: "api", Type: "Print", URI: "https://print.example"}
	if !slices.Equal(v.Endpoints, []op.Endpoint{want}) {
		t.Fatalf("endpoints = %+v, want %+v", v.Endpoints, want)
	}
	// The raw JSON has the documented field names.
	var raw map[string]any
	if err := json.Unmarshal([]byte(f.must("show", id)), &raw); err != nil {
		t.Fatal(err)
	}
	if tc, _ := raw["ticketClaims"].(map[string]any); tc["serial"] != "SN1" {
		t.Fatalf("show JSON ticketClaims = %v", raw["ticketClaims"])
	}
	if _, ok := raw["endpoints"].([]any); !ok {
		t.Fatalf("show JSON endpoints = %v", raw["endpoints"])
	}
}

// device is one row of an enrollment file.
type device struct {
	alg, pub string
	aliases  []string
	attrs    map[string]string
}

func genDevices(t *testing.T, n, first int) []device {
	t.Helper()
	var ds []device
	for i := range n {
		alg, name := cose.AlgEdDSA, "ed25519"
		if i%3 == 2 {
			alg, name = cose.AlgES256, "p256"
		}
		s, _, err := cose.GenerateKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		d := device{alg: name, pub: base64.RawURLEncoding.EncodeToString(s.Public().Bytes())}
		if i%2 == 0 {
			d.aliases = []string{fmt.Sprintf("urn:dev:mac:%012x", first+i), fmt.Sprintf("tel:+4930%08d", first+i)}
		}
		if i%4 != 1 {
			d.attrs = map[string]string{"model": "cam-1", "n": strconv.Itoa(first + i)}
		}
		ds = append(ds, d)
	}
	return ds
}

func writeCSV(t *testing.T, path string, header []string, ds []device) {
	t.Helper()
	if err := os.WriteFile(path, csvBytes(t, header, ds), 0o600); err != nil {
		t.Fatal(err)
	}
}

// csvBytes is an enrollment file of the devices.
func csvBytes(t *testing.T, header []string, ds []device) []byte {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(header); err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		var kv []string
		for k, v := range d.attrs {
			kv = append(kv, k+"="+v)
		}
		slices.Sort(kv)
		if err := w.Write([]string{d.alg, d.pub, strings.Join(d.aliases, ";"), strings.Join(kv, ";")}); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeJSON(t *testing.T, path string, ds []device) {
	t.Helper()
	type row struct {
		Alg        string            `json:"alg"`
		PublicKey  string            `json:"publicKey"`
		Aliases    []string          `json:"aliases,omitempty"`
		Attributes map[string]string `json:"attributes,omitempty"`
	}
	var rows []row
	for _, d := range ds {
		rows = append(rows, row{d.alg, d.pub, d.aliases, d.attrs})
	}
	b, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestEnrollCSVAndJSON enrolls devices in bulk from CSV and JSON files.
func TestEnrollCSVAndJSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	enroll := func(file string, ds []device, batch int) {
		t.Helper()
		before := f.posts.Load()
		r := f.bias("provider", "enroll", "--key", f.admin, "--provider", f.provider, "--file", file, "--batch", strconv.Itoa(batch))
		if r.code != 0 {
			t.Fatalf("enroll %s: %s", file, r)
		}
		if got, want := f.posts.Load()-before, int64((len(ds)+batch-1)/batch); got != want {
			t.Errorf("enroll %s submitted %d operations, want %d", file, got, want)
		}
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		if len(lines) != len(ds) {
			t.Fatalf("enroll %s printed %d lines for %d devices:\n%s", file, len(lines), len(ds), r.stdout)
		}
		seen := map[string]bool{}
		for i, line := range lines {
			n, id, ok := strings.Cut(line, ",")
			if !ok || n != strconv.Itoa(i+1) || !strings.HasPrefix(id, "did:bias:"+f.h.Network+":") {
				t.Fatalf("enroll %s line %d: %q, want \"%d,did:bias:...\"", file, i+1, line, i+1)
			}
			if seen[id] {
				t.Fatalf("enroll %s: DID %s printed twice", file, id)
			}
			seen[id] = true
			d := ds[i]
			v := f.show(id)
			if v.Status != op.StatusValidated || v.Kind != op.KindDevice || v.Provider != f.provider {
				t.Fatalf("enrolled device %d: %+v", i+1, v)
			}
			if len(v.Keys) != 1 || v.Keys[0].ID != "k1" || v.Keys[0].PublicKey != d.pub {
				t.Fatalf("enrolled device %d: keys %+v, want k1 %s", i+1, v.Keys, d.pub)
			}
			if !slices.Equal(v.Aliases, d.aliases) {
				t.Fatalf("enrolled device %d: aliases %q, want %q", i+1, v.Aliases, d.aliases)
			}
			if len(v.Attributes) != len(d.attrs) {
				t.Fatalf("enrolled device %d: attributes %v, want %v", i+1, v.Attributes, d.attrs)
			}
			for k, want := range d.attrs {
				if v.Attributes[k] != want {
					t.Fatalf("enrolled device %d: attributes %v, want %v", i+1, v.Attributes, d.attrs)
				}
			}
		}
		total := strconv.Itoa(len(ds))
		if !strings.Contains(r.stderr, "enrolled "+total+"/"+total) || !strings.Contains(r.stderr, "100%") {
			t.Fatalf("enroll %s: the progress bar does not reach 100%%:\n%q", file, r.stderr)
		}
		if !strings.HasPrefix(r.stderr, "\renrolled 0/"+total) || !strings.HasSuffix(r.stderr, "\n") {
			t.Fatalf("enroll %s: progress bar %q", file, r.stderr)
		}
	}

	csvDevs := genDevices(t, 25, 1000)
	csvPath := f.path("devices.csv")
	writeCSV(t, csvPath, enrollHeader, csvDevs)
	enroll(csvPath, csvDevs, 10)

	jsonDevs := genDevices(t, 5, 2000)
	jsonPath := f.path("devices.json")
	writeJSON(t, jsonPath, jsonDevs)
	enroll(jsonPath, jsonDevs, 10)

	// Files that cannot be read as a whole fail before anything is
	// submitted, with the usage exit code.
	badHeader := f.path("bad-header.csv")
	writeCSV(t, badHeader, []string{"alg", "key", "aliases", "attributes"}, csvDevs[:3])
	badJSON := f.path("bad.json")
	if err := os.WriteFile(badJSON, []byte(`[{"alg":"ed25519","publicKey":"`+csvDevs[0].pub+`","pubkey":"x"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := f.path("empty.csv")
	writeCSV(t, empty, enrollHeader, nil)
	for _, c := range []struct {
		file string
		want []string
	}{
		{badHeader, []string{badHeader, "header must be alg,publicKey,aliases,attributes"}},
		{badJSON, []string{badJSON, "pubkey"}},
		{empty, []string{"holds no devices"}},
		{f.path("missing.csv"), []string{"missing.csv", "bias key new --batch"}},
	} {
		before := f.posts.Load()
		r := f.bias("provider", "enroll", "--key", f.admin, "--provider", f.provider, "--file", c.file, "--batch", "10")
		if r.code != exitUsage || r.stdout != "" || !strings.HasPrefix(r.stderr, "error: ") || strings.Contains(r.stderr, "enrolled") {
			t.Errorf("enroll %s: %s", filepath.Base(c.file), r)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("enroll %s: error %q does not mention %q", filepath.Base(c.file), r.stderr, w)
			}
		}
		if f.posts.Load() != before {
			t.Errorf("enroll %s submitted an operation", filepath.Base(c.file))
		}
	}
	for _, b := range []string{"0", strconv.Itoa(op.MaxEnrollItems + 1)} {
		if msg := f.fail("provider", "enroll", "--key", f.admin, "--provider", f.provider, "--file", csvPath, "--batch", b); !strings.Contains(msg, "--batch") {
			t.Errorf("enroll --batch %s: %s", b, msg)
		}
	}
}

// TestErrors checks that failures exit non-zero with a useful message.
func TestErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	// A node that is not there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	key, _ := f.newKey("dev.key")
	for _, args := range [][]string{
		{"status"},
		{"show", "did:bias:local:abc"},
		{"register", "--key", key, "--provider", f.provider},
	} {
		r := runCLI(t, append([]string{"--node", dead}, args...)...)
		if r.code == 0 || r.stdout != "" || !strings.HasPrefix(r.stderr, "error: ") || !strings.Contains(r.stderr, "connection refused") {
			t.Errorf("bias --node %s %s: %s", dead, strings.Join(args, " "), r)
		}
	}

	// A key file that others can read is refused.
	loose, _ := f.newKey("loose.key")
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	before := f.posts.Load()
	for _, args := range [][]string{
		{"register", "--key", loose, "--provider", f.provider},
		{"key", "show", loose},
	} {
		msg := f.fail(args...)
		if !strings.Contains(msg, "readable by others") || !strings.Contains(msg, "chmod 600") || !strings.Contains(msg, loose) {
			t.Errorf("bias %s: %q does not explain the permissions", strings.Join(args, " "), msg)
		}
	}
	if f.posts.Load() != before {
		t.Error("a registration with a loose key file was submitted")
	}

	// Only an admin key of the entity's provider validates it.
	id := field(t, f.must("register", "--key", key, "--provider", f.provider), "did")
	stranger, _ := f.newKey("stranger.key")
	otherAdmin := filepath.Join(f.h.Home, "provider", "other.key")
	before = f.posts.Load()
	for _, k := range []string{stranger, otherAdmin} {
		msg := f.fail("provider", "validate", id, "--key", k)
		if !strings.Contains(msg, "is neither a key of "+id+" nor an admin key of its provider") {
			t.Errorf("validate with %s: %s", filepath.Base(k), msg)
		}
	}
	if f.posts.Load() != before {
		t.Error("a validation with a non-admin key was submitted")
	}
	// The device's own key signs, but the node refuses self-validation.
	if msg := f.fail("provider", "validate", id, "--key", key); !strings.Contains(msg, string(op.ReasonUnauthorized)) {
		t.Errorf("self-validate: %s", msg)
	}
	if v := f.show(id); v.Status != op.StatusPending || v.Version != 1 {
		t.Fatalf("after refused validations: %+v", v)
	}
	// Likewise for tickets: a non-admin key cannot sign one.
	if msg := f.fail("provider", "ticket", "--key", stranger, "--provider", f.provider, "--device-key", key, "--out", f.path("t")); !strings.Contains(msg, "is not an admin key of") {
		t.Errorf("ticket with a non-admin key: %s", msg)
	}
	if _, err := os.Stat(f.path("t")); !os.IsNotExist(err) {
		t.Errorf("a refused ticket was written: %v", err)
	}

	// Usage errors.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"show"}, "accepts 1 arg"},
		{[]string{"register", "--provider", f.provider}, `required flag(s) "key" not set`},
		{[]string{"show", "not-a-did"}, "HTTP 400"},
		{[]string{"show", "did:bias:" + f.h.Network + ":nobody"}, "invalid did"},
		{[]string{"show", did.New(f.h.Network, []byte("nobody")).String()}, string(op.ReasonUnknownEntity)},
		{[]string{"key", "new", "--alg", "rsa", f.path("rsa.key")}, `unknown algorithm "rsa"`},
		{[]string{"update", id, "--key", key, "--attr", "novalue"}, `want KEY=VALUE`},
		{[]string{"update", id, "--key", key, "--endpoint", "api,Print"}, `want ID,TYPE,URI`},
		{[]string{"nosuchcommand"}, "unknown command"},
	} {
		if msg := f.fail(c.args...); !strings.Contains(msg, c.want) {
			t.Errorf("bias %s: %q does not mention %q", strings.Join(c.args, " "), msg, c.want)
		}
	}
}

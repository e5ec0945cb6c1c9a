//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// TestJoin admits a fifth operator E into a running network of four
// validator processes, with the commands of docs/operations.md ("Joining
// a running network"), in its order: E makes its keys and a node home,
// takes the network's genesis and the validators' node ids, and starts
// its node; A proposes E's admission, B and C vote; E's validator then
// signs blocks. A, B, C and E remove D, whose vote is then refused; a
// proposal short of the threshold never takes effect; registrations
// commit throughout; and `bias show --verify` against the original
// genesis verifies a record registered after both changes.
func TestJoin(t *testing.T) {
	ps, ops := startNetworkOf(t, 0)
	ctx := context.Background()
	A, B, C, D := ops[0], ops[1], ops[2], ops[3]
	admin := func(i int) string { return filepath.Join(ps[i].home, "provider", "admin.key") }
	url := func(p *proc) string {
		cfg, err := node.LoadConfig(p.home)
		if err != nil {
			t.Fatal(err)
		}
		return "http://" + cfg.HTTP
	}
	dir := t.TempDir()
	genesis := filepath.Join(dir, "genesis.json") // the original genesis, as every operator holds it
	copyFile(t, filepath.Join(ps[0].home, "config", "genesis.json"), genesis)

	regs := registerThroughout(t, ps[0].c, A)

	// 1. E's admin key.
	eKey := filepath.Join(dir, "e-admin.key")
	out := bias(t, "key", "new", eKey)
	ePub := field(t, out, "publicKey")

	// 2. E's node home (its own keys), the network's genesis, the
	// validators' node ids as its peers; then E starts its node.
	base := freeBase(t, 2)
	bias(t, "testnet", "init", "--validators", "1", "--network", "testnet", "--dir", filepath.Join(dir, "e"),
		"--http-base", fmt.Sprint(base), "--p2p-base", fmt.Sprint(base+1), "--host", "127.0.0.1", "--timeout-commit", "200ms")
	eHome := filepath.Join(dir, "e", "node0")
	copyFile(t, genesis, filepath.Join(eHome, "config", "genesis.json"))
	var peers []string
	for _, p := range ps {
		var st sdk.StatusView
		if err := json.Unmarshal([]byte(bias(t, "--node", url(p), "status")), &st); err != nil {
			t.Fatal(err)
		}
		cfg, err := node.LoadConfig(p.home)
		if err != nil {
			t.Fatal(err)
		}
		peers = append(peers, st.NodeID+"@"+strings.TrimPrefix(cfg.P2P, "tcp://"))
	}
	setConfig(t, eHome, "persistentPeers", strings.Join(peers, ","))
	eURL := fmt.Sprintf("http://127.0.0.1:%d", base)
	e := &proc{home: eHome, c: sdk.NewClient(eURL)}
	e.start(t)
	t.Cleanup(e.kill)
	waitUntil(t, 60*time.Second, "E's node synced", func() bool {
		st, err := e.c.Status(ctx)
		head, err2 := ps[0].c.Status(ctx)
		return err == nil && err2 == nil && !st.CatchingUp && st.Height >= head.Height-1 && st.Height > 1
	})
	eVal := validatorKey(t, eHome)

	// 3. A proposes E's admission; B and C vote: the third approval of
	// four executes it.
	admitID := proposal(t, bias(t, "--node", url(ps[0]), "gov", "propose", "--key", admin(0), "--provider", A.provider.String(),
		"--kind", "provider.admit", "--name", "operator-e", "--admin-key", "ed25519:"+ePub, "--validator-key", eVal, "--power", "10"))
	// A proposal that stays short of the threshold: A and B only.
	shortID := proposal(t, bias(t, "--node", url(ps[0]), "gov", "propose", "--key", admin(0), "--provider", A.provider.String(),
		"--kind", "validator.set", "--target", D.provider.String(), "--validator-key", validatorKey(t, ps[3].home), "--power", "12"))
	seen(t, ps[1], admitID, shortID)
	seen(t, ps[2], admitID)
	bias(t, "--node", url(ps[1]), "gov", "vote", shortID, "--key", admin(1), "--provider", B.provider.String())
	bias(t, "--node", url(ps[1]), "gov", "vote", admitID, "--key", admin(1), "--provider", B.provider.String())
	out = bias(t, "--node", url(ps[2]), "gov", "vote", admitID, "--key", admin(2), "--provider", C.provider.String())
	m := regexp.MustCompile(`admitted (did:bias:\S+)`).FindStringSubmatch(out)
	if !strings.Contains(out, " executed ") || m == nil {
		t.Fatalf("the third vote of four: %s", out)
	}
	eID := did.MustParse(m[1])
	admittedAt := regs.height()

	// 4. E's validator joins the set and signs commits.
	eAddr := validatorAddress(t, eVal)
	waitUntil(t, 60*time.Second, "a commit signed by E's validator", func() bool {
		st, err := ps[0].c.Status(ctx)
		if err != nil {
			return false
		}
		sh, err := ps[0].c.SignedHeader(ctx, st.Height)
		if err != nil {
			return false
		}
		for _, s := range sh.Commit.Signatures {
			if bytes.Equal(s.ValidatorAddress, eAddr) && len(s.Signature) > 0 {
				return true
			}
		}
		return false
	})
	fiveAt := regs.height()

	// 5. Removing D: A proposes, B, C and E (from its own node) vote.
	removeID := proposal(t, bias(t, "--node", url(ps[0]), "gov", "propose", "--key", admin(0), "--provider", A.provider.String(),
		"--kind", "provider.remove", "--target", D.provider.String()))
	seen(t, ps[1], removeID)
	seen(t, ps[2], removeID)
	seen(t, e, removeID)
	bias(t, "--node", url(ps[1]), "gov", "vote", removeID, "--key", admin(1), "--provider", B.provider.String())
	bias(t, "--node", url(ps[2]), "gov", "vote", removeID, "--key", admin(2), "--provider", C.provider.String())
	if out := bias(t, "--node", eURL, "gov", "vote", removeID, "--key", eKey, "--provider", eID.String()); !strings.Contains(out, " executed ") {
		t.Fatalf("the fourth vote of five: %s", out)
	}
	dVal := validatorAddress(t, validatorKey(t, ps[3].home))
	waitUntil(t, 60*time.Second, "D's validator out of the set", func() bool {
		st, err := ps[0].c.Status(ctx)
		if err != nil || len(st.Validators) != 4 {
			return false
		}
		for _, v := range st.Validators {
			if bytes.Equal(validatorAddress(t, base64.StdEncoding.EncodeToString(v.PubKey)), dVal) {
				return false
			}
		}
		return true
	})
	fourAt := regs.height()

	// D's vote no longer counts: it is refused by name.
	r := runBias(t, "--node", url(ps[3]), "gov", "vote", shortID, "--key", admin(3), "--provider", D.provider.String())
	if r.err == nil || !strings.Contains(r.stderr, string(op.ReasonUnauthorized)) || !strings.Contains(r.stderr, "removed") {
		t.Fatalf("a removed provider's vote: %s %s %v", r.stdout, r.stderr, r.err)
	}
	t.Logf("D's vote refused: %s", strings.TrimSpace(r.stderr))
	// The proposal short of the threshold never took effect.
	var short sdk.ProposalView
	if err := json.Unmarshal([]byte(bias(t, "--node", url(ps[0]), "gov", "show", shortID)), &short); err != nil {
		t.Fatal(err)
	}
	t.Logf("the short proposal: %s, %d of %d providers approve", short.Status, short.Counted, short.Providers)
	if short.Status == "executed" || short.Counted != 2 || short.Providers != 4 {
		t.Fatalf("a proposal of 2 approvals took effect: %+v", short)
	}

	// 6. A record registered after both changes, verified against the
	// original genesis by a client that trusts no node.
	dev, _ := (&harness{t: t}).register(ps[0], A, op.KindDevice)
	waitUntil(t, 30*time.Second, "E's node serves the record", func() bool { _, err := e.c.Entity(ctx, dev.String()); return err == nil })
	r = runBias(t, "--node", eURL, "show", "--verify", genesis, dev.String())
	if r.err != nil || !strings.Contains(r.stderr, "verified: ") || !strings.Contains(r.stdout, dev.String()) {
		t.Fatalf("show --verify after an admission and a removal: %s %s %v", r.stdout, r.stderr, r.err)
	}

	// Registrations committed before the admission, under five
	// validators and under four.
	regs.check(t, []span{{"before the admission", 0, admittedAt}, {"under five validators", fiveAt, fourAt}, {"under four", fourAt + 1, 1 << 62}})
}

// registrations is a background stream of registrations at one node.
type registrations struct {
	mu      sync.Mutex
	heights []int64
	err     error
	stop    chan struct{}
	wg      sync.WaitGroup
}

// registerThroughout registers a device of o at c every 100 ms until the
// test ends.
func registerThroughout(t *testing.T, c *sdk.Client, o operator) *registrations {
	r := &registrations{stop: make(chan struct{})}
	r.wg.Go(func() {
		for {
			select {
			case <-r.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			s, _, _ := cose.GenerateKey(cose.AlgEdDSA)
			tx, _, err := op.SignRegister(s, "k1", op.Payload{Network: "testnet", Register: &op.Register{Kind: op.KindDevice,
				Provider: o.provider.String(), Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}}}})
			var res *sdk.SubmitResult
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				res, err = c.Submit(ctx, tx)
				cancel()
			}
			r.mu.Lock()
			if err != nil {
				r.err = err
				r.mu.Unlock()
				return
			}
			r.heights = append(r.heights, res.Height)
			r.mu.Unlock()
		}
	})
	t.Cleanup(func() { close(r.stop); r.wg.Wait() })
	return r
}

// height is the height of the last registration committed.
func (r *registrations) height() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.heights) == 0 {
		return 0
	}
	return r.heights[len(r.heights)-1]
}

type span struct {
	what     string
	from, to int64
}

// check: no registration failed, and one committed in each span.
func (r *registrations) check(t *testing.T, spans []span) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		t.Fatalf("a registration failed: %v", r.err)
	}
	for _, sp := range spans {
		n := 0
		for _, h := range r.heights {
			if h >= sp.from && h <= sp.to {
				n++
			}
		}
		if n == 0 {
			t.Errorf("no registration committed %s (heights %d to %d; registrations at %v)", sp.what, sp.from, sp.to, r.heights)
		}
	}
	t.Logf("%d registrations committed from height %d to %d", len(r.heights), r.heights[0], r.heights[len(r.heights)-1])
}

type result struct {
	stdout, stderr string
	err            error
}

// runBias runs the built bias binary.
func runBias(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, biasBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return result{stdout.String(), stderr.String(), err}
}

// bias runs the built bias binary and returns its output; it must
// succeed.
func bias(t *testing.T, args ...string) string {
	t.Helper()
	r := runBias(t, args...)
	if r.err != nil {
		t.Fatalf("bias %s: %v\n%s%s", strings.Join(args, " "), r.err, r.stdout, r.stderr)
	}
	return r.stdout
}

// field is the value of "name: value" in out.
func field(t *testing.T, out, name string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, name+": "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in %q", name, out)
	return ""
}

// proposal is the id "bias gov propose" printed.
func proposal(t *testing.T, out string) string {
	t.Helper()
	m := regexp.MustCompile(`proposal ([0-9a-f]{64}) `).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no proposal id in %q", out)
	}
	return m[1]
}

// seen waits until p's node has committed the proposals ids (a vote for
// a proposal its node has not seen yet is refused).
func seen(t *testing.T, p *proc, ids ...string) {
	t.Helper()
	for _, id := range ids {
		waitUntil(t, 30*time.Second, "proposal "+id+" at "+p.home, func() bool {
			_, err := p.c.Proposal(context.Background(), id)
			return err == nil
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil { //nolint:gosec // the test's own temporary paths
		t.Fatal(err)
	}
}

// setConfig sets one field of home's config/bias.json.
func setConfig(t *testing.T, home, key string, value any) {
	t.Helper()
	path := filepath.Join(home, "config", "bias.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m[key] = value
	if b, err = json.MarshalIndent(m, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// validatorKey is pub_key.value of home's config/priv_validator_key.json:
// the consensus key, standard base64.
func validatorKey(t *testing.T, home string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(home, "config", "priv_validator_key.json"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		PubKey struct {
			Value string `json:"value"`
		} `json:"pub_key"`
	}
	if err := json.Unmarshal(b, &k); err != nil || k.PubKey.Value == "" {
		t.Fatalf("%s: %v", home, err)
	}
	return k.PubKey.Value
}

// validatorAddress is the address of the consensus key (standard base64).
func validatorAddress(t *testing.T, key string) []byte {
	t.Helper()
	pub, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(pub)
	return h[:20]
}

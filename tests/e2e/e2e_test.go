//go:build e2e

// Package e2e runs the seed's multi-operator cases on a network of four
// validator processes (operators A, B, C, D) on loopback, and kills and
// restarts nodes. Run with scripts/e2e.sh (go test -tags e2e ./tests/e2e/).
package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/keyfile"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

var biasBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bias-e2e-bin")
	if err != nil {
		panic(err)
	}
	biasBin = filepath.Join(dir, "bias")
	build := exec.Command("go", "build", "-o", biasBin, "../../cmd/bias")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		panic(err)
	}
	code := m.Run()
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, "remove the built binary:", err)
	}
	os.Exit(code)
}

type proc struct {
	home string
	cmd  *exec.Cmd
	c    *sdk.Client
}

func (p *proc) start(t *testing.T) {
	t.Helper()
	level := os.Getenv("BIAS_E2E_LOG_LEVEL") // the nodes' logs, printed when a test fails
	if level == "" {
		level = "warn"
	}
	cmd := exec.Command(biasBin, "node", "--home", p.home, "--log-level", level)
	logf, _ := os.OpenFile(filepath.Join(p.home, "node.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.cmd = cmd
}

func (p *proc) kill() {
	if p.cmd != nil {
		// It may have exited already, and Wait reports the kill: neither
		// is an error here.
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

func waitUntil(t *testing.T, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type operator struct {
	provider did.DID
	admin    cose.Signer
	kid      did.DID
}

func nonce() []byte { b := make([]byte, authn.NonceLen); rand.Read(b); return b }

// startNetwork starts four validators (operators A-D) and two edge full
// nodes as processes, and waits until every node has block 1.
func startNetwork(t *testing.T) ([]*proc, []operator) { return startNetworkOf(t, 2) }

// startNetworkOf starts four validators and fullNodes edge full nodes.
func startNetworkOf(t *testing.T, fullNodes int) ([]*proc, []operator) {
	dir := t.TempDir()
	nodes, err := node.InitTestnet(node.TestnetConfig{Dir: dir, Network: "testnet", Validators: 4, FullNodes: fullNodes, Host: "127.0.0.1",
		HTTPBase: freeBase(t, 4+fullNodes), P2PBase: freeBase(t, 4+fullNodes), TimeoutCommit: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var ps []*proc
	var ops []operator
	for _, n := range nodes {
		p := &proc{home: n.Config.Home, c: sdk.NewClient("http://" + n.Config.HTTP)}
		p.start(t)
		ps = append(ps, p)
		if !n.Validator {
			continue
		}
		s, err := keyfile.Load(n.AdminKey)
		if err != nil {
			t.Fatal(err)
		}
		pd := did.MustParse(n.ProviderDID)
		ops = append(ops, operator{provider: pd, admin: s, kid: pd.WithFragment(node.AdminKeyID)})
	}
	t.Cleanup(func() {
		for _, p := range ps {
			p.kill()
		}
		if t.Failed() {
			for _, p := range ps {
				b, _ := os.ReadFile(filepath.Join(p.home, "node.log"))
				t.Logf("%s log (tail):\n%s", p.home, tail(b, 6000))
			}
		}
	})
	for i, p := range ps {
		waitUntil(t, 60*time.Second, fmt.Sprintf("node %d up", i), func() bool {
			st, err := p.c.Status(context.Background())
			return err == nil && st.Height >= 1
		})
	}
	return ps, ops
}

// TestOperators: the roaming case across four operators, with failures.
func TestOperators(t *testing.T) {
	ps, ops := startNetwork(t)
	ctx := context.Background()
	h := &harness{t: t}
	A, B := ops[0], ops[1]
	must, sign, register, validate := h.must, h.sign, h.register, h.validate

	// Operator B's MEC service binds B's roaming contract: cars of A in areas 1, 2.
	must(ps[1], sign(B, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{Provider: B.provider.String(), Name: "roaming", Kind: op.ContractAccess,
		Source: `device["provider"] == "` + A.provider.String() + `" && request[?"area"].orValue("") in ["1", "2"]`}}))
	mec, mecKey := register(ps[1], B, op.KindService)
	validate(ps[1], B, mec)
	e, _ := ps[1].c.Entity(ctx, mec.String())
	must(ps[1], sign(B, op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: mec.String(), Version: e.Version,
		Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", mecKey.Public())}, Access: []string{B.provider.String() + "/roaming"}}}}))
	car, carKey := register(ps[0], A, op.KindDevice)
	validate(ps[0], A, car)

	auth := func(at *proc, area string) authn.Decision {
		svc := &sdk.Service{Signer: mecKey, Kid: mec.WithFragment("k1"), View: sdk.View{C: at.c}, URL: "coaps://mec.example"}
		dev := &sdk.Device{Signer: carKey, Kid: car.WithFragment("k1"), View: sdk.View{C: at.c}}
		ch, err := svc.Challenge()
		if err != nil {
			t.Fatal(err)
		}
		p, err := dev.Answer(ctx, svc.URL, ch)
		if err != nil {
			return authn.Decision{Reason: authn.FailRevoked, Detail: err.Error()}
		}
		d, err := at.c.VerifyIn(ctx, ch, p, map[string]string{"area": area})
		if err != nil {
			t.Fatal(err)
		}
		return *d
	}
	// At B's and C's nodes and at the two edge (MEC) full nodes, with no call to A's.
	for _, at := range []*proc{ps[1], ps[2], ps[4], ps[5]} {
		waitUntil(t, 20*time.Second, "car validated everywhere", func() bool { return auth(at, "1").OK })
		if d := auth(at, "3"); d.Reason != authn.FailContractDenied {
			t.Fatalf("area 3: %+v", d)
		}
	}

	// One validator down, A's own: writes and authentications go on.
	ps[0].kill()
	other, _ := register(ps[2], ops[2], op.KindDevice)
	if d := auth(ps[1], "2"); !d.OK {
		t.Fatalf("with A's node down: %+v", d)
	}

	// Two down: no quorum; writes halt, reads and authentications from local state go on.
	ps[1].kill()
	s, _, _ := cose.GenerateKey(cose.AlgEdDSA)
	stalled, stalledID, _ := op.SignRegister(s, "k1", op.Payload{Network: "testnet", Register: &op.Register{Kind: op.KindDevice,
		Provider: ops[2].provider.String(), Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}}}})
	c3, cancel := context.WithTimeout(ctx, 3*time.Second)
	if _, err := ps[2].c.Submit(c3, stalled); err == nil {
		t.Fatal("a write committed without a quorum")
	}
	cancel()
	for _, at := range []*proc{ps[3], ps[4]} {
		if d := auth(at, "1"); !d.OK {
			t.Fatalf("authentication from local state without a quorum: %+v", d)
		}
	}

	// A returns: quorum again, the stalled write commits, then new ones.
	ps[0].start(t)
	waitUntil(t, 60*time.Second, "the stalled write commits", func() bool { _, err := ps[2].c.Entity(ctx, stalledID.String()); return err == nil })
	register(ps[3], ops[3], op.KindDevice)
	ps[1].start(t)

	// Revocation by A, enforced at the edge nodes of B and C from the block
	// that commits it: each refuses as soon as it has that block.
	e, _ = ps[2].c.Entity(ctx, car.String())
	rev := must(ps[2], sign(A, op.Payload{Type: op.TypeRevoke, Status: &op.Status{DID: car.String(), Version: e.Version}}))
	for i, at := range []*proc{ps[4], ps[5]} {
		waitUntil(t, 20*time.Second, "edge node has committed the revocation's block", func() bool {
			v, err := at.c.Entity(ctx, car.String())
			return err == nil && v.Height >= rev.Height
		})
		if d := auth(at, "1"); d.Reason != authn.FailRevoked {
			t.Fatalf("edge node %d at the revocation's height still accepts the car: %+v", i, d)
		}
	}

	// Every node catches up to the same app hash; nothing acknowledged is lost.
	var target int64
	for _, p := range ps {
		waitUntil(t, 60*time.Second, "node up again", func() bool { _, err := p.c.Status(ctx); return err == nil })
	}
	st, _ := ps[3].c.Status(ctx)
	target = st.Height
	var want string
	for i, p := range ps {
		waitUntil(t, 60*time.Second, fmt.Sprintf("node %d at height %d", i, target), func() bool {
			hdr, err := p.c.Header(ctx, target)
			if err == nil && want == "" {
				want = hdr.AppHash
			}
			return err == nil
		})
		hdr, _ := p.c.Header(ctx, target)
		if hdr.AppHash != want {
			t.Fatalf("node %d app hash %s at %d, node 0 %s", i, hdr.AppHash, target, want)
		}
		for _, id := range append(h.acked, other) {
			waitUntil(t, 30*time.Second, fmt.Sprintf("node %d has %s", i, id), func() bool { _, err := p.c.Entity(ctx, id.String()); return err == nil })
		}
	}
}

// harness holds what the scenarios share.
type harness struct {
	t     *testing.T
	acked []did.DID
}

func (h *harness) must(p *proc, tx []byte) *sdk.SubmitResult {
	h.t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := p.c.Submit(c, tx)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *harness) sign(o operator, p op.Payload) []byte {
	p.Network = "testnet"
	tx, err := op.Sign(o.admin, o.kid, p)
	if err != nil {
		h.t.Fatal(err)
	}
	return tx
}

// register registers an entity of operator o at node p and waits until p
// serves it.
func (h *harness) register(p *proc, o operator, kind string) (did.DID, cose.Signer) {
	h.t.Helper()
	s, _, _ := cose.GenerateKey(cose.AlgEdDSA)
	tx, id, err := op.SignRegister(s, "k1", op.Payload{Network: "testnet", Register: &op.Register{Kind: kind, Provider: o.provider.String(),
		Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}}, Nonce: nonce()}})
	if err != nil {
		h.t.Fatal(err)
	}
	h.must(p, tx)
	h.acked = append(h.acked, id)
	waitUntil(h.t, 20*time.Second, "entity visible", func() bool { _, err := p.c.Entity(context.Background(), id.String()); return err == nil })
	return id, s
}

func (h *harness) validate(p *proc, o operator, id did.DID) {
	h.t.Helper()
	e, err := p.c.Entity(context.Background(), id.String())
	if err != nil {
		h.t.Fatal(err)
	}
	h.must(p, h.sign(o, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: id.String(), Version: e.Version}}))
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func freeBase(t *testing.T, n int) int {
	t.Helper()
	base, err := node.FreePortBase("127.0.0.1", n)
	if err != nil {
		t.Fatal(err)
	}
	return base
}

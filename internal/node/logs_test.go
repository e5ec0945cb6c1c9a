package node_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
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

// syncBuffer is a buffer that many goroutines may log into.
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

// TestLogs runs a full flow (a registration, its validation, an
// authentication, a refused submission, requests carrying a bearer
// token) on a node that logs JSON at info level (CometBFT logs live structures at debug level, racing its own goroutines): every line is a JSON
// object; every request has a line with its request id, which its
// response carries (the client's own when sane, a new one otherwise);
// refusals and decisions are logged with their reason code; and nothing
// of the keys, the token or the signed messages is in the log, in any
// encoding.
func TestLogs(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	cfg := node.Test(t.TempDir())
	if _, err := node.Init(cfg); err != nil {
		t.Fatal(err)
	}
	n, err := node.Start(cfg, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := n.WaitHeight(ctx, 1); err != nil {
		t.Fatal(err)
	}
	c := sdk.NewClient(n.URL())
	adminPriv, err := keyfile.LoadPrivate(node.AdminKeyPath(cfg.Home))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := keyfile.Load(node.AdminKeyPath(cfg.Home))
	if err != nil {
		t.Fatal(err)
	}
	provs, err := c.Providers(ctx)
	if err != nil || len(provs) != 1 {
		t.Fatalf("providers: %v %v", provs, err)
	}
	provider := provs[0].DID
	var secrets [][]byte
	addKey := func(priv any) {
		k, ok := priv.(ed25519.PrivateKey)
		if !ok {
			t.Fatalf("key %T", priv)
		}
		secrets = append(secrets, k.Seed(), k)
	}
	addKey(adminPriv)
	register := func(kind string) (cose.Signer, string) {
		s, priv, err := cose.GenerateKey(cose.AlgEdDSA)
		if err != nil {
			t.Fatal(err)
		}
		addKey(priv)
		tx, id, err := op.SignRegister(s, "k1", op.Payload{Network: cfg.Network, Register: &op.Register{
			Kind: kind, Provider: provider, Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Submit(ctx, tx); err != nil {
			t.Fatal(err)
		}
		pd, err := did.Parse(provider)
		if err != nil {
			t.Fatal(err)
		}
		vtx, err := op.Sign(admin, pd.WithFragment(node.AdminKeyID), op.Payload{Type: op.TypeValidate, Network: cfg.Network, Status: &op.Status{DID: id.String(), Version: 1}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Submit(ctx, vtx); err != nil {
			t.Fatal(err)
		}
		return s, id.String()
	}
	svcSigner, svc := register(op.KindService)
	devSigner, dev := register(op.KindDevice)
	svcDID, _ := did.Parse(svc)
	devDID, _ := did.Parse(dev)
	const origin = "https://printer.example"
	ch := authn.NewChallenge(svcDID.WithFragment("k1"), origin, freshNonce(), time.Now().Unix(), 30)
	cb, err := authn.SignChallenge(svcSigner, ch, authn.JWS)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := authn.SignProof(devSigner, &authn.Proof{Device: devDID, Kid: devDID.WithFragment("k1"), Service: svcDID, Origin: origin,
		ServiceNonce: ch.Nonce, DeviceNonce: freshNonce(), IssuedAt: time.Now().Unix()}, authn.JWS)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, cb, pb, []byte(authn.EncodeText(pb)))
	if d, err := c.Verify(ctx, cb, pb); err != nil || !d.OK {
		t.Fatalf("verify: %+v %v", d, err)
	}
	// A replay of the same proof is refused, with its reason.
	if d, err := c.Verify(ctx, cb, pb); err != nil || d.OK {
		t.Fatalf("replay: %+v %v", d, err)
	}
	// A refused submission.
	if _, err := c.Submit(ctx, []byte("junk")); err == nil {
		t.Fatal("junk committed")
	}
	// Requests with a bearer token and request ids, sane and not.
	token := "tok-" + hex.EncodeToString(freshNonce())
	secrets = append(secrets, []byte(token))
	ids := map[string]string{} // sent -> answered
	for _, sent := range []string{"probe-1.a:b", "bad id forged=1", strings.Repeat("x", 65), ""} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.URL()+"/v1/status?access_token="+token, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if sent != "" {
			req.Header.Set("X-Request-Id", sent)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ids[sent] = resp.Header.Get("X-Request-Id")
	}
	if ids["probe-1.a:b"] != "probe-1.a:b" {
		t.Errorf("a sane request id is not echoed: %q", ids["probe-1.a:b"])
	}
	for _, sent := range []string{"bad id forged=1", strings.Repeat("x", 65), ""} {
		if got := ids[sent]; got == "" || got == sent || len(got) > 64 {
			t.Errorf("request id %q answered with %q", sent, got)
		}
	}

	out := logs.String()
	for _, s := range secrets {
		for _, enc := range []string{string(s), hex.EncodeToString(s), base64.StdEncoding.EncodeToString(s), base64.RawURLEncoding.EncodeToString(s), base64.RawStdEncoding.EncodeToString(s)} {
			if len(enc) >= 16 && strings.Contains(out, enc) {
				t.Fatalf("the log holds a secret (%.12s...)", enc)
			}
		}
	}
	// Every line is JSON; each request has its line with its id.
	seen := map[string]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		if line["msg"] == "request" {
			id, _ := line["request_id"].(string)
			seen[id] = line
		}
	}
	for sent, got := range ids {
		if seen[got] == nil {
			t.Errorf("no log line for request id %q (sent %q)", got, sent)
		}
	}
	reasons := map[string]bool{}
	for _, l := range seen {
		if r, ok := l["reason"].(string); ok {
			reasons[l["route"].(string)+" "+r] = true
		}
	}
	for _, want := range []string{"POST /v1/authn/verify ok", "POST /v1/authn/verify " + string(authn.FailReplayedNonce), "POST /v1/operations " + string(op.ReasonMalformed)} {
		if !reasons[want] {
			t.Errorf("no request logged with %q; have %v", want, reasons)
		}
	}
}

package cli

import (
	"os"
	"strings"
	"testing"

	"github.com/bias-iot/bias/seal"
)

// TestSealAndOpen drives sealed provisioning with the CLI alone: a device
// makes an X25519 key (key new --alg x25519) and registers it (agreement);
// its provider seals a file to it (provider seal), and the device opens
// it (open); another device's key, a tampered envelope and an entity
// without an agreement key are refused.
func TestSealAndOpen(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key, _ := f.newKey("cam.key")
	id := field(t, f.must("register", "--key", key, "--provider", f.provider), "did")
	ka := f.path("cam-agreement.key")
	if out := f.must("key", "new", "--alg", "x25519", ka); !strings.Contains(out, "X25519") {
		t.Fatalf("key new --alg x25519: %s", out)
	}
	f.must("agreement", id, "--key", key, "--file", ka)
	f.must("provider", "validate", id, "--key", f.admin)
	v := f.show(id)
	if len(v.KeyAgreement) != 1 || v.KeyAgreement[0].ID != "ka1" || v.KeyAgreement[0].KEM != "X25519" {
		t.Fatalf("keyAgreement %+v", v.KeyAgreement)
	}

	// An update made from the record (here, an attribute) keeps the
	// key-agreement key.
	f.must("update", id, "--key", key, "--attr", "site=plant-7")
	f.must("provider", "validate", id, "--key", f.admin) // a changed attribute is vetted again
	if v := f.show(id); len(v.KeyAgreement) != 1 || v.Attributes["site"] != "plant-7" {
		t.Fatalf("after bias update: keyAgreement %+v, attributes %v", v.KeyAgreement, v.Attributes)
	}

	data := f.path("wifi.json")
	if err := os.WriteFile(data, []byte(`{"ssid":"plant-7"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := f.path("wifi.sealed")
	f.must("provider", "seal", "--to", id, "--file", data, "--key", f.admin, "--type", "application/json", "--out", env)
	got := f.path("wifi.out")
	f.must("open", env, "--key", ka, "--out", got)
	if b, err := os.ReadFile(got); err != nil || string(b) != `{"ssid":"plant-7"}` {
		t.Fatalf("opened %q, %v", b, err)
	}
	// The base64url form, on stdout, opens too.
	text := strings.TrimSpace(f.must("provider", "seal", "--to", id+"#ka1", "--file", data, "--key", f.admin, "--chacha20poly1305"))
	textFile := f.path("wifi.txt")
	if err := os.WriteFile(textFile, []byte(text+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := f.must("open", textFile, "--key", ka); out != `{"ssid":"plant-7"}` {
		t.Fatalf("open printed %q", out)
	}

	other := f.path("other-agreement.key")
	f.must("key", "new", "--alg", "x25519", other)
	if msg := f.fail("open", env, "--key", other); !strings.Contains(msg, seal.ErrNotForMe.Error()) {
		t.Fatalf("fail/another-key: %s", msg)
	}
	b, err := os.ReadFile(env)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-70] ^= 1
	tampered := f.path("tampered.sealed")
	if err := os.WriteFile(tampered, b, 0o600); err != nil { //nolint:gosec // a path in the test's temp dir
		t.Fatal(err)
	}
	if msg := f.fail("open", tampered, "--key", ka); !strings.Contains(msg, seal.ErrSender.Error()) {
		t.Fatalf("fail/tampered: %s", msg)
	}
	key2, _ := f.newKey("plain.key")
	id2 := field(t, f.must("register", "--key", key2, "--provider", f.provider), "did")
	f.must("provider", "validate", id2, "--key", f.admin)
	if msg := f.fail("provider", "seal", "--to", id2, "--file", data, "--key", f.admin); !strings.Contains(msg, "no such key-agreement key") {
		t.Fatalf("fail/no-agreement-key: %s", msg)
	}
	if msg := f.fail("provider", "seal", "--to", id, "--file", data, "--key", key); !strings.Contains(msg, "not an admin key") {
		t.Fatalf("fail/not-an-admin-key: %s", msg)
	}
}

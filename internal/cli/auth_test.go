package cli

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/bias-iot/bias/authn"
)

func TestAuthCommands(t *testing.T) {
	f := newFixture(t)
	svcKey, _ := f.newKey("printer.key")
	devKey, _ := f.newKey("cam.key")
	svc := field(t, f.must("register", "--kind", "service", "--key", svcKey, "--provider", f.provider), "did")
	dev := field(t, f.must("register", "--key", devKey, "--provider", f.provider), "did")
	for _, id := range []string{svc, dev} {
		f.must("provider", "validate", id, "--key", f.admin)
	}
	for _, enc := range []string{"jws", "cose"} {
		out := f.must("auth", "demo", svc, dev, "--service-key", svcKey, "--device-key", devKey, "--encoding", enc)
		if !strings.Contains(out, "3. service decides: ok") {
			t.Fatalf("demo %s: %s", enc, out)
		}
	}
	// Step by step, through files, with the node deciding.
	ch := f.path("challenge.txt")
	if err := os.WriteFile(ch, []byte(f.must("auth", "challenge", svc, "--key", svcKey, "--encoding", "cose", "--url", "coaps://printer.example")), 0o600); err != nil {
		t.Fatal(err)
	}
	// A device that talks to another host does not answer it.
	if out := f.fail("auth", "answer", dev, ch, "--key", devKey, "--url", "coaps://relay.example"); !strings.Contains(out, string(authn.FailWrongOrigin)) {
		t.Fatalf("answer at another origin: %s", out)
	}
	pr := f.path("proof.txt")
	if err := os.WriteFile(pr, []byte(f.must("auth", "answer", dev, ch, "--key", devKey, "--url", "coaps://printer.example:5684")), 0o600); err != nil {
		t.Fatal(err)
	}
	var d authn.Decision
	if err := json.Unmarshal([]byte(f.must("auth", "verify", ch, pr)), &d); err != nil || !d.OK || d.Device != dev {
		t.Fatalf("verify: %+v %v", d, err)
	}
	// The same pair again is a replay.
	if out := f.fail("auth", "verify", ch, pr); !strings.Contains(out, string(authn.FailReplayedNonce)) {
		t.Fatalf("replay: %s", out)
	}
	// A revoked device is refused.
	f.must("provider", "revoke", dev, "--key", f.admin)
	if out := f.fail("auth", "demo", svc, dev, "--service-key", svcKey, "--device-key", devKey); !strings.Contains(out, string(authn.FailRevoked)) {
		t.Fatalf("revoked: %s", out)
	}
}

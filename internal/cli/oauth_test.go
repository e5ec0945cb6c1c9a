package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestOAuthTokenCommand: a validated device gets an access token (and an
// ID token) for a service of its provider at the node; DPoP-bound with
// --dpop; a revoked device is refused with the RFC 6749 code.
func TestOAuthTokenCommand(t *testing.T) {
	f := newFixture(t)
	svcKey, _ := f.newKey("printer.key")
	devKey, _ := f.newKey("cam.key")
	svc := field(t, f.must("register", "--kind", "service", "--key", svcKey, "--provider", f.provider), "did")
	dev := field(t, f.must("register", "--key", devKey, "--provider", f.provider), "did")
	for _, id := range []string{svc, dev} {
		f.must("provider", "validate", id, "--key", f.admin)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(f.must("oauth", "token", dev, "--key", devKey, "--resource", svc, "--scope", "print openid")), &out); err != nil ||
		out["token_type"] != "Bearer" || out["access_token"] == nil || out["id_token"] == nil || out["scope"] != "print openid" {
		t.Fatalf("token: %v %v", out, err)
	}
	if err := json.Unmarshal([]byte(f.must("oauth", "token", dev, "--key", devKey, "--resource", svc, "--dpop")), &out); err != nil || out["token_type"] != "DPoP" {
		t.Fatalf("dpop token: %v %v", out, err)
	}
	if msg := f.fail("oauth", "token", dev, "--key", devKey, "--resource", dev); !strings.Contains(msg, "invalid_target") {
		t.Fatalf("a device as the resource: %s", msg)
	}
	f.must("provider", "revoke", dev, "--key", f.admin)
	if msg := f.fail("oauth", "token", dev, "--key", devKey, "--resource", svc); !strings.Contains(msg, "invalid_grant") {
		t.Fatalf("revoked: %s", msg)
	}
}

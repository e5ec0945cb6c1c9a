package cli

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/sdk"
)

// TestCredentialCommands: bias provider credential issue signs, with the
// token key the node publishes, a credential of the device's attributes
// in either form; revoke puts its id on the ledger, once; a key the
// provider does not publish issues nothing.
func TestCredentialCommands(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key, _ := f.newKey("car.key")
	id := field(t, f.must("register", "--key", key, "--provider", f.provider), "did")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		p, err := sdk.NewClient(f.url).Provider(t.Context(), f.provider)
		if err == nil && p.Publication != nil && len(p.Publication.TokenKeys) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the token key was not published")
		}
	}
	tokenKey := node.TokenKeyPath(f.h.Home)
	out := f.path("car.cred")
	got := f.must("provider", "credential", "issue", "--token-key", tokenKey, "--provider", f.provider, "--device", id,
		"--attr", "subscription=gold", "--attr", "owner=Ada", "--out", out)
	credID := strings.Fields(got)[1]
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := authn.ParseCredential(string(b))
	if err != nil || len(cred.Disclosures) != 2 {
		t.Fatalf("credential: %v", err)
	}
	cose := f.path("car.cwt")
	f.must("provider", "credential", "issue", "--form", "cose", "--token-key", tokenKey, "--provider", f.provider, "--device", id, "--attr", "subscription=gold", "--out", cose)
	if b, _ := os.ReadFile(cose); len(b) == 0 {
		t.Fatal("no SD-CWT written")
	} else if _, err := authn.ParseCredentialCWT(b); err != nil {
		t.Fatalf("SD-CWT: %v", err)
	}
	if e := f.fail("provider", "credential", "issue", "--token-key", key, "--provider", f.provider, "--device", id, "--attr", "a=b", "--out", out); !strings.Contains(e, "not a token key") {
		t.Fatalf("unpublished key: %s", e)
	}
	if got := f.must("provider", "credential", "revoke", "--key", f.admin, "--provider", f.provider, "--", credID); !strings.Contains(got, "revoked at height") {
		t.Fatalf("revoke printed %q", got)
	}
	st, err := sdk.NewClient(f.url).CredentialStatus(t.Context(), f.provider, credID)
	if err != nil || !st.Revoked || st.Height == 0 {
		t.Fatalf("status %+v %v", st, err)
	}
	if e := f.fail("provider", "credential", "revoke", "--key", f.admin, "--provider", f.provider, "--", credID); !strings.Contains(e, "replayed") && !strings.Contains(e, "already") {
		t.Fatalf("second revoke: %s", e)
	}
}

package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bias-iot/bias/sdk"
)

// TestProviderKeysCommands: the provider makes its keys 2 of 2 with its
// one key; then its single key cannot rotate alone (below-threshold),
// and a rotation signed by one key to a file, cosigned by the other and
// submitted, makes the set 1 of 1 again.
func TestProviderKeysCommands(t *testing.T) {
	f := newFixture(t)
	adminPub := field(t, f.must("key", "show", f.admin), "publicKey")
	second, secondPub := f.newKey("admin-2.key")
	out := f.must("provider", "keys", "--provider", f.provider, "--key", f.admin,
		"--admin-key", "ed25519:"+adminPub, "--admin-key", "ed25519:"+secondPub, "--threshold", "2")
	if !strings.Contains(out, "version 1") {
		t.Fatalf("keys: %s", out)
	}
	var v sdk.ProviderView
	if err := json.Unmarshal([]byte(f.must("provider", "show", f.provider)), &v); err != nil || v.Threshold != 2 || v.KeysVersion != 1 || len(v.Keys) != 2 {
		t.Fatalf("provider after the rotation: %+v, %v", v, err)
	}
	back := []string{"provider", "keys", "--provider", f.provider, "--key", f.admin, "--admin-key", "ed25519:" + adminPub, "--threshold", "1"}
	if msg := f.fail(back...); !strings.Contains(msg, "below-threshold") {
		t.Fatalf("one key of two: %s", msg)
	}
	file := f.path("rotate.cose")
	if out := f.must(append(back, "--out", file)...); !strings.Contains(out, "signed by 1 of the 2 keys") {
		t.Fatalf("keys --out: %s", out)
	}
	if out := f.must("provider", "cosign", file, "--provider", f.provider, "--key", second, "--submit"); !strings.Contains(out, "version 2") {
		t.Fatalf("cosign --submit: %s", out)
	}
	if err := json.Unmarshal([]byte(f.must("provider", "show", f.provider)), &v); err != nil || v.Threshold != 1 || v.KeysVersion != 2 || len(v.Keys) != 1 {
		t.Fatalf("provider after the cosigned rotation: %+v, %v", v, err)
	}
	// A key that signed the file already cannot sign it again.
	if msg := f.fail("provider", "cosign", file, "--provider", f.provider, "--key", f.admin); !strings.Contains(msg, "duplicate-signer") {
		t.Fatalf("a second signature by one key: %s", msg)
	}
}

// TestGovProposeUpgrade: bias gov propose upgrade schedules an upgrade
// once the other provider approves; bias gov list shows it.
func TestGovProposeUpgrade(t *testing.T) {
	f := newFixture(t)
	out := f.must("gov", "propose", "upgrade", "--key", f.admin, "--provider", f.provider, "--upgrade-name", "v2", "--app-version", "2", "--height", "100000")
	id := proposalOf(t, out)
	f.must("gov", "vote", id, "--key", filepath.Join(f.h.Home, "provider", "other.key"), "--provider", f.h.Other.DID.String())
	var list struct {
		Governance struct {
			AppVersion int `json:"appVersion"`
			Upgrade    *struct {
				Name    string
				Version int
				Height  int64
			}
		}
	}
	if err := json.Unmarshal([]byte(f.must("gov", "list")), &list); err != nil || list.Governance.AppVersion != 1 || list.Governance.Upgrade == nil || list.Governance.Upgrade.Height != 100000 {
		t.Fatalf("list: %+v, %v", list, err)
	}
	if msg := f.fail("gov", "propose", "upgrade", "--key", f.admin, "--provider", f.provider, "--upgrade-name", "v1", "--app-version", "1", "--height", "100000"); !strings.Contains(msg, "invalid-field") {
		t.Fatalf("an upgrade to version 1: %s", msg)
	}
}

package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bias-iot/bias/sdk"
)

// TestGovCommands: the default provider proposes to admit an operator
// (open: one approval of two), the other provider approves it (executed:
// the operator is a provider), and list and show say so; a second vote
// with the same payload is refused as a replay.
func TestGovCommands(t *testing.T) {
	f := newFixture(t)
	other := filepath.Join(f.h.Home, "provider", "other.key")
	otherDID := f.h.Other.DID.String()
	_, pub := f.newKey("operator-e.key")
	out := f.must("gov", "propose", "--key", f.admin, "--provider", f.provider, "--kind", "provider.admit",
		"--name", "operator-e", "--admin-key", "ed25519:"+pub)
	id := proposalOf(t, out)
	if !strings.Contains(out, " open (1 approvals)") {
		t.Fatalf("propose: %s", out)
	}
	out = f.must("gov", "vote", id, "--key", other, "--provider", otherDID)
	if !strings.Contains(out, " executed (2 approvals)") || !strings.Contains(out, "admitted did:bias:") {
		t.Fatalf("vote: %s", out)
	}
	admitted := strings.TrimSpace(out[strings.Index(out, "admitted ")+len("admitted "):])
	var p sdk.ProposalView
	if err := json.Unmarshal([]byte(f.must("gov", "show", id)), &p); err != nil || p.Status != "executed" || p.Counted != 2 || p.Proposal.Proposal.Admit == nil {
		t.Fatalf("show: %+v, %v", p, err)
	}
	var list struct {
		Governance struct{ Providers []string }
		Proposals  []sdk.ProposalView
	}
	if err := json.Unmarshal([]byte(f.must("gov", "list")), &list); err != nil || len(list.Proposals) != 1 || len(list.Governance.Providers) != 3 {
		t.Fatalf("list: %+v, %v", list, err)
	}
	if !strings.Contains(strings.Join(list.Governance.Providers, " "), admitted) {
		t.Fatalf("%s is not among the providers %v", admitted, list.Governance.Providers)
	}
	if msg := f.fail("gov", "vote", id, "--key", other, "--provider", otherDID); !strings.Contains(msg, "replayed") {
		t.Fatalf("a second vote: %s", msg)
	}
	if msg := f.fail("gov", "propose", "--key", f.admin, "--provider", f.provider, "--kind", "params.set", "--vote-num", "1", "--vote-den", "3"); !strings.Contains(msg, "invalid-field") {
		t.Fatalf("a threshold below one half: %s", msg)
	}
	if msg := f.fail("gov", "propose", "--key", f.admin, "--provider", f.provider, "--kind", "provider.remove", "--target", f.provider); !strings.Contains(msg, "unsafe-change") {
		t.Fatalf("removing the only validator's provider: %s", msg)
	}
}

// proposalOf reads the proposal id from a gov command's output.
func proposalOf(t *testing.T, out string) string {
	t.Helper()
	_, rest, ok := strings.Cut(out, ": proposal ")
	if !ok || len(rest) < 64 {
		t.Fatalf("no proposal in %q", out)
	}
	return rest[:64]
}

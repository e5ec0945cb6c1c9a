package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/bias-iot/bias/internal/ledger/core"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// upgradeScript is a run of blocks across an upgrade to version 2 at
// height upgradeHeight: before it, provider a leaves more proposals open
// than version 2 allows (the old rule: no bound); the upgrade is
// approved by all three; after it, params.set bounds open proposals to
// 2 and a's third is refused. It returns the blocks (their operations),
// for chains to replay.
type upgradeScript struct {
	blocks [][][]byte
	// tooMany is the index of the block whose only operation version 2
	// refuses (gov-too-many-open), and freed the block after which a
	// slot is free again.
	tooMany int
}

const upgradeHeight = 8

func newUpgradeScript(t *testing.T) (*govChain, *upgradeScript) {
	g := newGovChain(t, 3)
	a, b, c := g.ps[0], g.ps[1], g.ps[2]
	s := &upgradeScript{}
	add := func(txs ...[]byte) { s.blocks = append(s.blocks, txs) }
	params := func(n string, maxOpen uint64) op.Proposal {
		return op.Proposal{Kind: op.ProposalParams, Params: &op.Params{VoteNum: 2, VoteDen: 3, Deadline: 1000, MaxOpen: maxOpen}, Nonce: []byte(n)}
	}
	// Block 2: a leaves DefaultOpenLimit+1 proposals open: version 1
	// bounds nothing.
	var open [][]byte
	for i := range op.DefaultOpenLimit + 1 {
		open = append(open, g.propose(a, params(fmt.Sprintf("v1-%d", i), 0)))
	}
	add(open...)
	// Block 3: b proposes the upgrade; 4: c and a approve (3 of 3).
	up := g.propose(b, op.Proposal{Kind: op.ProposalUpgrade, Upgrade: &op.Upgrade{Name: "open-limit", Version: 2, Height: upgradeHeight}})
	add(up)
	add(g.vote(c, g.proposalID(up)), g.vote(a, g.proposalID(up)))
	// Blocks 5-7: still version 1; a's tenth proposal is accepted.
	add(g.propose(a, params("v1-late", 0)))
	add()
	add()
	// Block 8 (the upgrade height): b proposes maxOpen 2; 9: a and c approve.
	limit := g.propose(b, params("limit", 2))
	add(limit)
	add(g.vote(a, g.proposalID(limit)), g.vote(c, g.proposalID(limit)))
	// Block 10: a makes two; 11: its third is refused.
	x1, x2 := g.propose(a, params("v2-1", 0)), g.propose(a, params("v2-2", 0))
	add(x1, x2)
	s.tooMany = len(s.blocks)
	add(g.propose(a, params("v2-3", 0)))
	// Block 12: b and c execute x1; 13: a's third is accepted now.
	add(g.vote(b, g.proposalID(x1)), g.vote(c, g.proposalID(x1)))
	add(g.propose(a, params("v2-3", 0)))
	return g, s
}

// run applies the script's blocks to c and returns each block's app
// hash; the block tooMany must refuse its operation with
// gov-too-many-open, every other operation apply.
func (s *upgradeScript) run(t *testing.T, c *chain) [][]byte {
	t.Helper()
	var hashes [][]byte
	for i, txs := range s.blocks {
		resp := c.finalize(txs...)
		for j, r := range resp.TxResults {
			want := op.ReasonOK
			if i == s.tooMany {
				want = op.ReasonGovTooManyOpen
			}
			if reason(r) != want {
				t.Fatalf("block %d (height %d) tx %d: %s: %s; want %s", i, c.height, j, reason(r), r.Log, want)
			}
		}
		hashes = append(hashes, resp.AppHash)
	}
	return hashes
}

func governanceOf(t *testing.T, c *chain) *record.Governance {
	t.Helper()
	g, err := getGovernance(c.st.Latest())
	if err != nil || g == nil {
		t.Fatalf("governance: %v %v", g, err)
	}
	return g
}

// TestUpgradeGatesOpenLimit: before the upgrade height the old rule holds
// (no bound on open proposals, maxOpen may not be set), from it the new
// one; FinalizeBlock and Info report the version.
func TestUpgradeGatesOpenLimit(t *testing.T) {
	g, s := newUpgradeScript(t)
	c := g.c
	// Version 1 refuses maxOpen.
	early := g.propose(g.ps[0], op.Proposal{Kind: op.ProposalParams, Params: &op.Params{VoteNum: 2, VoteDen: 3, Deadline: 9, MaxOpen: 2}})
	if err := c.app.Precheck(early); !errors.Is(err, &op.Error{Reason: op.ReasonInvalidField}) || !strings.Contains(err.Error(), "app version 2") {
		t.Fatalf("maxOpen in version 1: %v", err)
	}
	limit := s.blocks[upgradeHeight-2][0] // the params.set with maxOpen, made in the upgrade's block
	for i, txs := range s.blocks {
		h := c.height + 1
		// A submission checks against the committed state, under the
		// rules of the next block: version 2 from the block before the
		// height on.
		switch err := c.app.Precheck(limit); {
		case h < upgradeHeight && !errors.Is(err, &op.Error{Reason: op.ReasonInvalidField}):
			t.Fatalf("height %d: Precheck of maxOpen: %v, want invalid-field", h, err)
		case h == upgradeHeight && err != nil:
			t.Fatalf("Precheck of maxOpen for the upgrade's block: %v", err)
		}
		resp := c.finalize(txs...)
		gov := governanceOf(t, c)
		switch {
		case h < upgradeHeight:
			if gov.Version() != 1 || resp.AppVersion != 0 {
				t.Fatalf("height %d: version %d, block's app version %d", h, gov.Version(), resp.AppVersion)
			}
			if h == 4 && (gov.Upgrade == nil || gov.Upgrade.Height != upgradeHeight || gov.Upgrade.Version != 2 || gov.Upgrade.Name != "open-limit") {
				t.Fatalf("height 4: the upgrade is not scheduled: %+v", gov.Upgrade)
			}
		case h == upgradeHeight:
			if gov.Version() != 2 || gov.Upgrade != nil {
				t.Fatalf("at the upgrade height: version %d, upgrade %+v", gov.Version(), gov.Upgrade)
			}
			if resp.AppVersion != 2 {
				t.Fatalf("ApplyBlock's app version %d, want 2", resp.AppVersion)
			}
			if len(resp.Events) != 1 || attr(resp.Events[0], "upgraded") != "open-limit" || attr(resp.Events[0], "version") != "2" {
				t.Fatalf("upgrade events %+v", resp.Events)
			}
		default:
			if resp.AppVersion != 0 {
				t.Fatalf("height %d: block's app version %d", h, resp.AppVersion)
			}
		}
		for j, r := range resp.TxResults {
			want := op.ReasonOK
			if i == s.tooMany {
				want = op.ReasonGovTooManyOpen
			}
			if reason(r) != want {
				t.Fatalf("height %d tx %d: %s: %s; want %s", h, j, reason(r), r.Log, want)
			}
		}
	}
	info, err := c.app.Info(context.Background())
	if err != nil || info.AppVersion != 2 {
		t.Fatalf("Info: %v, app version %d", err, info.AppVersion)
	}
}

// TestUpgradeReplayDeterminism: two nodes of this code that replay the
// same blocks from genesis across the upgrade compute the same app
// hashes, block by block.
func TestUpgradeReplayDeterminism(t *testing.T) {
	g, s := newUpgradeScript(t)
	first := s.run(t, g.c)
	second := s.run(t, newChain(t, g.gen))
	for i := range first {
		if !bytes.Equal(first[i], second[i]) {
			t.Fatalf("block %d: app hash %x, replayed %x", i, first[i], second[i])
		}
	}
}

// TestOlderNodeHalts: a node whose code knows version 1 only applies the
// blocks before the upgrade height as a newer one does, and halts at
// that height with a message naming the upgrade and the version.
func TestOlderNodeHalts(t *testing.T) {
	g, s := newUpgradeScript(t)
	newer := s.run(t, g.c)
	old := newChain(t, g.gen, WithMaxAppVersion(1))
	for i, txs := range s.blocks {
		h := old.height + 1
		if h < upgradeHeight {
			if _, hash := old.block(txs...); !bytes.Equal(hash, newer[i]) {
				t.Fatalf("height %d: the older node's app hash differs", h)
			}
			continue
		}
		_, err := old.app.ApplyBlock(context.Background(), core.Block{Txs: txs, Height: h, Time: old.time.Add(1e9)})
		var uv *ErrUnknownVersion
		if !errors.As(err, &uv) || uv.Upgrade.Version != 2 || uv.Known != 1 {
			t.Fatalf("FinalizeBlock at the upgrade height: %v", err)
		}
		for _, want := range []string{`upgrade "open-limit"`, "app version 2", fmt.Sprintf("height %d", upgradeHeight), "knows app versions up to 1"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("halt message %q lacks %q", err, want)
			}
		}
		return
	}
	t.Fatal("the script never reached the upgrade height")
}

// TestUpgradeProposalRefusals: an upgrade to the current version or
// below, to a past height or too far ahead, is refused when proposed.
func TestUpgradeProposalRefusals(t *testing.T) {
	g := newGovChain(t, 3)
	for name, u := range map[string]op.Upgrade{
		"version-current": {Name: "same", Version: 1, Height: 10},
		"height-past":     {Name: "past", Version: 2, Height: 2},
		"height-far":      {Name: "far", Version: 2, Height: 100 + op.MaxUpgradeDelay},
		"no-name":         {Version: 2, Height: 10},
	} {
		t.Run("fail/upgrade-"+name, func(t *testing.T) {
			g.t = t
			g.refused(g.propose(g.ps[0], op.Proposal{Kind: op.ProposalUpgrade, Upgrade: &u}), op.ReasonInvalidField)
		})
	}
}

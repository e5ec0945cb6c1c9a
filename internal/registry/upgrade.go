package registry

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// State-machine versions. The governance record holds the app version
// (1 at genesis); an upgrade proposal schedules a new one at a future
// height, and at the start of that block the version becomes the
// target, so that the block's operations and every later one run under
// its rules. Each rule change of the registry is gated on the version
// (rules below), so a node of newer code replays old blocks with their
// old rules; a node whose code does not know the target halts at the
// height (FinalizeBlock fails with a message naming the upgrade) rather
// than apply rules it does not have.

// AppVersion is the newest app version this code knows.
//
// Version 2: a provider may have at most params.maxOpen proposals open
// at once (gov-too-many-open), and params.set may set maxOpen.
const AppVersion = 2

// Option configures an App.
type Option func(*App)

// WithMaxAppVersion makes the App know app versions up to v only, as a
// node built before version v+1 existed does (a test of the halt).
func WithMaxAppVersion(v uint64) Option { return func(a *App) { a.maxVersion = v } }

// ErrUnknownVersion is the error of FinalizeBlock at the height of an
// upgrade to a version this code does not know: the node halts.
type ErrUnknownVersion struct {
	Upgrade record.Upgrade
	Known   uint64
}

func (e *ErrUnknownVersion) Error() string {
	return fmt.Sprintf("upgrade %q to app version %d is scheduled at height %d (proposal %s), and this node's code knows app versions up to %d: halting; run a release that knows version %d",
		e.Upgrade.Name, e.Upgrade.Version, e.Upgrade.Height, e.Upgrade.Proposal, e.Known, e.Upgrade.Version)
}

// upgradeAt applies the upgrade scheduled for block h, at its start: the
// app version becomes the target, the schedule is cleared, and CometBFT
// is told the new version (BlockResult.AppVersion: the ABCI adapter
// hands it to CometBFT as ConsensusParamUpdates.Version.App, which it
// puts in the headers from block h+1 on). It returns nothing when no
// upgrade is due, and an *ErrUnknownVersion when this code does not know
// the target.
func (a *App) upgradeAt(h int64) ([]ledger.Event, uint64, error) {
	g, err := getGovernance(a.st)
	if err != nil || g == nil || g.Upgrade == nil || g.Upgrade.Height > h {
		return nil, 0, err
	}
	u := *g.Upgrade
	if u.Version > a.maxVersion {
		return nil, 0, &ErrUnknownVersion{Upgrade: u, Known: a.maxVersion}
	}
	g.AppVersion, g.Upgrade = u.Version, nil
	b, err := op.Marshal(g)
	if err != nil {
		return nil, 0, err
	}
	if err := a.st.Set(record.GovernanceKey(), b); err != nil {
		return nil, 0, err
	}
	a.log.Info("app version upgraded", "upgrade", u.Name, "version", u.Version, "height", h)
	ev := ledgerEvent(record.EventGov, []record.Attr{
		{Key: "upgraded", Value: u.Name}, {Key: "version", Value: strconv.FormatUint(u.Version, 10)},
		{Key: "height", Value: strconv.FormatInt(h, 10)}, {Key: "proposal", Value: u.Proposal},
	})
	return []ledger.Event{ev}, u.Version, nil
}

// appVersion is the committed app version (1 before any upgrade, and
// for a state without a governance record).
func (a *App) appVersion() uint64 {
	g, err := getGovernance(a.st.Latest())
	if err != nil || g == nil {
		return 1
	}
	return g.Version()
}

// version is the app version whose rules the operation's block applies:
// g's, or, when g is the committed state before an upgrade's height and
// the block is at it (Precheck and CheckTx of the next block), the
// upgrade's. In FinalizeBlock the upgrade is applied before the block's
// operations, so that g's version is the block's.
func (x *executor) version(g *record.Governance) uint64 {
	if u := g.Upgrade; u != nil && u.Height <= x.b.Height {
		return u.Version
	}
	return g.Version()
}

// scheduleUpgrade checks an upgrade proposal against the state as it
// would execute in this block, and schedules it in next: its version is
// above the current one, its height after this block and at most
// op.MaxUpgradeDelay blocks ahead. It replaces an upgrade scheduled
// before (to move or retarget it before its height).
func (x *executor) scheduleUpgrade(g, next *record.Governance, u *op.Upgrade, id string) ([]record.Attr, error) {
	if v := x.version(g); u.Version <= v {
		return nil, op.Reject(op.ReasonInvalidField, fmt.Sprintf("gov.proposal.upgrade.version %d is not above the app version %d", u.Version, v))
	}
	if u.Height <= x.b.Height || u.Height > x.b.Height+op.MaxUpgradeDelay {
		return nil, op.Reject(op.ReasonInvalidField, fmt.Sprintf("gov.proposal.upgrade.height must lie after block %d and at most %d blocks ahead", x.b.Height, op.MaxUpgradeDelay))
	}
	next.Upgrade = &record.Upgrade{Name: u.Name, Version: u.Version, Height: u.Height, Proposal: id}
	return []record.Attr{
		{Key: "upgrade", Value: u.Name}, {Key: "version", Value: strconv.FormatUint(u.Version, 10)},
		{Key: "height", Value: strconv.FormatInt(u.Height, 10)},
	}, nil
}

// openLimit is version 2's bound on a provider's open proposals: the
// proposer's list, without the proposals past their deadline, must hold
// fewer than params.maxOpen before a new one.
func (x *executor) openLimit(g *record.Governance, provider string) error {
	if x.version(g) < 2 {
		return nil
	}
	open, err := x.openOf(provider)
	if err != nil {
		return err
	}
	if n, limit := len(open.Items), g.Params.OpenLimit(); n >= limit {
		return op.Reject(op.ReasonGovTooManyOpen, fmt.Sprintf("%s has %d open proposals, the most it may have (params.maxOpen)", provider, n))
	}
	return nil
}

// openOf reads a provider's open proposals, without those past their
// deadline at this block.
func (x *executor) openOf(provider string) (*record.OpenProposals, error) {
	open, err := read(x.st, record.OpenKey(provider), record.DecodeOpenProposals)
	if err != nil || open == nil {
		return &record.OpenProposals{}, err
	}
	open.Items = slices.DeleteFunc(open.Items, func(o record.OpenProposal) bool { return o.Deadline < x.b.Height })
	return open, nil
}

// openWrite keeps the proposer's list of open proposals from version 2
// on: a proposal enters when it is made open, and leaves when it is
// executed or its deadline passed.
func (x *executor) openWrite(g *record.Governance, rec *record.Proposal, made bool) ([]write, error) {
	if x.version(g) < 2 {
		return nil, nil
	}
	open, err := x.openOf(rec.Proposer)
	if err != nil {
		return nil, err
	}
	open.Items = slices.DeleteFunc(open.Items, func(o record.OpenProposal) bool { return o.ID == rec.ID })
	var ws []write
	if made && rec.Status == record.ProposalOpen {
		open.Items = append(open.Items, record.OpenProposal{ID: rec.ID, Deadline: rec.Deadline})
		due, err := x.dueAt(rec.Deadline)
		if err != nil {
			return nil, err
		}
		b, err := op.Marshal(append(due, rec.ID))
		if err != nil {
			return nil, err
		}
		ws = append(ws, write{record.DeadlineKey(rec.Deadline), b})
	}
	if len(open.Items) == 0 {
		return append(ws, write{record.OpenKey(rec.Proposer), nil}), nil
	}
	b, err := op.Marshal(open)
	if err != nil {
		return nil, err
	}
	return append(ws, write{record.OpenKey(rec.Proposer), b}), nil
}

// dueAt reads the ids of the proposals whose deadline is h.
func (x *executor) dueAt(h int64) ([]string, error) {
	return readDue(x.st, h)
}

func readDue(st interface{ Get([]byte) ([]byte, error) }, h int64) ([]string, error) {
	b, err := st.Get(record.DeadlineKey(h))
	if err != nil || b == nil {
		return nil, err
	}
	var ids []string
	if err := op.Unmarshal(b, &ids); err != nil {
		return nil, fmt.Errorf("proposals due at %d: %w", h, err)
	}
	return ids, nil
}

// expiries announces, at the start of block h (from app version 2 on),
// the proposals whose deadline was block h-1 and that are still open:
// one bias.gov block event each (expired, kind, provider: the
// proposer). It reads and writes nothing else: the index stays, as the
// proposals do.
func (a *App) expiries(h int64) ([]ledger.Event, error) {
	g, err := getGovernance(a.st)
	if err != nil || g == nil || g.Version() < 2 {
		return nil, err
	}
	ids, err := readDue(a.st, h-1)
	if err != nil || ids == nil {
		return nil, err
	}
	var evs []ledger.Event
	for _, id := range ids {
		p, err := getProposal(a.st, id)
		if err != nil {
			return nil, err
		}
		if p == nil || p.StatusAt(h) != record.ProposalExpired {
			continue
		}
		evs = append(evs, ledgerEvent(record.EventGov, []record.Attr{
			{Key: "expired", Value: id}, {Key: "kind", Value: p.Proposal.Kind}, {Key: "provider", Value: p.Proposer},
			{Key: "status", Value: record.ProposalExpired},
		}))
	}
	return evs, nil
}

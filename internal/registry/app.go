// Package registry is bias's ledger application: the deterministic state
// machine that checks and applies signed operations (register, update,
// deactivate, validate, reject, revoke, bulk enroll, contracts,
// publications, and the providers' governance: proposals and votes that
// admit and remove providers and change the validator set, which
// ApplyBlock reports as validator updates) over the Merkle state.
//
// App implements core.App, the engine-neutral boundary: an engine hands
// it ordered blocks of operations with their height and time, and gets
// results, domain events (ledger.Event), validator updates and the state
// root back. It imports no consensus engine: cometledger adapts it to
// CometBFT's ABCI, memledger drives it in memory, and other engines
// replay their final blocks through it.
//
// It reads no clock, no randomness and no map order: block time comes from
// the block, and every input is an operation in a block. A rejected
// operation is a result code with a stable reason (op.Reason); a Go error
// is a broken invariant.
//
//	st, _ := state.Open(dir)
//	app := registry.New("local", st, logger)
//	l, err := cometledger.Start(cfg, app, logger) // or memledger.New(app, ...)
package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"

	"github.com/bias-iot/bias/internal/contract"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/ledger/core"
	"github.com/bias-iot/bias/internal/state"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// Codespace marks bias's result codes.
const Codespace = "bias"

// App is the registry's state machine; it implements core.App.
type App struct {
	network string
	st      *state.Store
	ops     *opCache
	log     *slog.Logger

	// block under construction (the engine's block goroutine only)
	block blockInfo
	// time of the last applied block, for Check (any goroutine)
	lastBlockTime atomic.Int64

	programs *contract.Cache
	retain   retention // blocks to keep (retain.go)
	// maxVersion is the newest app version the code knows (AppVersion;
	// lower in a test of an older node).
	maxVersion uint64
	obs        Observer // nil: none (observe.go)

	snaps *snapshots // snapshot.go; nil: none
}

// program returns the compiled form of a contract version. A contract
// that does not compile is an *op.Error with ReasonBadContract.
func (a *App) program(c *record.Contract) (*contract.Program, error) {
	p, err := a.programs.Program(c.ID(), contract.Kind(c.Kind), c.Source)
	if err != nil {
		return nil, op.Reject(op.ReasonBadContract, err.Error())
	}
	return p, nil
}

// Programs is the application's cache of compiled contracts, for the
// node's access decisions to share.
func (a *App) Programs() *contract.Cache { return a.programs }

var _ core.App = (*App)(nil)

// New creates the application for network over st.
func New(network string, st *state.Store, log *slog.Logger, opts ...Option) *App {
	a := &App{network: network, st: st, ops: newOpCache(1<<16, 256<<20), log: log, programs: contract.NewCache(4096), maxVersion: AppVersion}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Network returns the network id.
func (a *App) Network() string { return a.network }

// Info tells the engine what the application has committed.
func (a *App) Info(context.Context) (core.Info, error) {
	return core.Info{AppVersion: a.appVersion(), Height: a.st.Version(), AppHash: a.st.Hash()}, nil
}

// InitChain writes the genesis providers.
func (a *App) InitChain(_ context.Context, req core.Genesis) ([]byte, error) {
	if req.ChainID != a.network {
		return nil, fmt.Errorf("genesis chain id %q differs from the network %q", req.ChainID, a.network)
	}
	g, err := ParseGenesis(req.AppState)
	if err != nil {
		return nil, err
	}
	if g.Network != a.network {
		return nil, fmt.Errorf("genesis app_state network %q differs from the chain id %q", g.Network, a.network)
	}
	gov, err := genesisGovernance(g, req.Validators)
	if err != nil {
		return nil, err
	}
	for _, gp := range g.Providers {
		id, err := ProviderDID(g.Network, gp)
		if err != nil {
			return nil, err
		}
		b, err := op.Marshal(record.Provider{DID: id.String(), Name: gp.Name, Keys: gp.Keys, Threshold: gp.Threshold, Created: req.Time.UnixNano()})
		if err != nil {
			return nil, err
		}
		if err := a.st.Set(record.ProviderKey(id.String()), b); err != nil {
			return nil, err
		}
	}
	b, err := op.Marshal(gov)
	if err != nil {
		return nil, err
	}
	if err := a.st.Set(record.GovernanceKey(), b); err != nil {
		return nil, err
	}
	return a.st.WorkingHash(), nil
}

// genesisGovernance is the first governance record: the founding
// providers, CometBFT's genesis validators (each assigned to the
// provider that names it) and the parameters.
func genesisGovernance(g *Genesis, vals []core.ValidatorUpdate) (*record.Governance, error) {
	gov := &record.Governance{Params: op.DefaultParams()}
	if g.Params != nil {
		gov.Params = *g.Params
	}
	if len(vals) > MaxValidators {
		return nil, fmt.Errorf("genesis: at most %d validators", MaxValidators)
	}
	for _, v := range vals {
		pk := v.PubKey
		if len(pk) != 32 || v.Power <= 0 || v.Power > op.MaxValidatorPower {
			return nil, fmt.Errorf("genesis validator %X: an Ed25519 key with a power of 1 to %d", pk, int64(op.MaxValidatorPower))
		}
		if _, dup := gov.Validator(pk); dup {
			return nil, fmt.Errorf("genesis validator %X is listed twice", pk)
		}
		gov.Validators = append(gov.Validators, record.Validator{PubKey: pk, Power: v.Power})
		slices.SortFunc(gov.Validators, func(a, b record.Validator) int { return bytes.Compare(a.PubKey, b.PubKey) })
	}
	for _, gp := range g.Providers {
		id, err := ProviderDID(g.Network, gp)
		if err != nil {
			return nil, err
		}
		gov.Providers = insertSorted(gov.Providers, id.String())
		if gp.Validator == nil {
			continue
		}
		i := slices.IndexFunc(gov.Validators, func(v record.Validator) bool { return bytes.Equal(v.PubKey, gp.Validator) })
		if i < 0 || gov.Validators[i].Provider != "" {
			return nil, fmt.Errorf("genesis provider %q: its validator is not a genesis validator, or is another's", gp.Name)
		}
		gov.Validators[i].Provider = id.String()
	}
	return gov, nil
}

// decode decodes an operation, or takes it from the cache.
func (a *App) decode(tx []byte, h [32]byte) (*op.Signed, error) {
	if c := a.ops.get(h); c != nil {
		return c.s, nil
	}
	return op.Decode(tx)
}

// Precheck checks an operation against the last committed state, as
// Check does, and may run on many goroutines at once: a node calls it
// on each submission before handing the operation to the ledger, which
// spreads signature verification over all cores (CheckTx then finds the
// result in the cache: CheckTx on CometBFT). A rejection is an *op.Error.
//
// An operation accepted against a state and a last block time that are
// both still the latest is accepted again without running anything: the
// check is a function of the operation, that state and that time, so its
// answer cannot have changed. A block committed in between (a recheck, or
// a CheckTx after a conflicting operation landed) changes the state's
// version and root, and the operation is checked in full.
func (a *App) Precheck(tx []byte) error {
	h := sha256.Sum256(tx)
	snap := a.st.Latest()
	at := checkStamp{version: snap.Version(), time: a.lastTime()}
	copy(at.root[:], snap.Hash())
	if a.ops.acceptedAt(h, at) {
		return nil
	}
	if a.ops.get(h) == nil {
		if err := signedFirst(snap, tx); err != nil {
			return err
		}
	}
	s, err := a.decode(tx, h)
	if err != nil {
		return err
	}
	// The next block's height; its time is unknown, so the last block's
	// is the best estimate (a ticket expiring in between is caught in
	// ApplyBlock).
	_, key, err := a.execute(snap, h, s, blockInfo{Height: at.version + 1, Time: at.time}, false)
	if err == nil {
		a.ops.put(h, s, key, len(tx), at)
	}
	return err
}

// SetLastBlockTime tells the application the time of the last committed
// block (Unix ns), for Check's estimate before the next block; a node
// calls it on start.
func (a *App) SetLastBlockTime(ns int64) {
	if a.lastBlockTime.Load() == 0 {
		a.lastBlockTime.Store(ns)
	}
}

// Check admits to the mempool the operations that would apply to the
// last committed state, and those whose rejection a block not yet seen
// here could lift (see deferred): they are checked again after each block
// and decided in the block that includes them. A deferred operation is
// admitted with Reason "deferred: " and the rejection it may outgrow.
func (a *App) Check(_ context.Context, tx []byte) core.CheckResult {
	err := a.Precheck(tx)
	if isDeferred(err) {
		return core.CheckResult{Reason: "deferred: " + err.Error()}
	}
	if err != nil {
		r, msg, ierr := classify(err)
		if ierr != nil {
			a.log.Error("check tx failed", "err", ierr)
		}
		return core.CheckResult{Code: r.Code(), Codespace: Codespace, Log: msg, Reason: string(r)}
	}
	return core.CheckResult{}
}

func (a *App) lastTime() int64 { return a.lastBlockTime.Load() }

// ApplyBlock applies a decided block's operations in order. The same
// checks as Check run again: a proposer can include anything.
func (a *App) ApplyBlock(_ context.Context, req core.Block) (*core.BlockResult, error) {
	a.block = blockInfo{Height: req.Height, Time: req.Time.UnixNano()}
	a.lastBlockTime.Store(a.block.Time)
	events, version, err := a.upgradeAt(req.Height)
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", req.Height, err)
	}
	expired, err := a.expiries(req.Height)
	if err != nil {
		return nil, err
	}
	events = append(events, expired...)
	before, err := getGovernance(a.st)
	if err != nil {
		return nil, err
	}
	a.block.Gov = before
	res := make([]core.TxResult, len(req.Txs))
	for i, tx := range req.Txs {
		r, err := a.deliver(tx)
		if err != nil {
			return nil, fmt.Errorf("block %d tx %d: %w", req.Height, i, err)
		}
		res[i] = r
	}
	vals, err := a.validatorUpdates(before)
	if err != nil {
		return nil, err
	}
	return &core.BlockResult{TxResults: res, ValidatorUpdates: vals, AppVersion: version, Events: events, AppHash: a.st.WorkingHash()}, nil
}

// validatorUpdates tells the engine how the block changed the validator
// set: the difference between the governance record before the block
// and after it (one update per key, however many proposals touched it).
// CometBFT applies them from height H+2.
func (a *App) validatorUpdates(before *record.Governance) ([]core.ValidatorUpdate, error) {
	after, err := getGovernance(a.st)
	if err != nil || before == nil || after == nil {
		return nil, err
	}
	return validatorDiff(before, after), nil
}

func (a *App) deliver(tx []byte) (core.TxResult, error) {
	h := sha256.Sum256(tx)
	// Every node checks a large operation's signer first, whatever its
	// cache holds (a cache is one node's, never a reason for a result).
	err := signedFirst(a.st, tx)
	var s *op.Signed
	if err == nil {
		s, err = a.decode(tx, h)
	}
	var out *outcome
	if err == nil {
		out, _, err = a.execute(a.st, h, s, a.block, true)
	}
	a.ops.remove(h)
	if err != nil {
		r, msg, ierr := classify(err)
		if ierr != nil {
			return core.TxResult{}, ierr
		}
		a.observeCommitted(s, r, nil)
		return core.TxResult{Code: r.Code(), Codespace: Codespace, Log: msg, Reason: string(r)}, nil
	}
	for _, w := range out.writes {
		var err error
		if w.value == nil {
			err = a.st.Delete(w.key)
		} else {
			err = a.st.Set(w.key, w.value)
		}
		if err != nil {
			return core.TxResult{}, err
		}
	}
	data, err := op.Marshal(out.result)
	if err != nil {
		return core.TxResult{}, err
	}
	a.observeCommitted(s, op.ReasonOK, out.moves)
	return core.TxResult{Code: 0, Data: data, Reason: string(op.ReasonOK), Events: out.events}, nil
}

// classify splits a rejection (reason, safe message) from a broken
// invariant (a Go error).
func classify(err error) (op.Reason, string, error) {
	var oe *op.Error
	if errors.As(err, &oe) {
		return oe.Reason, oe.Msg, nil
	}
	return op.ReasonInternal, "internal error", err
}

// Commit saves the block's state as a new version.
func (a *App) Commit(context.Context) (*core.CommitResult, error) {
	_, h, err := a.st.Commit()
	if err != nil {
		return nil, err
	}
	a.snapshotAfter(h)
	return &core.CommitResult{RetainHeight: a.retain.height(h)}, nil
}

// Query reads committed state, at a height (0: the latest), with an ICS23
// proof on request (the serialized CommitmentProof). A proof for height H
// verifies against the app hash in the header of block H+1.
func (a *App) Query(_ context.Context, req ledger.Query) (*ledger.QueryResult, error) {
	snap := a.st.Latest()
	if req.Height != 0 && req.Height != snap.Version() {
		var err error
		if snap, err = a.st.At(req.Height); err != nil {
			return queryError(op.ReasonInvalidField, err.Error()), nil
		}
	}
	switch req.Path {
	case record.QueryKey:
		resp := &ledger.QueryResult{Key: req.Data, Height: snap.Version()}
		if !req.Prove {
			v, err := snap.Get(req.Data)
			if err != nil {
				return nil, err
			}
			resp.Value = v
			return resp, nil
		}
		v, p, err := snap.Prove(req.Data)
		if err != nil {
			return nil, err
		}
		pb, err := p.Marshal()
		if err != nil {
			return nil, err
		}
		resp.Value, resp.Proof = v, pb
		return resp, nil
	case record.QueryPrefix:
		if len(req.Data) == 0 {
			return queryError(op.ReasonInvalidField, "empty prefix"), nil
		}
		var list record.PrefixList
		end := prefixEnd(req.Data)
		err := snap.Iterate(req.Data, end, func(k, v []byte) bool {
			list.Items = append(list.Items, record.KV{Key: append([]byte(nil), k...), Value: append([]byte(nil), v...)})
			return len(list.Items) < record.MaxPrefixResults
		})
		if err != nil {
			return nil, err
		}
		b, err := op.Marshal(list)
		if err != nil {
			return nil, err
		}
		return &ledger.QueryResult{Value: b, Height: snap.Version()}, nil
	}
	return queryError(op.ReasonInvalidField, "unknown query path"), nil
}

func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func queryError(r op.Reason, msg string) *ledger.QueryResult {
	return &ledger.QueryResult{Code: r.Code(), Log: msg, Reason: string(r)}
}

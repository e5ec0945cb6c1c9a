package registry

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/ledger/core"
	"github.com/bias-iot/bias/internal/state"
	"github.com/bias-iot/bias/internal/state/statetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

const network = "local"

// chain drives an App directly through core.App, as an engine would.
type chain struct {
	t      testing.TB
	app    *App
	st     *state.Store
	height int64
	time   time.Time
}

type provider struct {
	signer cose.Signer
	kid    did.DID
}

func genesis(t testing.TB, n int) ([]byte, []provider) {
	t.Helper()
	var keys []cose.Signer
	for i := 0; i < n; i++ {
		s, _, err := cose.GenerateKey(cose.AlgEdDSA)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, s)
	}
	return genesisOf(t, keys...)
}

// genesisOf makes the genesis of one provider per key: "a", "b", ...,
// each with its key as admin-1 and a validator of power 10 whose key
// derives from its name (newChain hands them to InitChain).
func genesisOf(t testing.TB, keys ...cose.Signer) ([]byte, []provider) {
	t.Helper()
	g := Genesis{Network: network}
	var ps []provider
	for i, s := range keys {
		gp := GenesisProvider{Name: string(rune('a' + i)), Keys: []op.Key{op.KeyFrom("admin-1", s.Public())}}
		gp.Validator = validatorKey(gp.Name)
		id, err := ProviderDID(network, gp)
		if err != nil {
			t.Fatal(err)
		}
		g.Providers = append(g.Providers, gp)
		ps = append(ps, provider{signer: s, kid: id.WithFragment("admin-1")})
	}
	b, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	return b, ps
}

// validatorKey is the Ed25519 consensus key of a test validator, derived
// from its name.
func validatorKey(name string) []byte {
	d := sha256.Sum256([]byte("validator/" + name))
	return ed25519.NewKeyFromSeed(d[:]).Public().(ed25519.PublicKey)
}

// newChain starts a chain from appState, with CometBFT's genesis
// validators those its providers name (power 10 each).
func newChain(t testing.TB, appState []byte, opts ...Option) *chain {
	t.Helper()
	st := statetest.Open(t)
	c := &chain{t: t, app: New(network, st, slog.New(slog.DiscardHandler), opts...), st: st, time: time.Unix(1_700_000_000, 0)}
	var g Genesis
	if err := json.Unmarshal(appState, &g); err != nil {
		t.Fatal(err)
	}
	var vals []core.ValidatorUpdate
	for _, p := range g.Providers {
		if p.Validator != nil {
			vals = append(vals, core.ValidatorUpdate{PubKey: p.Validator, Power: 10})
		}
	}
	if _, err := c.app.InitChain(context.Background(), core.Genesis{ChainID: network, AppState: appState, Time: c.time, Validators: vals}); err != nil {
		t.Fatal(err)
	}
	c.block()
	return c
}

// block finalizes and commits a block of txs and returns the results and
// the app hash.
func (c *chain) block(txs ...[]byte) ([]core.TxResult, []byte) {
	c.t.Helper()
	resp := c.finalize(txs...)
	return resp.TxResults, resp.AppHash
}

// finalize finalizes and commits a block of txs and returns
// FinalizeBlock's response.
func (c *chain) finalize(txs ...[]byte) *core.BlockResult {
	c.t.Helper()
	c.height++
	c.time = c.time.Add(time.Second)
	resp, err := c.app.ApplyBlock(context.Background(), core.Block{Txs: txs, Height: c.height, Time: c.time})
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.app.Commit(context.Background()); err != nil {
		c.t.Fatal(err)
	}
	if !bytes.Equal(resp.AppHash, c.st.Hash()) {
		c.t.Fatalf("FinalizeBlock app hash %x differs from committed %x", resp.AppHash, c.st.Hash())
	}
	return resp
}

func (c *chain) checkTx(tx []byte) core.CheckResult {
	return c.app.Check(context.Background(), tx)
}

func register(t *testing.T, prov did.DID, alg cose.Alg) ([]byte, did.DID, cose.Signer) {
	t.Helper()
	s, _, err := cose.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	tx, id, err := op.SignRegister(s, "k1", op.Payload{Network: network, Register: &op.Register{
		Kind: op.KindDevice, Provider: prov.String(), Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return tx, id, s
}

func sign(t *testing.T, s cose.Signer, kid did.DID, p op.Payload) []byte {
	t.Helper()
	p.Network = network
	tx, err := op.Sign(s, kid, p)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func reason(r core.TxResult) op.Reason { return op.ReasonFromCode(r.Code) }

func TestEmptyBlocksKeepAppHash(t *testing.T) {
	app, ps := genesis(t, 1)
	c := newChain(t, app)
	_, h0 := c.block()
	_, h1 := c.block()
	if !bytes.Equal(h0, h1) {
		t.Fatalf("empty block changed the app hash: %x -> %x", h0, h1)
	}
	tx, _, _ := register(t, ps[0].kid.Base(), cose.AlgEdDSA)
	res, h2 := c.block(tx)
	if res[0].Code != 0 {
		t.Fatalf("register: %s %s", reason(res[0]), res[0].Log)
	}
	if bytes.Equal(h1, h2) {
		t.Fatal("a registration did not change the app hash")
	}
	_, h3 := c.block()
	if !bytes.Equal(h2, h3) {
		t.Fatalf("empty block after a registration changed the app hash")
	}
	// A block of only rejected operations changes nothing either.
	res, h4 := c.block([]byte("junk"), tx)
	if res[0].Code == 0 || res[1].Code == 0 || !bytes.Equal(h3, h4) {
		t.Fatalf("rejected operations changed the state: %v %v", res, h4)
	}
}

// TestFinalizeBlockChecksEverything: a byzantine proposer can put in a
// block what CheckTx would refuse; FinalizeBlock refuses it too.
func TestFinalizeBlockChecksEverything(t *testing.T) {
	app, ps := genesis(t, 2)
	c := newChain(t, app)
	tx, dev, s := register(t, ps[0].kid.Base(), cose.AlgEdDSA)
	c.block(tx)
	badSig := append([]byte(nil), tx...)
	badSig[len(badSig)-1] ^= 1
	upd := func(v uint64, attr string) []byte {
		return sign(t, s, dev.WithFragment("k1"), op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: dev.String(), Version: v,
			Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}, Attrs: []op.Attr{{K: "a", V: attr}}}}})
	}
	first, second := upd(1, "x"), upd(1, "y")
	foreign := sign(t, ps[1].signer, ps[1].kid, op.Payload{Type: op.TypeRevoke, Status: &op.Status{DID: dev.String(), Version: 1}})
	selfValidate := sign(t, s, dev.WithFragment("k1"), op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: dev.String(), Version: 1}})
	res, _ := c.block([]byte{0xa0}, badSig, tx, foreign, selfValidate, first, second, first)
	want := []op.Reason{op.ReasonMalformed, op.ReasonBadSignature, op.ReasonReplayed, op.ReasonUnauthorized, op.ReasonUnauthorized, op.ReasonOK, op.ReasonStaleVersion, op.ReasonReplayed}
	for i, w := range want {
		if got := reason(res[i]); got != w {
			t.Errorf("tx %d: %s (%s), want %s", i, got, res[i].Log, w)
		}
		// CheckTx agrees with FinalizeBlock on the committed state, except
		// for the one update that did apply (it is now a replay).
		if i != 5 {
			if ck := op.ReasonFromCode(c.checkTx([][]byte{{0xa0}, badSig, tx, foreign, selfValidate, first, second, first}[i]).Code); ck != w && !(i == 6 && ck == op.ReasonStaleVersion) {
				t.Errorf("tx %d: CheckTx says %s, FinalizeBlock %s", i, ck, w)
			}
		}
	}
	e, err := getEntity(c.st.Latest(), dev.String())
	if err != nil || e.Version != 2 || e.Doc.Attrs[0].V != "x" || e.Status != op.StatusPending {
		t.Fatalf("entity after the block: %+v %v", e, err)
	}
}

// TestDeterminism applies the same blocks to two applications, one of
// which saw every operation in CheckTx first (warm signature cache): the
// results and app hashes are identical.
func TestDeterminism(t *testing.T) {
	app, ps := genesis(t, 2)
	a, b := newChain(t, app), newChain(t, app)
	rng := rand.New(rand.NewPCG(1, 2))
	type ent struct {
		id did.DID
		s  cose.Signer
		v  uint64
	}
	var ents []ent
	for blk := 0; blk < 20; blk++ {
		var txs [][]byte
		for i := 0; i < 10; i++ {
			switch {
			case len(ents) == 0 || rng.IntN(3) == 0:
				alg := cose.AlgEdDSA
				if rng.IntN(2) == 0 {
					alg = cose.AlgES256
				}
				tx, id, s := register(t, ps[rng.IntN(2)].kid.Base(), alg)
				txs = append(txs, tx)
				ents = append(ents, ent{id, s, 1})
			default:
				e := &ents[rng.IntN(len(ents))]
				p := ps[rng.IntN(2)]
				typ := []string{op.TypeValidate, op.TypeReject, op.TypeRevoke}[rng.IntN(3)]
				txs = append(txs, sign(t, p.signer, p.kid, op.Payload{Type: typ, Status: &op.Status{DID: e.id.String(), Version: e.v}}))
				e.v++ // right or wrong: the results decide
			}
		}
		for _, tx := range txs {
			a.checkTx(tx)
		}
		ra, ha := a.block(txs...)
		rb, hb := b.block(txs...)
		if !bytes.Equal(ha, hb) {
			t.Fatalf("block %d: app hashes differ: %x vs %x", blk, ha, hb)
		}
		for i := range ra {
			if ra[i].Code != rb[i].Code || !bytes.Equal(ra[i].Data, rb[i].Data) {
				t.Fatalf("block %d tx %d: results differ", blk, i)
			}
		}
	}
	ha := sha256.Sum256(a.st.Hash())
	t.Logf("20 blocks, %d entities, final app hash %x", len(ents), ha[:8])
}

// TestAliasIndex: enrolled (validated) devices hold their identifiers;
// one identifier twice in a batch refuses the batch; an update moves a
// claim; a revocation releases it.
func TestAliasIndex(t *testing.T) {
	app, ps := genesis(t, 1)
	c := newChain(t, app)
	p := ps[0]
	key := func() op.Key {
		s, _, _ := cose.GenerateKey(cose.AlgEdDSA)
		return op.KeyFrom("k1", s.Public())
	}
	enroll := func(items ...op.EnrollEntry) core.TxResult {
		tx := sign(t, p.signer, p.kid, op.Payload{Type: op.TypeEnroll, Enroll: &op.Enroll{Provider: p.kid.Base().String(), Items: items}})
		res, _ := c.block(tx)
		return res[0]
	}
	entry := func(aliases ...string) op.EnrollEntry {
		return op.EnrollEntry{Doc: op.Document{Keys: []op.Key{key()}, Aliases: aliases}}
	}
	holder := func(alias string) string {
		b, err := c.st.Latest().Get(record.AliasKey(alias))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if r := enroll(entry("tel:+15550001"), entry("tel:+1-555-0001")); reason(r) != op.ReasonAliasTaken {
		t.Fatalf("one identifier twice in a batch: %s %s", reason(r), r.Log)
	}
	a := entry("tel:+1-555-0001", "urn:dev:mac:00:24:be:ff:fe:80")
	if r := enroll(a); r.Code != 0 {
		t.Fatalf("enroll: %s", r.Log)
	}
	aid, _ := op.EnrollDID(network, p.kid.Base().String(), a)
	if holder("tel:+15550001") != aid.String() || holder("urn:dev:mac:0024befffe80") != aid.String() {
		t.Fatalf("index after enroll: %q %q", holder("tel:+15550001"), holder("urn:dev:mac:0024befffe80"))
	}
	// The provider updates the device: drops the MAC, keeps the number.
	upd := sign(t, p.signer, p.kid, op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: aid.String(), Version: 1,
		Doc: op.Document{Keys: a.Doc.Keys, Aliases: []string{"tel:+15550001"}}}})
	if res, _ := c.block(upd); res[0].Code != 0 {
		t.Fatalf("update: %s", res[0].Log)
	}
	if holder("urn:dev:mac:0024befffe80") != "" || holder("tel:+15550001") != aid.String() {
		t.Fatal("update did not move the claims")
	}
	if r := enroll(entry("urn:dev:mac:0024BEFFFE80")); r.Code != 0 {
		t.Fatalf("released identifier not claimable: %s", r.Log)
	}
	rev := sign(t, p.signer, p.kid, op.Payload{Type: op.TypeRevoke, Status: &op.Status{DID: aid.String(), Version: 2}})
	if res, _ := c.block(rev); res[0].Code != 0 || holder("tel:+15550001") != "" {
		t.Fatalf("revoke did not release: %v %q", res[0].Log, holder("tel:+15550001"))
	}
}

// TestRejectedOperationsAreNotCached: only operations that pass a check
// enter the operation cache, so a flood of refused ones costs no memory.
func TestRejectedOperationsAreNotCached(t *testing.T) {
	app, ps := genesis(t, 1)
	c := newChain(t, app)
	bad, _, _ := register(t, did.New(network, []byte("no such provider")), cose.AlgEdDSA)
	if r := c.checkTx(bad); r.Code == 0 {
		t.Fatal("registration under an unknown provider accepted")
	}
	if c.app.ops.get(sha256.Sum256(bad)) != nil {
		t.Fatal("a rejected operation was cached")
	}
	good, _, _ := register(t, ps[0].kid.Base(), cose.AlgEdDSA)
	if r := c.checkTx(good); r.Code != 0 {
		t.Fatalf("check: %s", r.Log)
	}
	h := sha256.Sum256(good)
	if c.app.ops.get(h) == nil {
		t.Fatal("an accepted operation was not cached")
	}
	c.block(good)
	if c.app.ops.get(h) != nil {
		t.Fatal("a committed operation stayed cached")
	}
	// The cache is bounded in bytes too.
	small := newOpCache(100, 1000)
	for i := 0; i < 10; i++ {
		small.put([32]byte{byte(i)}, nil, nil, 400, checkStamp{})
	}
	if small.bytes > 1000 || len(small.m) != 2 {
		t.Fatalf("cache holds %d entries, %d bytes", len(small.m), small.bytes)
	}
}

// TestContractDeterminism: two applications given the same blocks, with
// a registration contract deciding, reach the same results and app hash.
func TestContractDeterminism(t *testing.T) {
	app, ps := genesis(t, 1)
	a, b := newChain(t, app), newChain(t, app)
	p := ps[0]
	deploy := sign(t, p.signer, p.kid, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{
		Provider: p.kid.Base().String(), Name: "tac", Kind: op.ContractRegistration,
		Source: `aliases.exists(a, a.startsWith("tel:+1")) ? "validate" : (attr_keys.size() > 0 ? "reject: " + attr_keys[0] : "pending")`}})
	ra, ha := a.block(deploy)
	_, hb := b.block(deploy)
	if ra[0].Code != 0 || !bytes.Equal(ha, hb) {
		t.Fatalf("deploy: %s", ra[0].Log)
	}
	for blk := 0; blk < 5; blk++ {
		var txs [][]byte
		for i := 0; i < 6; i++ {
			s, _, _ := cose.GenerateKey(cose.AlgEdDSA)
			doc := op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}}
			switch i % 3 {
			case 0:
				doc.Aliases = []string{fmt.Sprintf("tel:+1555%07d", blk*10+i)}
			case 1:
				doc.Attrs = []op.Attr{{K: "b", V: "1"}, {K: "z", V: "2"}}
			}
			tx, _, err := op.SignRegister(s, "k1", op.Payload{Network: network, Register: &op.Register{Kind: op.KindDevice, Provider: p.kid.Base().String(), Doc: doc}})
			if err != nil {
				t.Fatal(err)
			}
			txs = append(txs, tx)
		}
		ra, ha := a.block(txs...)
		rb, hb := b.block(txs...)
		if !bytes.Equal(ha, hb) {
			t.Fatalf("block %d: app hashes differ", blk)
		}
		want := []string{op.StatusValidated, op.StatusRejected, op.StatusPending}
		for i := range ra {
			var res record.Result
			if err := op.Unmarshal(ra[i].Data, &res); err != nil || res.Status != want[i%3] || !bytes.Equal(ra[i].Data, rb[i].Data) {
				t.Fatalf("block %d tx %d: %+v %v (want %s)", blk, i, res, err, want[i%3])
			}
		}
	}
}

// TestCheckTxDefersWhatANewerBlockCouldLift: node b has not yet committed
// the block in which node a registered a device, when a's provider
// validates it at a and a gossips the validation to b. b's CheckTx admits
// it (refusing it would leave it in a's mempool alone, and a network that
// makes no empty blocks waits for a proposer that holds it), while b's
// Precheck, for b's own clients, still says what b's state says. What no
// block can lift rejects everywhere.
func TestCheckTxDefersWhatANewerBlockCouldLift(t *testing.T) {
	g, ps := genesis(t, 2)
	a, b := newChain(t, g), newChain(t, g)
	reg, dev, s := register(t, ps[0].kid.Base(), cose.AlgEdDSA)
	a.block(reg)
	validate := sign(t, ps[0].signer, ps[0].kid, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: dev.String(), Version: 1}})
	update := sign(t, s, dev.WithFragment("k1"), op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: dev.String(), Version: 1,
		Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}}}})
	if r := a.checkTx(validate); r.Code != 0 || r.Reason != "" {
		t.Fatalf("a: %+v", r)
	}
	for _, tx := range [][]byte{validate, update} {
		if err := b.app.Precheck(tx); !errors.Is(err, &op.Error{Reason: op.ReasonUnknownEntity}) {
			t.Fatalf("b's precheck: %v", err)
		}
	}
	if r := b.checkTx(validate); r.Code != 0 || !strings.HasPrefix(r.Reason, "deferred: unknown-entity") {
		t.Fatalf("b's CheckTx of the provider's validation: %+v", r)
	}
	// Only an authenticated signer (a provider's admin key) is deferred:
	// the device's own update, or a validation whose signature fails,
	// cannot be checked here and is refused (the submitting node sends
	// it again if no block comes).
	forged := append([]byte(nil), validate...)
	forged[len(forged)-1] ^= 1
	for tx, want := range map[*[]byte]op.Reason{&update: op.ReasonUnknownEntity, &forged: op.ReasonBadSignature} {
		if r := b.checkTx(*tx); op.ReasonFromCode(r.Code) != want {
			t.Fatalf("b's CheckTx: %s (%s), want %s", op.ReasonFromCode(r.Code), r.Log, want)
		}
	}
	// A registration is signed by a key anyone can make: binding an
	// access contract this state lacks is refused, not deferred.
	svcKey, _, _ := cose.GenerateKey(cose.AlgEdDSA)
	bindsNothing, _, err := op.SignRegister(svcKey, "k1", op.Payload{Network: network, Register: &op.Register{Kind: op.KindService, Provider: ps[0].kid.Base().String(),
		Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", svcKey.Public())}, Access: []string{ps[0].kid.Base().String() + "/none"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if r := b.checkTx(bindsNothing); op.ReasonFromCode(r.Code) != op.ReasonInvalidField {
		t.Fatalf("a registration binding a missing contract: %+v", r)
	}
	// b commits the registration: the validation now applies.
	b.block(reg)
	// The mempool's recheck after the block is this same Check.
	if r := b.checkTx(validate); r.Code != 0 || r.Reason != "" {
		t.Fatalf("recheck: %+v", r)
	}
	if res, _ := b.block(validate); res[0].Code != 0 {
		t.Fatalf("validate: %s", res[0].Log)
	}
	// These reject in CheckTx too: another network, another provider's
	// revocation, the device validating itself, a replay, a version
	// already passed, a signature by another key, a key it does not have.
	other := sign(t, ps[0].signer, ps[0].kid, op.Payload{Type: op.TypeRevoke, Status: &op.Status{DID: dev.String(), Version: 2}})
	foreign := sign(t, ps[1].signer, ps[1].kid, op.Payload{Type: op.TypeRevoke, Status: &op.Status{DID: dev.String(), Version: 2}})
	self := sign(t, s, dev.WithFragment("k1"), op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: dev.String(), Version: 2}})
	wrongNet, err := op.Sign(ps[0].signer, ps[0].kid, op.Payload{Type: op.TypeRevoke, Network: "elsewhere", Status: &op.Status{DID: dev.String(), Version: 2}})
	if err != nil {
		t.Fatal(err)
	}
	stale := sign(t, ps[0].signer, ps[0].kid, op.Payload{Type: op.TypeRevoke, Status: &op.Status{DID: dev.String(), Version: 1}})
	for name, c := range map[string]struct {
		tx   []byte
		want op.Reason
	}{
		"foreign provider": {foreign, op.ReasonUnauthorized},
		"self-validation":  {self, op.ReasonUnauthorized},
		"wrong network":    {wrongNet, op.ReasonWrongNetwork},
		"replay":           {validate, op.ReasonReplayed},
		"passed version":   {stale, op.ReasonStaleVersion},
		"malformed":        {[]byte{0xa0}, op.ReasonMalformed},
		"wrongly signed":   {sign(t, ps[0].signer, dev.WithFragment("k1"), op.Payload{Type: op.TypeDeactivate, Status: &op.Status{DID: dev.String(), Version: 2}}), op.ReasonBadSignature},
		"unknown key":      {sign(t, s, dev.WithFragment("k9"), op.Payload{Type: op.TypeDeactivate, Status: &op.Status{DID: dev.String(), Version: 2}}), op.ReasonUnknownSigner},
	} {
		if r := b.checkTx(c.tx); op.ReasonFromCode(r.Code) != c.want {
			t.Errorf("%s: CheckTx %s (%s), want %s", name, op.ReasonFromCode(r.Code), r.Log, c.want)
		}
	}
	if r := b.checkTx(other); r.Code != 0 || r.Reason != "" {
		t.Fatalf("the provider's revocation of the current version: %+v", r)
	}
}

package evmledger_test

import (
	"context"
	"crypto/ecdsa"
	"log/slog"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/params"

	"github.com/bias-iot/bias/internal/ledger/evmledger"
)

// chainGenesis is the simulated chain's genesis timestamp: in the future
// of any wall clock, so that every block is stamped its parent's time plus
// one second (the simulated beacon's rule when the clock is behind), and
// a run is reproducible.
const chainGenesis = 4_000_000_000

// simChain is an in-process simulated chain (mainnet gas rules, all forks
// on) that seals a block whenever asked, or on its own every tick.
type simChain struct {
	sim     *simulated.Backend
	client  evmledger.Chain
	mu      sync.Mutex // serialises sealing
	ticking bool       // the chain seals on its own
	stop    chan struct{}
	done    chan struct{}
}

// fund is an account with plenty of ether on the simulated chain.
func fund(t testing.TB, n int) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte{byte(n), 'k', 'e', 'y'}))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newSimChain starts a chain on which keys are funded; tick > 0 seals a
// block every tick (the chain's own block time), else only seal does.
func newSimChain(t testing.TB, tick time.Duration, keys ...*ecdsa.PrivateKey) *simChain {
	t.Helper()
	alloc := types.GenesisAlloc{}
	for _, k := range keys {
		alloc[crypto.PubkeyToAddress(k.PublicKey)] = types.Account{Balance: new(big.Int).Mul(big.NewInt(1000), big.NewInt(params.Ether))}
	}
	sim := simulated.NewBackend(alloc, func(_ *node.Config, ec *ethconfig.Config) {
		ec.Genesis.Timestamp = chainGenesis
	})
	c := &simChain{sim: sim, client: sim.Client().(evmledger.Chain), stop: make(chan struct{}), done: make(chan struct{}), ticking: tick > 0}
	// The first block: its parent's time plus one second; from then on
	// the beacon's clock is ahead of the wall clock.
	if err := sim.AdjustTime(time.Second); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.done)
		if tick <= 0 {
			return
		}
		tk := time.NewTicker(tick)
		defer tk.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-tk.C:
				c.seal()
			}
		}
	}()
	t.Cleanup(func() {
		close(c.stop)
		<-c.done
		_ = sim.Close()
	})
	return c
}

// seal makes one block of what the pool holds.
func (c *simChain) seal() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sim.Commit()
}

// sealWhenPending seals a block once the pool holds a transaction.
func (c *simChain) sealWhenPending(t testing.TB) {
	t.Helper()
	for {
		n, err := c.sim.Client().PendingTransactionCount(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			c.seal()
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// poster binds the anchor contract at addr for key's account, which posts
// anchors of its own (an attacker's, or a benchmark's) beside any engine.
func (c *simChain) poster(t testing.TB, addr common.Address, key *ecdsa.PrivateKey) (*evmledger.Anchor, *bind.TransactOpts) {
	t.Helper()
	id, err := c.client.ChainID(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	opts, err := bind.NewKeyedTransactorWithChainID(key, id)
	if err != nil {
		t.Fatal(err)
	}
	anchor, err := evmledger.NewAnchor(addr, c.client)
	if err != nil {
		t.Fatal(err)
	}
	return anchor, opts
}

// deploy deploys the anchor contract of the test network.
func (c *simChain) deploy(t testing.TB, key *ecdsa.PrivateKey) evmledger.Config {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	type deployed struct {
		addr common.Address
		err  error
	}
	done := make(chan deployed, 1)
	go func() {
		addr, err := evmledger.Deploy(ctx, c.client, key, network, 5*time.Millisecond)
		done <- deployed{addr, err}
	}()
	var d deployed
	if c.ticking {
		d = <-done
	} else {
		c.sealWhenPending(t) // exactly one block: the deployment's
		d = <-done
	}
	addr, err := d.addr, d.err
	if err != nil {
		t.Fatal(err)
	}
	return evmledger.Config{Network: network, Contract: addr, Poll: 5 * time.Millisecond}
}

// testLogger logs to t.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

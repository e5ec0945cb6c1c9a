package node

import (
	"context"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/params"
)

// simChain is an in-process simulated EVM chain (go-ethereum's
// simulated backend: every fork on, mainnet gas rules, EVM chain id
// 1337) with one funded account. It seals a block as soon as a
// transaction waits and one more after it (whose header carries the root
// after the block before, as CometBFT's proof block does); while idle,
// none, or an empty one each second with Config.CreateEmptyBlocks. Block
// times are the wall clock's seconds, one more than the parent's when
// blocks come faster.
type simChain struct {
	sim    *simulated.Backend
	client simulated.Client
	funded common.Address
	stop   chan struct{}
	done   chan struct{}
}

// simIdle is the pace of the simulated chain's empty blocks.
const simIdle = time.Second

func startSimChain(funded common.Address, poll time.Duration, idle bool) *simChain {
	supply := new(big.Int).Mul(big.NewInt(1_000_000), big.NewInt(params.Ether))
	sim := simulated.NewBackend(types.GenesisAlloc{funded: {Balance: supply}})
	c := &simChain{sim: sim, client: sim.Client(), funded: funded, stop: make(chan struct{}), done: make(chan struct{})}
	go c.seal(min(poll, 10*time.Millisecond), idle)
	return c
}

func (c *simChain) seal(every time.Duration, idle bool) {
	defer close(c.done)
	tk := time.NewTicker(every)
	defer tk.Stop()
	last, again := time.Now(), false
	for {
		select {
		case <-c.stop:
			return
		case <-tk.C:
		}
		// Only the node's account sends: its pool nonce runs ahead of
		// its chain nonce while a transaction waits.
		waiting := c.waiting()
		if waiting || again || idle && time.Since(last) >= simIdle {
			c.sim.Commit()
			last, again = time.Now(), waiting
		}
	}
}

// waiting reports whether a transaction of the funded account waits in
// the pool.
func (c *simChain) waiting() bool {
	ctx := context.Background()
	pending, err := c.client.PendingNonceAt(ctx, c.funded)
	if err != nil {
		return false
	}
	mined, err := c.client.NonceAt(ctx, c.funded, nil)
	return err == nil && pending > mined
}

func (c *simChain) close() {
	close(c.stop)
	<-c.done
	_ = c.sim.Close()
}

package evmledger_test

import (
	"encoding/json"
	"math/big"
	"runtime"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"

	"github.com/bias-iot/bias/internal/ledger/evmledger"
)

// TestAmplification measures what an anonymous poster costs every
// follower: 20 batches of 1000 of the shortest operations a batch may
// carry, all of which fail (they are no operations), in one block. It
// logs the gas, the heap and the stored bytes per operation (the figures
// of docs/evm.md) and checks that a failed operation is kept as its
// hash, code and reason only; with a MemoryBytes below a block's size,
// the follower's heap holds none of them.
func TestAmplification(t *testing.T) {
	t.Run("window", func(t *testing.T) { amplify(t, 0) })
	t.Run("store-only", func(t *testing.T) { amplify(t, 1) })
}

func amplify(t *testing.T, memoryBytes int64) {
	owner, atk := fund(t, 1), fund(t, 9)
	c := newSimChain(t, 0, owner, atk)
	cfg := c.deploy(t, owner)
	appState, _ := genesis(t)
	cfg.AppState = appState
	cfg.DataDir = t.TempDir()
	cfg.MemoryBytes = memoryBytes

	ops := make([][]byte, evmledger.MaxBatchOps)
	for i := range ops {
		ops[i] = make([]byte, evmledger.MinOpBytes)
	}
	batch, err := evmledger.EncodeBatch(evmledger.Batch{Network: network, Ops: ops})
	if err != nil {
		t.Fatal(err)
	}
	anchor, opts := c.poster(t, cfg.Contract, atk)
	gb, err := anchor.GenesisBlock(&bind.CallOpts{Context: t.Context()})
	if err != nil {
		t.Fatal(err)
	}
	const batches = 20 // 20000 operations: within a test's patience under -race
	n0, err := c.client.PendingNonceAt(t.Context(), opts.From)
	if err != nil {
		t.Fatal(err)
	}
	txs := make([]common.Hash, 0, batches)
	for i := range batches {
		opts.Nonce = new(big.Int).SetUint64(n0 + uint64(i))
		tx, err := anchor.Anchor(opts, batch)
		if err != nil {
			t.Fatal(err)
		}
		txs = append(txs, tx.Hash())
	}
	// The batches may take more than one block (the block's gas limit).
	var gas uint64
	var last int64
	for i := 0; i < len(txs); {
		c.seal()
		for ; i < len(txs); i++ {
			rc, err := c.client.TransactionReceipt(t.Context(), txs[i])
			if err != nil {
				break
			}
			if rc.Status != 1 {
				t.Fatalf("batch %d failed", i)
			}
			gas += rc.GasUsed
			last = new(big.Int).Sub(rc.BlockNumber, gb).Int64() + 1
		}
	}
	// The follower starts once the chain holds them all, so that the
	// heap it grows by is its own.
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	l := follow(t, c, cfg)
	waitHeight(t, l, last)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	var n, enc, stored int
	for _, b := range watchN(t, l, last)[1:] {
		n += len(b.Results)
		for _, r := range b.Results {
			if r.Code == 0 || r.Reason == "" || len(r.Hash) != 32 || r.Log != "" || len(r.Data) != 0 || len(r.Events) != 0 {
				t.Fatalf("a failed operation kept as %+v, want its hash, code and reason only", r)
			}
		}
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		enc += len(j)
		stored += l.StoredBytes(b.Height)
	}
	if n != batches*evmledger.MaxBatchOps {
		t.Fatalf("%d results, want %d", n, batches*evmledger.MaxBatchOps)
	}
	heap := int64(m1.HeapAlloc) - int64(m0.HeapAlloc) //nolint:gosec // heap sizes fit
	t.Logf("%d-byte operations: %d in %d blocks; gas %d (%d per op); blocks as Watch gives them %d bytes (%d per op); live heap grew %d bytes (%d per op); stored entries %d bytes (%d per op)",
		evmledger.MinOpBytes, n, last-1, gas, gas/uint64(n), enc, enc/n, heap, heap/int64(n), stored, stored/n) //nolint:gosec // n > 0
}

// TestShortOpsSkipped: a batch that carries an operation shorter than
// evmledger.MinOpBytes is malformed, and every follower skips it whole:
// its block has no results.
func TestShortOpsSkipped(t *testing.T) {
	owner, atk := fund(t, 1), fund(t, 9)
	c := newSimChain(t, 0, owner, atk)
	cfg := c.deploy(t, owner)
	l := newLedger(t, c, cfg)
	waitHeight(t, l, 1)
	// version 1, the network, one operation of one byte
	batch := append([]byte{evmledger.BatchVersion, byte(len(network))}, network...)
	batch = append(batch, 0, 1, 0, 0, 0, 1, 'x')
	anchor, opts := c.poster(t, cfg.Contract, atk)
	tx, err := anchor.Anchor(opts, batch)
	if err != nil {
		t.Fatal(err)
	}
	c.seal()
	if rc, err := c.client.TransactionReceipt(t.Context(), tx.Hash()); err != nil || rc.Status != 1 {
		t.Fatalf("the anchor refused the batch: %v", err)
	}
	waitHeight(t, l, 2)
	if b := watchN(t, l, 2)[1]; len(b.Results) != 0 {
		t.Fatalf("a batch with a %d-byte operation gave %d results, want it skipped", 1, len(b.Results))
	}
}

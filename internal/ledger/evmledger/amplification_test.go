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
// follower: 100 batches of 1000 of the shortest operations a batch may
// carry, all of which fail (they are no operations), in one block. It
// logs the gas, the heap and the stored bytes per operation (the figures
// of docs/evm.md) and checks that a failed operation is kept as its
// hash, code and reason only.
func TestAmplification(t *testing.T) {
	owner, atk := fund(t, 1), fund(t, 9)
	c := newSimChain(t, 0, owner, atk)
	cfg := c.deploy(t, owner)
	appState, _ := genesis(t)
	cfg.AppState = appState
	cfg.DataDir = t.TempDir()
	l := follow(t, c, cfg)
	waitHeight(t, l, 1)

	ops := make([][]byte, evmledger.MaxBatchOps)
	for i := range ops {
		ops[i] = make([]byte, amplifiedOpBytes)
	}
	batch, err := evmledger.EncodeBatch(evmledger.Batch{Network: network, Ops: ops})
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.client.ChainID(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	opts, err := bind.NewKeyedTransactorWithChainID(atk, id)
	if err != nil {
		t.Fatal(err)
	}
	anchor, err := evmledger.NewAnchor(cfg.Contract, c.client)
	if err != nil {
		t.Fatal(err)
	}
	const batches = 100
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
	c.seal()
	var gas uint64
	for _, h := range txs {
		rc, err := c.client.TransactionReceipt(t.Context(), h)
		if err != nil || rc.Status != 1 {
			t.Fatalf("receipt %v: %v", h, err)
		}
		gas += rc.GasUsed
	}
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	waitHeight(t, l, 2)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	b := watchN(t, l, 2)[1]
	n := len(b.Results)
	if n != batches*evmledger.MaxBatchOps {
		t.Fatalf("%d results, want %d", n, batches*evmledger.MaxBatchOps)
	}
	for _, r := range b.Results {
		if r.Code == 0 || r.Reason == "" || len(r.Hash) != 32 || r.Log != "" || len(r.Data) != 0 || len(r.Events) != 0 {
			t.Fatalf("a failed operation kept as %+v, want its hash, code and reason only", r)
		}
	}
	enc, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	heap := int64(m1.HeapAlloc) - int64(m0.HeapAlloc) //nolint:gosec // heap sizes fit
	t.Logf("%d-byte operations: %d in one block; gas %d (%d per op); block as Watch gives it %d bytes (%d per op); live heap grew %d bytes (%d per op); stored entry %d bytes (%d per op)",
		amplifiedOpBytes, n, gas, gas/uint64(n), len(enc), len(enc)/n, heap, heap/int64(n), l.StoredBytes(2), l.StoredBytes(2)/n) //nolint:gosec // n > 0
}

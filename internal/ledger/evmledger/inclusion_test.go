package evmledger_test

import (
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/bias-iot/bias/internal/ledger/evmledger"
)

// TestInclusion: a client verifies that a submitted operation is in its
// final EVM block from the block hash alone (the receipt proof against the
// header's receipts root), and a proof of anything else does not verify.
func TestInclusion(t *testing.T) {
	key := fund(t, 1)
	c := newSimChain(t, 10*time.Millisecond, key)
	cfg := c.deploy(t, key)
	cfg.Key = key
	l := newLedger(t, c, cfg)
	// Several operations share a batch: prove the last one.
	txs := [][]byte{kvOp("a=1"), kvOp("b=2"), kvOp("c=3")}
	results := make(chan error, len(txs))
	for _, tx := range txs[:2] {
		go func() {
			_, err := l.Submit(t.Context(), tx)
			results <- err
		}()
	}
	r, err := l.Submit(t.Context(), txs[2])
	if err != nil || r.Code != 0 {
		t.Fatalf("submit: %+v %v", r, err)
	}
	for range 2 {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	in, err := l.Inclusion(t.Context(), r.Height, r.Index)
	if err != nil {
		t.Fatal(err)
	}
	gb, err := evmledger.GenesisBlock(t.Context(), c.client, cfg.Contract)
	if err != nil {
		t.Fatal(err)
	}
	// The client's trusted block hash comes from the chain, not the node.
	hdr, err := c.client.HeaderByNumber(t.Context(), new(big.Int).SetUint64(gb+uint64(r.Height)-1)) //nolint:gosec // a positive height
	if err != nil {
		t.Fatal(err)
	}
	block := hdr.Hash()
	if err := evmledger.VerifyInclusion(in, block, cfg.Contract, gb, network, txs[2]); err != nil {
		t.Fatal(err)
	}
	other := *in
	other.Op = (in.Op + 1) % 3
	bad := func(name string, err error) {
		t.Helper()
		if !errors.Is(err, evmledger.ErrInclusion) {
			t.Errorf("%s: %v, want ErrInclusion", name, err)
		}
	}
	bad("fail/other-op", evmledger.VerifyInclusion(in, block, cfg.Contract, gb, network, kvOp("x=9")))
	bad("fail/other-index", evmledger.VerifyInclusion(&other, block, cfg.Contract, gb, network, txs[2]))
	bad("fail/other-block", evmledger.VerifyInclusion(in, hdr.ParentHash, cfg.Contract, gb, network, txs[2]))
	bad("fail/other-contract", evmledger.VerifyInclusion(in, block, common.Address{1}, gb, network, txs[2]))
	bad("fail/other-network", evmledger.VerifyInclusion(in, block, cfg.Contract, gb, "other", txs[2]))
	bad("fail/other-height", evmledger.VerifyInclusion(in, block, cfg.Contract, gb+1, network, txs[2]))
	cut := *in
	cut.Proof = in.Proof[:len(in.Proof)-1]
	bad("fail/truncated-proof", evmledger.VerifyInclusion(&cut, block, cfg.Contract, gb, network, txs[2]))
}

package evmproof_test

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/trie/trienode"
	"github.com/ethereum/go-ethereum/triedb"

	"github.com/bias-iot/bias/evmproof"
)

// block builds, without a chain, an EVM block of three receipts whose
// second carries an Anchored event of contract with a batch of ops, and
// the inclusion of ops[1].
func block(t *testing.T, contract common.Address, number uint64, network string, ops ...[]byte) (*types.Header, *evmproof.Inclusion) {
	t.Helper()
	anchored := &types.Log{Address: contract, Topics: []common.Hash{evmproof.AnchoredTopic, common.BigToHash(big.NewInt(7))},
		Data: encodeEvent(encodeBatch(network, ops...))}
	other := &types.Log{Address: common.Address{9}, Topics: []common.Hash{{1}}, Data: []byte{1}}
	rcs := []*types.Receipt{
		{Type: types.DynamicFeeTxType, Status: 1, CumulativeGasUsed: 21000, Logs: []*types.Log{}},
		{Type: types.DynamicFeeTxType, Status: 1, CumulativeGasUsed: 70000, Logs: []*types.Log{other, anchored}},
		{Type: types.LegacyTxType, Status: 1, CumulativeGasUsed: 91000, Logs: []*types.Log{}},
	}
	tr := trie.NewEmpty(triedb.NewDatabase(rawdb.NewMemoryDatabase(), nil))
	for i, rc := range rcs {
		rc.Bloom = types.CreateBloom(rc)
		enc, err := rc.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.Update(evmproof.ReceiptKey(uint(i)), enc); err != nil { //nolint:gosec // an index
			t.Fatal(err)
		}
	}
	hdr := &types.Header{Number: new(big.Int).SetUint64(number), ReceiptHash: tr.Hash(), Difficulty: big.NewInt(0), GasLimit: 30_000_000, Time: 1}
	var nodes trienode.ProofList
	if err := tr.Prove(evmproof.ReceiptKey(1), &nodes); err != nil {
		t.Fatal(err)
	}
	proof := make([][]byte, 0, len(nodes))
	for _, n := range nodes {
		proof = append(proof, n)
	}
	enc, err := rlp.EncodeToBytes(hdr)
	if err != nil {
		t.Fatal(err)
	}
	return hdr, &evmproof.Inclusion{Height: int64(number) - 99, Header: enc, TxIndex: 1, Proof: proof, Log: 1, Op: 1} //nolint:gosec // small
}

// TestVerify: a proof built from receipts by hand (go-ethereum's trie,
// not the engine) verifies, and each thing a client checks refuses it
// when it differs.
func TestVerify(t *testing.T) {
	contract := common.Address{0xaa}
	hdr, in := block(t, contract, 104, "net", op("op0"), op("op1"))
	if err := evmproof.Verify(in, hdr.Hash(), contract, 100, "net", op("op1")); err != nil {
		t.Fatalf("verify: %v", err)
	}
	with := func(f func(*evmproof.Inclusion)) *evmproof.Inclusion {
		c := *in
		c.Proof = append([][]byte(nil), in.Proof...)
		f(&c)
		return &c
	}
	otherHdr, otherIn := block(t, contract, 104, "other", op("op0"), op("op1"))
	for name, err := range map[string]error{
		"fail/nil":            evmproof.Verify(nil, hdr.Hash(), contract, 100, "net", op("op1")),
		"fail/other-op":       evmproof.Verify(in, hdr.Hash(), contract, 100, "net", op("op0")),
		"fail/other-index":    evmproof.Verify(with(func(c *evmproof.Inclusion) { c.Op = 0 }), hdr.Hash(), contract, 100, "net", op("op1")),
		"fail/index-out":      evmproof.Verify(with(func(c *evmproof.Inclusion) { c.Op = 2 }), hdr.Hash(), contract, 100, "net", op("op1")),
		"fail/other-log":      evmproof.Verify(with(func(c *evmproof.Inclusion) { c.Log = 0 }), hdr.Hash(), contract, 100, "net", op("op1")),
		"fail/other-receipt":  evmproof.Verify(with(func(c *evmproof.Inclusion) { c.TxIndex = 2 }), hdr.Hash(), contract, 100, "net", op("op1")),
		"fail/truncated":      evmproof.Verify(with(func(c *evmproof.Inclusion) { c.Proof = c.Proof[:len(c.Proof)-1] }), hdr.Hash(), contract, 100, "net", op("op1")),
		"fail/no-proof":       evmproof.Verify(with(func(c *evmproof.Inclusion) { c.Proof = nil }), hdr.Hash(), contract, 100, "net", op("op1")),
		"fail/other-block":    evmproof.Verify(in, common.Hash{1}, contract, 100, "net", op("op1")),
		"fail/other-contract": evmproof.Verify(in, hdr.Hash(), common.Address{0xbb}, 100, "net", op("op1")),
		"fail/other-genesis":  evmproof.Verify(in, hdr.Hash(), contract, 101, "net", op("op1")),
		"fail/genesis-after":  evmproof.Verify(in, hdr.Hash(), contract, 200, "net", op("op1")),
		"fail/other-height":   evmproof.Verify(with(func(c *evmproof.Inclusion) { c.Height++ }), hdr.Hash(), contract, 100, "net", op("op1")),
		"fail/other-network":  evmproof.Verify(otherIn, otherHdr.Hash(), contract, 100, "net", op("op1")),
		"fail/bad-header":     evmproof.Verify(with(func(c *evmproof.Inclusion) { c.Header = c.Header[1:] }), hdr.Hash(), contract, 100, "net", op("op1")),
		"fail/header-too-big": evmproof.Verify(with(func(c *evmproof.Inclusion) { c.Header = make([]byte, evmproof.MaxHeaderBytes+1) }), hdr.Hash(), contract, 100, "net", op("op1")),
		"fail/too-many-nodes": evmproof.Verify(with(func(c *evmproof.Inclusion) { c.Proof = make([][]byte, evmproof.MaxProofNodes+1) }), hdr.Hash(), contract, 100, "net", op("op1")),
	} {
		if !errors.Is(err, evmproof.ErrInclusion) {
			t.Errorf("%s: %v, want ErrInclusion", name, err)
		}
	}
}

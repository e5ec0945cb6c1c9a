package evmledger

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/trie/trienode"
	"github.com/ethereum/go-ethereum/triedb"

	"github.com/bias-iot/bias/evmproof"
	"github.com/bias-iot/bias/internal/ledger"
)

// ErrInclusion is the error of every inclusion proof that does not verify
// (evmproof.ErrInclusion).
var ErrInclusion = evmproof.ErrInclusion

// Inclusion proves that an operation is in a final EVM block
// (evmproof.Inclusion: the block's header, and the receipt of the anchor
// transaction with a Merkle-Patricia proof against the header's receipts
// root). A client that holds the block's hash from a source it trusts
// checks it with evmproof.Verify, trusting no bias node.
type Inclusion = evmproof.Inclusion

// Anchor is what a client confirms, beside the EVM block's hash, to check
// this node's proofs: the anchor contract, the EVM block that deployed it
// (bias height 1) and the network it anchors.
func (l *Ledger) Anchor() evmproof.Anchor {
	return evmproof.Anchor{Contract: l.cfg.Contract, GenesisBlock: l.genesis, Network: l.cfg.Network}
}

// Inclusion returns the proof that the index-th operation of block height
// is in its EVM block.
func (l *Ledger) Inclusion(ctx context.Context, height int64, index int) (*Inclusion, error) {
	if err := l.open(); err != nil {
		return nil, err
	}
	e, err := l.blocks.Get(height)
	if err != nil {
		return nil, err
	}
	if index < 0 || index >= len(e.Extra.Sources) {
		return nil, fmt.Errorf("%w: operation %d of block %d", ledger.ErrNotFound, index, height)
	}
	b, src := e.Extra.EVM, e.Extra.Sources[index]
	hdr, err := l.chain.HeaderByHash(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("evmledger: header %s: %w", b, err)
	}
	rcs, err := l.chain.BlockReceipts(ctx, rpc.BlockNumberOrHashWithHash(b, true))
	if err != nil {
		return nil, fmt.Errorf("evmledger: receipts of %s: %w", b, err)
	}
	tr, err := receiptsTrie(hdr, rcs)
	if err != nil {
		return nil, fmt.Errorf("evmledger: %w", err)
	}
	if src.TxIndex >= uint(len(rcs)) || rcs[src.TxIndex].TxHash != src.Tx {
		return nil, fmt.Errorf("evmledger: transaction %s is not at %d in block %s", src.Tx, src.TxIndex, b)
	}
	in := &Inclusion{Height: height, TxIndex: src.TxIndex, Op: src.Op, Log: -1}
	for j, lg := range rcs[src.TxIndex].Logs {
		if lg.Index == src.LogIndex {
			in.Log = j
		}
	}
	if in.Log < 0 {
		return nil, fmt.Errorf("evmledger: log %d is not in the receipt of %s", src.LogIndex, src.Tx)
	}
	var nodes trienode.ProofList
	if err := tr.Prove(receiptKey(src.TxIndex), &nodes); err != nil {
		return nil, fmt.Errorf("evmledger: prove: %w", err)
	}
	for _, n := range nodes {
		in.Proof = append(in.Proof, n)
	}
	if in.Header, err = rlp.EncodeToBytes(hdr); err != nil {
		return nil, fmt.Errorf("evmledger: header: %w", err)
	}
	return in, nil
}

// receiptsTrie is the trie of a block's receipts; an error unless its
// root is the header's receipts root.
func receiptsTrie(hdr *types.Header, rcs []*types.Receipt) (*trie.Trie, error) {
	tr := trie.NewEmpty(triedb.NewDatabase(rawdb.NewMemoryDatabase(), nil))
	for j, rc := range rcs {
		enc, err := rc.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("receipt %d: %w", j, err)
		}
		if err := tr.Update(receiptKey(uint(j)), enc); err != nil { //nolint:gosec // j is an index
			return nil, fmt.Errorf("receipts trie: %w", err)
		}
	}
	if tr.Hash() != hdr.ReceiptHash {
		return nil, fmt.Errorf("the endpoint's receipts of block %s do not make its receipts root", hdr.Hash())
	}
	return tr, nil
}

func receiptKey(i uint) []byte { return evmproof.ReceiptKey(i) }

// VerifyInclusion checks that in proves operation tx of network, anchored
// on the contract at addr (deployed at EVM block genesisBlock), in the
// EVM block whose hash is block (evmproof.Verify).
func VerifyInclusion(in *Inclusion, block common.Hash, addr common.Address, genesisBlock uint64, network string, tx []byte) error {
	return evmproof.Verify(in, block, addr, genesisBlock, network, tx)
}

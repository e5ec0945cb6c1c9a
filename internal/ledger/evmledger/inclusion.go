package evmledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/trie/trienode"
	"github.com/ethereum/go-ethereum/triedb"

	"github.com/bias-iot/bias/internal/ledger"
)

// ErrInclusion is the error of every inclusion proof that does not verify.
var ErrInclusion = errors.New("evmledger: inclusion proof does not verify")

// Inclusion proves that an operation is in a final EVM block: the block's
// header, and the receipt of the anchor transaction with a Merkle-Patricia
// proof against the header's receipts root. A client that holds the
// block's hash from a source it trusts (its own EVM node, a beacon light
// client) checks it with VerifyInclusion, trusting no bias node. It proves
// that the operation was ordered at that height, not the state after it:
// the state root is the nodes' computation (compare several nodes' roots
// at one height for that).
type Inclusion struct {
	Height  int64    // the bias height
	Header  []byte   // the EVM block header (RLP)
	TxIndex uint     // the anchor transaction's index in the block
	Proof   [][]byte // receipts-trie nodes, from the root to the receipt
	Log     int      // the Anchored event's index among the receipt's logs
	Op      int      // the operation's index in the batch
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

func receiptKey(i uint) []byte {
	k, _ := rlp.EncodeToBytes(i) // a uint always encodes
	return k
}

// VerifyInclusion checks that in proves operation tx of network, anchored
// on the contract at addr (deployed at EVM block genesisBlock), in the
// EVM block whose hash is block.
func VerifyInclusion(in *Inclusion, block common.Hash, addr common.Address, genesisBlock uint64, network string, tx []byte) error {
	var hdr types.Header
	if err := rlp.DecodeBytes(in.Header, &hdr); err != nil {
		return fmt.Errorf("%w: header: %w", ErrInclusion, err)
	}
	if hdr.Hash() != block {
		return fmt.Errorf("%w: the header is not block %s", ErrInclusion, block)
	}
	n := hdr.Number.Uint64()
	if n < genesisBlock || int64(n-genesisBlock)+1 != in.Height { //nolint:gosec // n is at least genesisBlock
		return fmt.Errorf("%w: EVM block %d is not bias height %d", ErrInclusion, n, in.Height)
	}
	set := trienode.ProofList(nil)
	for _, p := range in.Proof {
		set = append(set, p)
	}
	enc, err := trie.VerifyProof(hdr.ReceiptHash, receiptKey(in.TxIndex), set.Set())
	if err != nil || enc == nil {
		return fmt.Errorf("%w: receipt %d against the receipts root: %v", ErrInclusion, in.TxIndex, err)
	}
	var rc types.Receipt
	if err := rc.UnmarshalBinary(enc); err != nil {
		return fmt.Errorf("%w: receipt: %w", ErrInclusion, err)
	}
	if rc.Status != types.ReceiptStatusSuccessful || in.Log < 0 || in.Log >= len(rc.Logs) {
		return fmt.Errorf("%w: no log %d in a successful receipt", ErrInclusion, in.Log)
	}
	lg := rc.Logs[in.Log]
	if lg.Address != addr || len(lg.Topics) != 2 || lg.Topics[0] != anchoredTopic {
		return fmt.Errorf("%w: log %d is not an Anchored event of %s", ErrInclusion, in.Log, addr)
	}
	ev := new(AnchorAnchored)
	a, err := AnchorMetaData.GetAbi()
	if err != nil {
		return fmt.Errorf("evmledger: abi: %w", err)
	}
	if err := a.UnpackIntoInterface(ev, "Anchored", lg.Data); err != nil {
		return fmt.Errorf("%w: event data: %w", ErrInclusion, err)
	}
	b, err := DecodeBatch(ev.Batch)
	if err != nil || b.Network != network {
		return fmt.Errorf("%w: not a batch of %s: %v", ErrInclusion, network, err)
	}
	if in.Op < 0 || in.Op >= len(b.Ops) || !bytes.Equal(b.Ops[in.Op], tx) {
		return fmt.Errorf("%w: operation %d of the batch is not the one given", ErrInclusion, in.Op)
	}
	return nil
}

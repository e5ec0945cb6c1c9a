// Package evmproof checks, without trusting any bias node, that an
// operation is in a final block of the EVM chain that a bias network on
// the EVM engine follows (docs/evm.md): the EVM block's header, the anchor
// transaction's receipt with its Merkle-Patricia proof against the
// header's receipts root, the anchor contract's Anchored event in it, and
// the operation in the event's batch.
//
// A node serves an Inclusion (GET /v1/operations/{hash}/inclusion,
// evmsdk.Inclusion); the client checks it with Verify against what it
// confirmed itself: the EVM block's hash (from its own EVM node or a
// beacon light client), the anchor contract's address and deployment
// block, and the network id. It proves that the operation was ordered at
// that height, not the state after it: on the EVM engine a root is each
// node's computation (sdk.AgreeOnRoot compares several nodes' roots).
//
//	in, _ := evmsdk.Inclusion(ctx, client, hash)
//	// confirm in.EVMBlock.Hash at in.EVMBlock.Number with your own EVM node
//	err := evmproof.Verify(&in.Proof, trusted, contract, genesisBlock, network, opBytes)
//
// The package is pure: no I/O, no clock.
package evmproof

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/trie/trienode"
)

// ErrInclusion is the error of every inclusion proof that does not verify.
var ErrInclusion = errors.New("evmproof: inclusion proof does not verify")

// AnchoredTopic is the first topic of the anchor contract's event
// Anchored(uint64 indexed seq, bytes batch).
var AnchoredTopic = crypto.Keccak256Hash([]byte("Anchored(uint64,bytes)"))

// Bounds of what a proof may carry: a receipts trie is a few levels deep
// (a key is the RLP of an index below 2^16 in any block a gas limit
// allows), and a node is at most 17 references or one receipt.
const (
	MaxProofNodes  = 16
	MaxHeaderBytes = 4 << 10
	MaxNodeBytes   = 512 << 10
)

// Inclusion proves that an operation is in a final EVM block: the block's
// header, and the receipt of the anchor transaction with a Merkle-Patricia
// proof against the header's receipts root. In JSON the byte strings are
// base64 (RFC 4648 section 4, padded).
type Inclusion struct {
	Height  int64    `json:"height"`  // the bias height
	Header  []byte   `json:"header"`  // the EVM block header (RLP)
	TxIndex uint     `json:"txIndex"` // the anchor transaction's index in the block
	Proof   [][]byte `json:"proof"`   // receipts-trie nodes, from the root to the receipt
	Log     int      `json:"log"`     // the Anchored event's index among the receipt's logs
	Op      int      `json:"op"`      // the operation's index in the batch
}

// ReceiptKey is the key of the index-th receipt in a block's receipts
// trie (the RLP of the index).
func ReceiptKey(i uint) []byte {
	k, _ := rlp.EncodeToBytes(i) // a uint always encodes
	return k
}

// Verify checks that in proves operation tx of network, anchored on the
// contract at address contract (deployed at EVM block genesisBlock), in
// the EVM block whose hash is block. Every failure wraps ErrInclusion.
func Verify(in *Inclusion, block common.Hash, contract common.Address, genesisBlock uint64, network string, tx []byte) error {
	if in == nil {
		return fmt.Errorf("%w: no proof", ErrInclusion)
	}
	hdr, err := header(in, block)
	if err != nil {
		return err
	}
	n := hdr.Number.Uint64()
	if n < genesisBlock || n-genesisBlock >= 1<<62 || int64(n-genesisBlock)+1 != in.Height { //nolint:gosec // bounded above
		return fmt.Errorf("%w: EVM block %d is not bias height %d", ErrInclusion, n, in.Height)
	}
	rc, err := receipt(in, hdr.ReceiptHash)
	if err != nil {
		return err
	}
	if rc.Status != types.ReceiptStatusSuccessful || in.Log < 0 || in.Log >= len(rc.Logs) {
		return fmt.Errorf("%w: no log %d in a successful receipt", ErrInclusion, in.Log)
	}
	lg := rc.Logs[in.Log]
	if lg.Address != contract || len(lg.Topics) != 2 || lg.Topics[0] != AnchoredTopic {
		return fmt.Errorf("%w: log %d is not an Anchored event of %s", ErrInclusion, in.Log, contract)
	}
	data, err := EventBatch(lg.Data)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInclusion, err)
	}
	b, err := DecodeBatch(data)
	if err != nil || b.Network != network {
		return fmt.Errorf("%w: not a batch of %s: %v", ErrInclusion, network, err)
	}
	if in.Op < 0 || in.Op >= len(b.Ops) || !bytes.Equal(b.Ops[in.Op], tx) {
		return fmt.Errorf("%w: operation %d of the batch is not the one given", ErrInclusion, in.Op)
	}
	return nil
}

// header decodes in's header and checks that it is block.
func header(in *Inclusion, block common.Hash) (*types.Header, error) {
	if len(in.Header) > MaxHeaderBytes {
		return nil, fmt.Errorf("%w: a header of %d bytes, limit %d", ErrInclusion, len(in.Header), MaxHeaderBytes)
	}
	var hdr types.Header
	if err := rlp.DecodeBytes(in.Header, &hdr); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrInclusion, err)
	}
	if hdr.Hash() != block || hdr.Number == nil || !hdr.Number.IsUint64() {
		return nil, fmt.Errorf("%w: the header is not block %s", ErrInclusion, block)
	}
	return &hdr, nil
}

// receipt checks in's proof against root and decodes the receipt.
func receipt(in *Inclusion, root common.Hash) (*types.Receipt, error) {
	if len(in.Proof) == 0 || len(in.Proof) > MaxProofNodes {
		return nil, fmt.Errorf("%w: %d proof nodes, want 1 to %d", ErrInclusion, len(in.Proof), MaxProofNodes)
	}
	set := make(trienode.ProofList, 0, len(in.Proof))
	for _, p := range in.Proof {
		if len(p) > MaxNodeBytes {
			return nil, fmt.Errorf("%w: a proof node of %d bytes, limit %d", ErrInclusion, len(p), MaxNodeBytes)
		}
		set = append(set, p)
	}
	enc, err := trie.VerifyProof(root, ReceiptKey(in.TxIndex), set.Set())
	if err != nil || enc == nil {
		return nil, fmt.Errorf("%w: receipt %d against the receipts root: %v", ErrInclusion, in.TxIndex, err)
	}
	var rc types.Receipt
	if err := rc.UnmarshalBinary(enc); err != nil {
		return nil, fmt.Errorf("%w: receipt: %w", ErrInclusion, err)
	}
	return &rc, nil
}

// Anchor is what a client confirms itself, beside the EVM block's hash,
// before it believes a proof: the anchor contract's address, the EVM
// block that deployed it (bias height 1 is that block), and the bias
// network id that the contract anchors. A node reports them; Verify
// takes them from the client.
type Anchor struct {
	Contract     common.Address `json:"contract"`
	GenesisBlock uint64         `json:"genesisBlock"`
	Network      string         `json:"network"`
}

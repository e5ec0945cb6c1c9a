// Package evmsdk is the client's side of the EVM engine's proofs: it
// fetches a node's proof that an operation is in a final EVM block, for
// evmproof.Verify. It is apart from sdk so that a device that never
// checks an EVM proof does not link go-ethereum.
//
//	in, err := evmsdk.Inclusion(ctx, client, hash)
//	// confirm in.EVMBlock (hash at number) and in.Anchor yourself, then
//	err = evmproof.Verify(&in.Proof, blockHash, contract, genesisBlock, network, tx)
package evmsdk

import (
	"context"
	"net/url"
	"strconv"

	"github.com/ethereum/go-ethereum/common"

	"github.com/bias-iot/bias/evmproof"
	"github.com/bias-iot/bias/sdk"
)

// InclusionView is a node's proof that an operation is in a final EVM
// block (GET /v1/operations/{hash}/inclusion; nodes on the EVM engine
// only). EVMBlock and Anchor are the node's word: confirm the block's hash
// at its number with an EVM node or light client you trust, and the anchor
// with the network's genesis, then check Proof with evmproof.Verify.
type InclusionView struct {
	Hash     string             `json:"hash"`   // the operation's hash (hex SHA-256 of its bytes)
	Height   int64              `json:"height"` // the bias block that holds it
	Index    int                `json:"index"`  // its position in that block
	EVMBlock EVMBlockView       `json:"evmBlock"`
	Anchor   evmproof.Anchor    `json:"anchor"`
	Proof    evmproof.Inclusion `json:"proof"`
}

// EVMBlockView names an EVM block.
type EVMBlockView struct {
	Hash   common.Hash `json:"hash"`
	Number uint64      `json:"number"`
}

// Inclusion fetches the proof that the operation whose hash is hash (hex
// SHA-256 of its bytes) is in its final EVM block: it looks the operation
// up (sdk.Client.Operation, in the node's last 1000 blocks) for its height, then
// asks for the proof at that height (an operation the block refused is
// Operation's error, and is not proven here). A node on CometBFT answers 501
// not-implemented: there, records are proven against signed headers
// (sdk.ProvenView).
func Inclusion(ctx context.Context, c *sdk.Client, hash string) (*InclusionView, error) {
	res, err := c.Operation(ctx, hash, 0)
	if err != nil {
		return nil, err
	}
	var out InclusionView
	p := "/v1/operations/" + url.PathEscape(hash) + "/inclusion?height=" + strconv.FormatInt(res.Height, 10)
	return &out, c.Get(ctx, p, &out)
}

package sdk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/ethereum/go-ethereum/common"

	"github.com/bias-iot/bias/evmproof"
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
// up (Operation, in the node's last 1000 blocks) for its height, then
// asks for the proof at that height (an operation the block refused is
// Operation's error, and is not proven here). A node on CometBFT answers 501
// not-implemented: there, records are proven against signed headers
// (ProvenView).
func (c *Client) Inclusion(ctx context.Context, hash string) (*InclusionView, error) {
	res, err := c.Operation(ctx, hash, 0)
	if err != nil {
		return nil, err
	}
	var out InclusionView
	p := "/v1/operations/" + url.PathEscape(hash) + "/inclusion?height=" + strconv.FormatInt(res.Height, 10)
	return &out, c.do(ctx, http.MethodGet, p, "", nil, &out)
}

// ErrDisagree is the error of nodes whose headers at one height differ.
var ErrDisagree = errors.New("sdk: nodes disagree")

// AgreeOnRoot is the witness check over HTTP: it reads each client's
// header at height and returns the app hash (hex) if all carry the same
// network and app hash. On the EVM engine a root is each node's own
// computation from the chain, not signed: a client believes one that
// nodes of independent operators agree on. A node that fails is an error
// naming it; one that differs, ErrDisagree naming it (its URL).
func AgreeOnRoot(ctx context.Context, height int64, clients ...*Client) (string, error) {
	if len(clients) == 0 {
		return "", errors.New("sdk: no nodes to compare")
	}
	var first *HeaderView
	for i, c := range clients {
		h, err := c.Header(ctx, height)
		if err != nil {
			return "", fmt.Errorf("sdk: node %d (%s): header %d: %w", i, c.URL, height, err)
		}
		if i == 0 {
			first = h
			continue
		}
		if h.Network != first.Network || h.AppHash != first.AppHash || h.Height != first.Height {
			return "", fmt.Errorf("%w: at height %d, node %d (%s) reports network %q root %s, node 0 (%s) network %q root %s",
				ErrDisagree, height, i, c.URL, h.Network, h.AppHash, clients[0].URL, first.Network, first.AppHash)
		}
	}
	return first.AppHash, nil
}

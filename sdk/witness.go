package sdk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

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

// Get is a GET of the node's API at path (with its query), its JSON
// answer decoded into out, a refusal an *APIError: for the API's parts
// that other packages wrap (sdk/evmsdk).
func (c *Client) Get(ctx context.Context, path string, out any) error {
	return c.do(ctx, http.MethodGet, path, "", nil, out)
}

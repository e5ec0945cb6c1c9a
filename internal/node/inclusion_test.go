package node_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/evmproof"
	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
	"github.com/bias-iot/bias/sdk/evmsdk"
)

// TestEVMClientChecks: what a client outside the module checks on the
// EVM engine, over HTTP. A device registered on a node that follows a
// chain over JSON-RPC has an inclusion proof (GET
// /v1/operations/{hash}/inclusion) that evmproof.Verify accepts against
// the block hash that the chain itself reports, and refuses for a
// tampered operation, another network, another contract or another
// block. Two nodes of one network agree on the root (sdk.AgreeOnRoot); a
// node of another network on the same chain is named as differing.
func TestEVMClientChecks(t *testing.T) {
	t.Parallel()
	homeA, homeB, homeC := t.TempDir(), t.TempDir(), t.TempDir()
	chain := startTestChain(t, evmKey(t, homeA), evmKey(t, homeB), evmKey(t, homeC))
	a := nodetest.StartConfig(t, rpcConfig(homeA, chain.URL, ""))
	b := startFollower(t, homeB, rpcConfig(homeB, chain.URL, a.Node.EVMContract()), homeA)
	otherCfg := rpcConfig(homeC, chain.URL, "")
	otherCfg.Network = "othernet"
	c := nodetest.StartConfig(t, otherCfg)

	s := nodetest.NewKey(t, cose.AlgEdDSA)
	tx, _ := a.SignRegister(s, a.RegisterPayload(op.KindDevice, a.Provider.DID, s))
	res := a.MustSubmit(tx)
	sum := sha256.Sum256(tx)
	hash := hex.EncodeToString(sum[:])
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	in, err := evmsdk.Inclusion(ctx, a.Client, hash)
	if err != nil {
		t.Fatalf("inclusion: %v", err)
	}
	if in.Hash != hash || in.Height != res.Height || in.Anchor.Network != a.Network ||
		in.Anchor.Contract != common.HexToAddress(a.Node.EVMContract()) {
		t.Fatalf("inclusion view: %+v, want operation %s at height %d of %s on %s", in, hash, res.Height, a.Network, a.Node.EVMContract())
	}
	// The client's own source of EVM block hashes: the chain, not the node.
	ec, err := ethclient.DialContext(ctx, chain.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	hdr, err := ec.HeaderByNumber(ctx, new(big.Int).SetUint64(in.EVMBlock.Number))
	if err != nil {
		t.Fatal(err)
	}
	block, contract, gb := hdr.Hash(), common.HexToAddress(a.Node.EVMContract()), in.Anchor.GenesisBlock
	if block != in.EVMBlock.Hash {
		t.Fatalf("the node names block %s at %d, the chain %s", in.EVMBlock.Hash, in.EVMBlock.Number, block)
	}
	if err := evmproof.Verify(&in.Proof, block, contract, gb, a.Network, tx); err != nil {
		t.Fatalf("verify: %v", err)
	}
	tampered := append([]byte(nil), tx...)
	tampered[len(tampered)-1] ^= 1
	for name, err := range map[string]error{
		"fail/tampered-tx":    evmproof.Verify(&in.Proof, block, contract, gb, a.Network, tampered),
		"fail/other-network":  evmproof.Verify(&in.Proof, block, contract, gb, "othernet", tx),
		"fail/other-contract": evmproof.Verify(&in.Proof, block, common.HexToAddress(c.Node.EVMContract()), gb, a.Network, tx),
		"fail/wrong-block":    evmproof.Verify(&in.Proof, hdr.ParentHash, contract, gb, a.Network, tx),
		"fail/other-genesis":  evmproof.Verify(&in.Proof, block, contract, gb+1, a.Network, tx),
		"fail/no-proof-nodes": evmproof.Verify(&evmproof.Inclusion{Height: in.Proof.Height, Header: in.Proof.Header}, block, contract, gb, a.Network, tx),
	} {
		if !errors.Is(err, evmproof.ErrInclusion) {
			t.Errorf("%s: %v, want evmproof.ErrInclusion", name, err)
		}
	}
	// The proof asked at another height, or for an unknown operation.
	var ae *sdk.APIError
	if _, err := evmsdk.Inclusion(ctx, c.Client, hash); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Errorf("fail/other-network-node: %v, want 404", err)
	}

	// The witness check over HTTP.
	top := a.Node.Height()
	if err := b.WaitHeight(ctx, top); err != nil {
		t.Fatal(err)
	}
	if err := c.Node.WaitHeight(ctx, top); err != nil {
		t.Fatal(err)
	}
	bc := sdk.NewClient(b.URL())
	root, err := sdk.AgreeOnRoot(ctx, top, a.Client, bc)
	if err != nil {
		t.Fatalf("agree: %v", err)
	}
	if hb, err := bc.Header(ctx, top); err != nil || root != hb.AppHash || len(root) != 64 {
		t.Fatalf("agreed root %q, node B's header %+v, %v", root, hb, err)
	}
	_, err = sdk.AgreeOnRoot(ctx, top, a.Client, bc, c.Client)
	if !errors.Is(err, sdk.ErrDisagree) || !strings.Contains(err.Error(), "node 2 ("+c.Client.URL+")") {
		t.Fatalf("fail/other-network: %v, want ErrDisagree naming node 2 (%s)", err, c.Client.URL)
	}
	if _, err := sdk.AgreeOnRoot(ctx, top); err == nil {
		t.Error("fail/no-nodes: agreed")
	}
}

// TestInclusionOnCometBFT: a CometBFT node proves with signed headers and
// says so: 501 not-implemented for an inclusion proof.
func TestInclusionOnCometBFT(t *testing.T) {
	t.Parallel()
	h := nodetest.StartEngine(t, node.LedgerCometBFT)
	s := nodetest.NewKey(t, cose.AlgEdDSA)
	tx, _ := h.SignRegister(s, h.RegisterPayload(op.KindDevice, h.Provider.DID, s))
	h.MustSubmit(tx)
	sum := sha256.Sum256(tx)
	_, err := evmsdk.Inclusion(t.Context(), h.Client, hex.EncodeToString(sum[:]))
	var ae *sdk.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotImplemented || ae.Reason != "not-implemented" || !strings.Contains(ae.Message, "signed headers") {
		t.Fatalf("inclusion on CometBFT: %v, want 501 not-implemented naming signed headers", err)
	}
}

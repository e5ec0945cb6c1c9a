package evmledger

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// Deploy deploys the anchor contract of network from key's account and
// waits until the deployment is in a block (polling every poll). The
// contract's block is bias height 1 of every node that follows it.
func Deploy(ctx context.Context, chain Chain, key *ecdsa.PrivateKey, network string, poll time.Duration) (common.Address, error) {
	if err := checkNetwork(network); err != nil {
		return common.Address{}, err
	}
	id, err := chain.ChainID(ctx)
	if err != nil {
		return common.Address{}, fmt.Errorf("evmledger: chain id: %w", err)
	}
	auth, err := bind.NewKeyedTransactorWithChainID(key, id)
	if err != nil {
		return common.Address{}, fmt.Errorf("evmledger: %w", err)
	}
	auth.Context = ctx
	addr, tx, _, err := DeployAnchor(auth, chain, NetworkHash(network))
	if err != nil {
		return common.Address{}, fmt.Errorf("evmledger: deploy: %w", err)
	}
	rc, err := waitReceipt(ctx, chain, tx.Hash(), poll)
	if err != nil {
		return common.Address{}, fmt.Errorf("evmledger: deploy: %w", err)
	}
	if rc.Status != types.ReceiptStatusSuccessful {
		return common.Address{}, errors.New("evmledger: deploy: the deployment transaction failed")
	}
	return addr, nil
}

// waitReceipt polls for the receipt of tx.
func waitReceipt(ctx context.Context, chain Chain, tx common.Hash, poll time.Duration) (*types.Receipt, error) {
	for {
		rc, err := chain.TransactionReceipt(ctx, tx)
		if err == nil {
			return rc, nil
		}
		// NotFound until the block; "transaction indexing is in
		// progress" while the node indexes: both pass.
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("receipt of %s: %w (last: %w)", tx, ctx.Err(), err)
		case <-time.After(poll):
		}
	}
}

// GenesisBlock is the EVM block that deployed the anchor contract at
// addr: bias height 1.
func GenesisBlock(ctx context.Context, chain Chain, addr common.Address) (uint64, error) {
	a, err := NewAnchorCaller(addr, chain)
	if err != nil {
		return 0, fmt.Errorf("evmledger: %w", err)
	}
	gb, err := a.GenesisBlock(&bind.CallOpts{Context: ctx})
	if err != nil || !gb.IsUint64() {
		return 0, fmt.Errorf("%w: %s: genesis block: %v", ErrWrongContract, addr, err)
	}
	return gb.Uint64(), nil
}

package cometledger

import (
	"context"
	"fmt"

	"github.com/cometbft/cometbft/types"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/lightclient"
)

// SignedHeader returns the header of block height with the commit that
// decided it and the validator set of its height, for a light client
// that trusts the validator set and not this node. The commit of the
// newest block is the one this node saw; an older block's is the one the
// next block carries.
func (l *Ledger) SignedHeader(ctx context.Context, height int64) (*lightclient.SignedHeader, error) {
	if !l.enter() {
		return nil, ledger.ErrClosed
	}
	defer l.exit()
	bs := l.node.BlockStore()
	meta := bs.LoadBlockMeta(height)
	if meta == nil {
		return nil, fmt.Errorf("%w: block %d", ledger.ErrNotFound, height)
	}
	var c *types.Commit
	if height < bs.Height() {
		c = bs.LoadBlockCommit(height)
	} else {
		c = bs.LoadSeenCommit(height)
	}
	if c == nil {
		return nil, fmt.Errorf("%w: commit of block %d", ledger.ErrNotFound, height)
	}
	h := meta.Header
	out := &lightclient.SignedHeader{
		Header: lightclient.Header{
			VersionBlock: h.Version.Block, VersionApp: h.Version.App, ChainID: h.ChainID, Height: h.Height, Time: h.Time,
			LastBlockID:    blockID(h.LastBlockID),
			LastCommitHash: h.LastCommitHash, DataHash: h.DataHash, ValidatorsHash: h.ValidatorsHash,
			NextValidatorsHash: h.NextValidatorsHash, ConsensusHash: h.ConsensusHash, AppHash: h.AppHash,
			LastResultsHash: h.LastResultsHash, EvidenceHash: h.EvidenceHash, ProposerAddress: h.ProposerAddress,
		},
		Commit: lightclient.Commit{Height: c.Height, Round: c.Round, BlockID: blockID(c.BlockID)},
	}
	for _, s := range c.Signatures {
		out.Commit.Signatures = append(out.Commit.Signatures, lightclient.CommitSig{
			Flag: uint8(s.BlockIDFlag), ValidatorAddress: s.ValidatorAddress, Timestamp: s.Timestamp, Signature: s.Signature,
		})
	}
	vals, err := l.validators(ctx, &height)
	if err != nil {
		return nil, fmt.Errorf("validators of block %d: %w", height, err)
	}
	for _, v := range vals {
		out.Validators = append(out.Validators, lightclient.Validator{PubKey: v.PubKey, Power: v.Power})
	}
	return out, nil
}

func blockID(id types.BlockID) lightclient.BlockID {
	return lightclient.BlockID{Hash: id.Hash, PartsTotal: id.PartSetHeader.Total, PartsHash: id.PartSetHeader.Hash}
}

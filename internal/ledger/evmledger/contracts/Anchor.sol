// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.37;

/// @title The anchor of a bias network on an EVM chain.
/// @notice Orders batches of bias operations and nothing more: each call
/// emits the batch in an event, numbered by a counter, which is the only
/// state the contract writes. The bias nodes that follow the chain read the
/// events of each final block, in log order, and apply the operations
/// themselves; the contract validates no operation.
contract Anchor {
    /// @notice The largest batch, in bytes, that anchor takes (below the
    /// 128 KiB that geth's transaction pool admits for a whole transaction).
    uint256 public constant MAX_BATCH_BYTES = 120 * 1024;

    /// @notice keccak256 of the bias network id this contract orders.
    bytes32 public immutable network;

    /// @notice The block that deployed the contract: bias height 1.
    uint256 public immutable genesisBlock;

    /// @notice The number of batches anchored so far (the sequence number
    /// of the next one).
    uint64 public count;

    /// @notice A batch of operations was anchored, as the seq-th batch.
    event Anchored(uint64 indexed seq, bytes batch);

    /// @notice The batch is empty or longer than MAX_BATCH_BYTES.
    error BadBatchSize(uint256 size);

    constructor(bytes32 network_) {
        network = network_;
        genesisBlock = block.number;
    }

    /// @notice Anchors a batch of operations (the bias batch encoding;
    /// the nodes decode it, the contract does not).
    function anchor(bytes calldata batch) external {
        if (batch.length == 0 || batch.length > MAX_BATCH_BYTES) {
            revert BadBatchSize(batch.length);
        }
        uint64 seq = count;
        count = seq + 1;
        emit Anchored(seq, batch);
    }
}

package evmledger

import (
	"encoding/binary"
	"fmt"

	"github.com/bias-iot/bias/evmproof"
)

// The batch encoding, version 1, and its one decoder, are evmproof's
// (a client checks an inclusion proof with the same rules as every
// follower); the engine encodes with them.
const (
	BatchVersion  = evmproof.BatchVersion
	MaxBatchOps   = evmproof.MaxBatchOps
	MinOpBytes    = evmproof.MinOpBytes
	MaxBatchBytes = evmproof.MaxBatchBytes
	MaxOpBytes    = evmproof.MaxOpBytes
)

// ErrBatch is the error of every batch the decoder refuses.
var ErrBatch = evmproof.ErrBatch

// Batch is a decoded batch.
type Batch = evmproof.Batch

// EncodedSize is the size of the encoding of a batch of network that
// holds ops of the given total size and count.
func EncodedSize(network string, count, opBytes int) int {
	return 2 + len(network) + 2 + 4*count + opBytes
}

// EncodeBatch encodes b; it refuses what DecodeBatch would refuse.
func EncodeBatch(b Batch) ([]byte, error) {
	if err := checkNetwork(b.Network); err != nil {
		return nil, err
	}
	if len(b.Ops) == 0 || len(b.Ops) > MaxBatchOps {
		return nil, fmt.Errorf("%w: %d operations, want 1 to %d", ErrBatch, len(b.Ops), MaxBatchOps)
	}
	size := 0
	for _, op := range b.Ops {
		if len(op) < MinOpBytes || len(op) > MaxOpBytes {
			return nil, fmt.Errorf("%w: an operation of %d bytes, want %d to %d", ErrBatch, len(op), MinOpBytes, MaxOpBytes)
		}
		size += len(op)
	}
	n := EncodedSize(b.Network, len(b.Ops), size)
	if n > MaxBatchBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrBatch, n, MaxBatchBytes)
	}
	out := make([]byte, 0, n)
	out = append(out, BatchVersion, byte(len(b.Network)))
	out = append(out, b.Network...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(b.Ops))) //nolint:gosec // bounded by MaxBatchOps
	for _, op := range b.Ops {
		out = binary.BigEndian.AppendUint32(out, uint32(len(op))) //nolint:gosec // bounded by MaxOpBytes
		out = append(out, op...)
	}
	return out, nil
}

// DecodeBatch decodes a batch strictly (evmproof.DecodeBatch): the
// version, the bounds, no trailing bytes. The operations alias data.
func DecodeBatch(data []byte) (Batch, error) { return evmproof.DecodeBatch(data) }

// checkNetwork bounds a network id (did.ValidateNetwork checks its
// syntax; a batch only carries it, to keep networks apart).
func checkNetwork(network string) error {
	if network == "" || len(network) > evmproof.MaxNetworkBytes {
		return fmt.Errorf("%w: a network id of %d bytes, want 1 to %d", ErrBatch, len(network), evmproof.MaxNetworkBytes)
	}
	return nil
}

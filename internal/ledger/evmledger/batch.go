package evmledger

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The batch encoding, version 1: what an anchor transaction carries, and
// what every follower decodes from the chain. It is length-prefixed, so
// that an encoding is unique (a decoder that accepts it re-encodes to the
// same bytes):
//
//	version   1 byte   = 1
//	network   1 byte n, then n bytes (the bias network id, 1 to 32 bytes)
//	count     2 bytes  big-endian, 1 to MaxBatchOps
//	count times:
//	  length  4 bytes  big-endian, MinOpBytes to MaxOpBytes
//	  op      length bytes (an operation, as Submit took it)
//
// and nothing after the last operation. The whole batch is at most
// MaxBatchBytes (the anchor contract refuses larger ones too). These
// rules are version 1's: a batch that breaks any of them is skipped
// whole by every follower alike, and a change to them is a new version.
//
// MinOpBytes is below the least a valid operation can be: every
// operation is a COSE_Sign1 (or COSE_Sign) whose signature alone, Ed25519
// or ES256 (r‖s), is 64 bytes, beside its protected header (alg and a kid
// that is a DID URL) and its payload. The floor makes an anonymous
// poster pay the calldata of 64 bytes for each operation every follower
// applies and records.
const (
	BatchVersion    = 1
	MaxBatchOps     = 1000
	MinOpBytes      = 64
	MaxBatchBytes   = 120 << 10 // Anchor.MAX_BATCH_BYTES
	MaxOpBytes      = MaxBatchBytes - batchOverhead - 4
	maxNetworkBytes = 32
	batchOverhead   = 1 + 1 + maxNetworkBytes + 2 // version, network, count (at most)
)

// ErrBatch is the error of every batch the decoder refuses.
var ErrBatch = errors.New("evmledger: bad batch")

// Batch is a decoded batch.
type Batch struct {
	Network string
	Ops     [][]byte
}

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

// DecodeBatch decodes a batch strictly: the version, the bounds, no
// trailing bytes. The operations alias data.
func DecodeBatch(data []byte) (Batch, error) {
	if len(data) > MaxBatchBytes {
		return Batch{}, fmt.Errorf("%w: %d bytes, limit %d", ErrBatch, len(data), MaxBatchBytes)
	}
	if len(data) < 2 {
		return Batch{}, fmt.Errorf("%w: truncated header", ErrBatch)
	}
	if data[0] != BatchVersion {
		return Batch{}, fmt.Errorf("%w: version %d, want %d", ErrBatch, data[0], BatchVersion)
	}
	n := int(data[1])
	rest := data[2:]
	if len(rest) < n+2 {
		return Batch{}, fmt.Errorf("%w: truncated header", ErrBatch)
	}
	b := Batch{Network: string(rest[:n])}
	if err := checkNetwork(b.Network); err != nil {
		return Batch{}, err
	}
	count := int(binary.BigEndian.Uint16(rest[n:]))
	rest = rest[n+2:]
	if count == 0 || count > MaxBatchOps {
		return Batch{}, fmt.Errorf("%w: %d operations, want 1 to %d", ErrBatch, count, MaxBatchOps)
	}
	b.Ops = make([][]byte, 0, count)
	for i := range count {
		if len(rest) < 4 {
			return Batch{}, fmt.Errorf("%w: operation %d truncated", ErrBatch, i)
		}
		l := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if l < MinOpBytes || l > MaxOpBytes || uint64(l) > uint64(len(rest)) {
			return Batch{}, fmt.Errorf("%w: operation %d of %d bytes", ErrBatch, i, l)
		}
		b.Ops = append(b.Ops, rest[:l:l])
		rest = rest[l:]
	}
	if len(rest) != 0 {
		return Batch{}, fmt.Errorf("%w: %d bytes after the last operation", ErrBatch, len(rest))
	}
	return b, nil
}

// checkNetwork bounds a network id (did.ValidateNetwork checks its
// syntax; a batch only carries it, to keep networks apart).
func checkNetwork(network string) error {
	if network == "" || len(network) > maxNetworkBytes {
		return fmt.Errorf("%w: a network id of %d bytes, want 1 to %d", ErrBatch, len(network), maxNetworkBytes)
	}
	return nil
}

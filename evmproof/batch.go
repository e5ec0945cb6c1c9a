package evmproof

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The batch encoding, version 1: what an anchor transaction carries, and
// what every follower decodes from the chain (docs/evm.md, Batch). It is
// length-prefixed, so that an encoding is unique (a decoder that accepts
// it re-encodes to the same bytes):
//
//	version   1 byte   = 1
//	network   1 byte n, then n bytes (the bias network id, 1 to 32 bytes)
//	count     2 bytes  big-endian, 1 to MaxBatchOps
//	count times:
//	  length  4 bytes  big-endian, MinOpBytes to MaxOpBytes
//	  op      length bytes (an operation)
//
// and nothing after the last operation; at most MaxBatchBytes in all (the
// anchor contract refuses larger ones too). These rules are version 1's:
// a batch that breaks any of them is skipped whole by every follower
// alike, and a change to them is a new version.
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
	MaxNetworkBytes = 32
	batchOverhead   = 1 + 1 + MaxNetworkBytes + 2 // version, network, count (at most)
)

// ErrBatch is the error of every batch or event that the decoders refuse.
var ErrBatch = errors.New("evmproof: bad batch")

// Batch is a decoded batch.
type Batch struct {
	Network string
	Ops     [][]byte
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
	if n == 0 || n > MaxNetworkBytes {
		return Batch{}, fmt.Errorf("%w: a network id of %d bytes, want 1 to %d", ErrBatch, n, MaxNetworkBytes)
	}
	if len(rest) < n+2 {
		return Batch{}, fmt.Errorf("%w: truncated header", ErrBatch)
	}
	b := Batch{Network: string(rest[:n])}
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

// EventBatch decodes the data of an Anchored event, the Solidity ABI
// encoding of one dynamic bytes value: the offset (32), the length, and
// the bytes padded with zeros to a multiple of 32; strictly (no other
// offset, no trailing bytes, zero padding), at most MaxBatchBytes. The
// result aliases data.
func EventBatch(data []byte) ([]byte, error) {
	const word = 32
	if len(data) < 2*word || len(data) > 2*word+MaxBatchBytes+word {
		return nil, fmt.Errorf("%w: event data of %d bytes", ErrBatch, len(data))
	}
	offset, ok := smallWord(data[:word])
	if !ok || offset != word {
		return nil, fmt.Errorf("%w: event data offset", ErrBatch)
	}
	n, ok := smallWord(data[word : 2*word])
	if !ok || n > MaxBatchBytes {
		return nil, fmt.Errorf("%w: event data length", ErrBatch)
	}
	body := data[2*word:]
	if len(body) != (n+word-1)/word*word {
		return nil, fmt.Errorf("%w: event data of %d bytes for a batch of %d", ErrBatch, len(data), n)
	}
	for _, c := range body[n:] {
		if c != 0 {
			return nil, fmt.Errorf("%w: event data padding", ErrBatch)
		}
	}
	return body[:n:n], nil
}

// smallWord reads a 32-byte big-endian word that fits in 32 bits.
func smallWord(w []byte) (int, bool) {
	for _, c := range w[:28] {
		if c != 0 {
			return 0, false
		}
	}
	return int(binary.BigEndian.Uint32(w[28:])), true
}

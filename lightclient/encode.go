package lightclient

import (
	"crypto/sha256"
	"encoding/binary"
	"math/bits"
	"time"
)

// CometBFT hashes and signs protobuf encodings. The few messages needed
// are written here by hand, field by field, as the generated code lays
// them out (fields in order, proto3 zero values omitted, non-nullable
// embedded messages always present).

type pb []byte

func (b pb) tag(field int, wire byte) pb {
	return binary.AppendUvarint(b, uint64(field)<<3|uint64(wire))
}

// uvarint writes a varint field unless it is zero.
func (b pb) uvarint(field int, v uint64) pb {
	if v == 0 {
		return b
	}
	return binary.AppendUvarint(b.tag(field, 0), v)
}

// sfixed64 writes a fixed 8-byte field unless it is zero.
func (b pb) sfixed64(field int, v int64) pb {
	if v == 0 {
		return b
	}
	return binary.LittleEndian.AppendUint64(b.tag(field, 1), uint64(v))
}

// bytes writes a length-delimited field unless it is empty.
func (b pb) bytes(field int, v []byte) pb {
	if len(v) == 0 {
		return b
	}
	return b.message(field, v)
}

// message writes a length-delimited field even when it is empty (an
// embedded message that is not nullable).
func (b pb) message(field int, v []byte) pb {
	b = binary.AppendUvarint(b.tag(field, 2), uint64(len(v)))
	return append(b, v...)
}

// timestamp is a google.protobuf.Timestamp.
func timestamp(t time.Time) pb {
	return pb(nil).uvarint(1, uint64(t.Unix())).uvarint(2, uint64(t.Nanosecond()))
}

// blockID is a BlockID (or, with the same layout, a CanonicalBlockID).
func blockID(id BlockID) pb {
	parts := pb(nil).uvarint(1, uint64(id.PartsTotal)).bytes(2, id.PartsHash)
	return pb(nil).bytes(1, id.Hash).message(2, parts)
}

// merkleRoot is the root of the RFC 6962 tree over items, as CometBFT's
// merkle.HashFromByteSlices computes it.
func merkleRoot(items [][]byte) []byte {
	switch len(items) {
	case 0:
		h := sha256.Sum256(nil)
		return h[:]
	case 1:
		h := sha256.Sum256(append([]byte{0}, items[0]...))
		return h[:]
	}
	k := 1 << (bits.Len(uint(len(items)-1)) - 1) // the largest power of two below len
	l, r := merkleRoot(items[:k]), merkleRoot(items[k:])
	h := sha256.Sum256(append(append([]byte{1}, l...), r...))
	return h[:]
}

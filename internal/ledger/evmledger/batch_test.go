package evmledger_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/bias-iot/bias/internal/ledger/evmledger"
)

func TestBatchRoundTrip(t *testing.T) {
	b := evmledger.Batch{Network: "local", Ops: [][]byte{opOf(1, evmledger.MinOpBytes), opOf(2, 300)}}
	enc, err := evmledger.EncodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := evmledger.EncodedSize("local", 2, evmledger.MinOpBytes+300); len(enc) != want {
		t.Fatalf("encoded %d bytes, EncodedSize says %d", len(enc), want)
	}
	got, err := evmledger.DecodeBatch(enc)
	if err != nil {
		t.Fatal(err)
	}
	if got.Network != b.Network || len(got.Ops) != 2 || !bytes.Equal(got.Ops[0], b.Ops[0]) || !bytes.Equal(got.Ops[1], b.Ops[1]) {
		t.Fatalf("decoded %+v", got)
	}
}

// opOf is an operation of n bytes b.
func opOf(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

func TestDecodeBatchRefuses(t *testing.T) {
	good, err := evmledger.EncodeBatch(evmledger.Batch{Network: "local", Ops: [][]byte{opOf(7, evmledger.MinOpBytes)}})
	if err != nil {
		t.Fatal(err)
	}
	mut := func(f func([]byte) []byte) []byte { return f(bytes.Clone(good)) }
	short := append([]byte{1, 1, 'a', 0, 1, 0, 0, 0, evmledger.MinOpBytes - 1}, opOf(7, evmledger.MinOpBytes-1)...)
	for name, data := range map[string][]byte{
		"fail/empty":          nil,
		"fail/version":        mut(func(b []byte) []byte { b[0] = 2; return b }),
		"fail/empty-network":  {1, 0, 0, 1, 0, 0, 0, 1, 9},
		"fail/long-network":   append([]byte{1, 33}, bytes.Repeat([]byte{'a'}, 33)...),
		"fail/no-ops":         {1, 1, 'a', 0, 0},
		"fail/too-many-ops":   {1, 1, 'a', 0xff, 0xff},
		"fail/empty-op":       {1, 1, 'a', 0, 1, 0, 0, 0, 0},
		"fail/one-byte-op":    {1, 1, 'a', 0, 1, 0, 0, 0, 1, 0},
		"fail/short-op":       short,
		"fail/truncated-op":   good[:len(good)-1],
		"fail/truncated-len":  {1, 1, 'a', 0, 1, 0, 0},
		"fail/trailing-bytes": append(bytes.Clone(good), 0),
		"fail/oversized":      make([]byte, evmledger.MaxBatchBytes+1),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := evmledger.DecodeBatch(data); !errors.Is(err, evmledger.ErrBatch) {
				t.Fatalf("decoded %x: %v, want ErrBatch", data, err)
			}
		})
	}
}

func TestEncodeBatchRefuses(t *testing.T) {
	for name, b := range map[string]evmledger.Batch{
		"fail/no-network": {Ops: [][]byte{opOf(1, evmledger.MinOpBytes)}},
		"fail/no-ops":     {Network: "local"},
		"fail/empty-op":   {Network: "local", Ops: [][]byte{{}}},
		"fail/short-op":   {Network: "local", Ops: [][]byte{opOf(1, evmledger.MinOpBytes), opOf(1, evmledger.MinOpBytes-1)}},
		"fail/too-large":  {Network: "local", Ops: [][]byte{make([]byte, evmledger.MaxOpBytes), make([]byte, 100)}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := evmledger.EncodeBatch(b); !errors.Is(err, evmledger.ErrBatch) {
				t.Fatalf("encoded: %v, want ErrBatch", err)
			}
		})
	}
}

// FuzzDecodeBatch: the decoder never panics, and what it accepts
// re-encodes to the same bytes (the encoding is unique).
func FuzzDecodeBatch(f *testing.F) {
	good, _ := evmledger.EncodeBatch(evmledger.Batch{Network: "local", Ops: [][]byte{opOf(1, evmledger.MinOpBytes), opOf(4, 100)}})
	f.Add(good)
	f.Add([]byte{1, 1, 'a', 0, 1, 0, 0, 0, 1, 0})
	f.Add(append([]byte{1, 1, 'a', 0, 1, 0, 0, 0, evmledger.MinOpBytes}, opOf(9, evmledger.MinOpBytes)...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := evmledger.DecodeBatch(data)
		if err != nil {
			if !errors.Is(err, evmledger.ErrBatch) {
				t.Fatalf("error %v is not ErrBatch", err)
			}
			return
		}
		enc, err := evmledger.EncodeBatch(b)
		if err != nil {
			t.Fatalf("accepted %x but cannot encode it: %v", data, err)
		}
		if !bytes.Equal(enc, data) {
			t.Fatalf("accepted %x, re-encodes to %x", data, enc)
		}
	})
}

package evmproof_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/bias-iot/bias/evmproof"
)

// encodeBatch is the batch encoding written out from docs/evm.md, apart
// from the decoder.
func encodeBatch(network string, ops ...[]byte) []byte {
	out := append([]byte{1, byte(len(network))}, network...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(ops))) //nolint:gosec // tests
	for _, op := range ops {
		out = binary.BigEndian.AppendUint32(out, uint32(len(op))) //nolint:gosec // tests
		out = append(out, op...)
	}
	return out
}

// encodeEvent is the ABI encoding of one bytes value.
func encodeEvent(b []byte) []byte {
	out := make([]byte, 64, 64+len(b)+32)
	out[31] = 32
	binary.BigEndian.PutUint32(out[60:], uint32(len(b))) //nolint:gosec // tests
	out = append(out, b...)
	return append(out, make([]byte, (32-len(b)%32)%32)...)
}

// op is an operation of the least length a batch takes, ending in tag.
func op(tag string) []byte {
	return append(bytes.Repeat([]byte{'.'}, evmproof.MinOpBytes-len(tag)), tag...)
}

func TestDecodeBatch(t *testing.T) {
	b, err := evmproof.DecodeBatch(encodeBatch("net", op("a"), op("bc")))
	if err != nil || b.Network != "net" || len(b.Ops) != 2 || !bytes.Equal(b.Ops[1], op("bc")) {
		t.Fatalf("DecodeBatch = %+v, %v", b, err)
	}
	good := encodeBatch("net", op("a"))
	for name, data := range map[string][]byte{
		"fail/empty":            nil,
		"fail/version":          append([]byte{2}, good[1:]...),
		"fail/no-network":       encodeBatch("", op("a")),
		"fail/short-op":         encodeBatch("net", op("a")[1:]),
		"fail/no-ops":           encodeBatch("net"),
		"fail/empty-op":         encodeBatch("net", nil),
		"fail/trailing":         append(bytes.Clone(good), 0),
		"fail/truncated":        good[:len(good)-1],
		"fail/network-too-long": encodeBatch(string(make([]byte, 33)), op("a")),
	} {
		if _, err := evmproof.DecodeBatch(data); !errors.Is(err, evmproof.ErrBatch) {
			t.Errorf("%s: %v, want ErrBatch", name, err)
		}
	}
}

func TestEventBatch(t *testing.T) {
	for _, n := range []int{1, 31, 32, 33, 100} {
		b := bytes.Repeat([]byte{7}, n)
		got, err := evmproof.EventBatch(encodeEvent(b))
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("EventBatch(%d bytes) = %x, %v", n, got, err)
		}
	}
	good := encodeEvent([]byte("abc"))
	bad := func(name string, f func([]byte)) {
		d := bytes.Clone(good)
		f(d)
		if _, err := evmproof.EventBatch(d); !errors.Is(err, evmproof.ErrBatch) {
			t.Errorf("%s: %v, want ErrBatch", name, err)
		}
	}
	bad("fail/offset", func(d []byte) { d[31] = 64 })
	bad("fail/length", func(d []byte) { d[63] = 40 })
	bad("fail/padding", func(d []byte) { d[len(d)-1] = 1 })
	bad("fail/high-word", func(d []byte) { d[32] = 1 })
	if _, err := evmproof.EventBatch(append(bytes.Clone(good), make([]byte, 32)...)); !errors.Is(err, evmproof.ErrBatch) {
		t.Errorf("fail/trailing: %v", err)
	}
}

// FuzzDecodeBatch: what DecodeBatch accepts re-encodes to the same bytes;
// what EventBatch accepts re-encodes to the same event data.
func FuzzDecodeBatch(f *testing.F) {
	f.Add(encodeBatch("net", op("a"), op("bc")))
	f.Add(encodeEvent(encodeBatch("n", op("x"))))
	f.Add(encodeBatch("net", []byte("a"))) // too short: refused
	f.Fuzz(func(t *testing.T, data []byte) {
		if b, err := evmproof.DecodeBatch(data); err == nil {
			if again := encodeBatch(b.Network, b.Ops...); !bytes.Equal(again, data) {
				t.Fatalf("re-encoded %x, decoded from %x", again, data)
			}
		}
		if b, err := evmproof.EventBatch(data); err == nil {
			if again := encodeEvent(b); !bytes.Equal(again, data) {
				t.Fatalf("event re-encoded %x, decoded from %x", again, data)
			}
		}
	})
}

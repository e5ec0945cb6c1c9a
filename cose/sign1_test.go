package cose

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

var algs = []Alg{AlgEdDSA, AlgES256}

func newSigner(t testing.TB, alg Alg) Signer {
	t.Helper()
	s, _, err := GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sigStructure builds the Sig_structure of RFC 9052 section 4.4 on its own,
// to cross-check toBeSigned.
func sigStructure(t testing.TB, protected, aad, payload []byte) []byte {
	t.Helper()
	nz := func(b []byte) []byte {
		if b == nil {
			return []byte{}
		}
		return b
	}
	b, err := cbor.Marshal([]any{"Signature1", nz(protected), nz(aad), nz(payload)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cborBytes encodes v deterministically.
func cborBytes(t testing.TB, v any) []byte {
	t.Helper()
	b, err := encMode.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// message encodes a tagged COSE_Sign1 from its four parts as given.
func message(t testing.TB, protected []byte, unprotected any, payload, sig []byte) []byte {
	t.Helper()
	if unprotected == nil {
		unprotected = map[int64]any{}
	}
	return cborBytes(t, cbor.Tag{Number: TagSign1, Content: []any{protected, unprotected, payload, sig}})
}

// signedMessage signs protected (bytes as given) and payload with s, with
// no external AAD.
func signedMessage(t testing.TB, s Signer, protected []byte, unprotected any, payload []byte) []byte {
	t.Helper()
	sig, err := s.SignMessage(sigStructure(t, protected, nil, payload))
	if err != nil {
		t.Fatal(err)
	}
	return message(t, protected, unprotected, payload, sig)
}

func decodeOK(t testing.TB, b []byte) *Message {
	t.Helper()
	m, err := Decode(b)
	if err != nil {
		t.Fatalf("Decode(%x): %v", b, err)
	}
	return m
}

func TestSign1RoundTrip(t *testing.T) {
	for _, alg := range algs {
		s := newSigner(t, alg)
		for _, kid := range [][]byte{nil, {}, []byte("did:bias:local:abc#k1")} {
			for _, payload := range [][]byte{nil, {}, []byte("payload"), bytes.Repeat([]byte{0xa5}, 70000)} {
				for _, aad := range [][]byte{nil, {}, []byte("external")} {
					msg, err := Sign1(s, kid, payload, aad)
					if err != nil {
						t.Fatalf("%v: Sign1: %v", alg, err)
					}
					if msg[0] != 0xd2 {
						t.Fatalf("%v: not tagged 18: %x", alg, msg[:1])
					}
					m := decodeOK(t, msg)
					if m.Alg != alg || !bytes.Equal(m.Payload, payload) || !bytes.Equal(m.Kid, kid) || m.KidProtected != (kid != nil) {
						t.Fatalf("%v: decoded %+v", alg, m)
					}
					if err := m.Verify(s.Public(), aad); err != nil {
						t.Fatalf("%v kid=%q len(payload)=%d aad=%q: Verify: %v", alg, kid, len(payload), aad, err)
					}
					tbs, err := m.ToBeSigned(aad)
					if err != nil || !bytes.Equal(tbs, sigStructure(t, m.Protected, aad, payload)) {
						t.Fatalf("%v: ToBeSigned %x, %v", alg, tbs, err)
					}
					if alg == AlgES256 && len(m.Signature) != 64 || alg == AlgEdDSA && len(m.Signature) != ed25519.SignatureSize {
						t.Fatalf("%v: signature of %d bytes", alg, len(m.Signature))
					}
				}
			}
		}
	}
}

// A nil payload must be signed and sent as an empty byte string, not as the
// null that marks a detached payload.
func TestSign1NilPayload(t *testing.T) {
	s := newSigner(t, AlgEdDSA)
	msg, err := Sign1(s, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var a sign1Array
	if err := decMode.Unmarshal(msg[1:], &a); err != nil {
		t.Fatal(err)
	}
	if a.Payload == nil {
		t.Fatalf("nil payload sent as null: %x", msg)
	}
	m := decodeOK(t, msg)
	if err := m.Verify(s.Public(), nil); err != nil {
		t.Fatal(err)
	}
	tbs, err := toBeSigned(m.Protected, nil, nil)
	if err != nil || !bytes.Equal(tbs, sigStructure(t, m.Protected, nil, []byte{})) {
		t.Fatalf("toBeSigned with a nil payload: %x, %v", tbs, err)
	}
}

func TestSign1Headers(t *testing.T) {
	for _, alg := range algs {
		s := newSigner(t, alg)
		kid := []byte("k1")
		msg, err := Sign1(s, kid, []byte("p"), nil)
		if err != nil {
			t.Fatal(err)
		}
		var a sign1Array
		if err := decMode.Unmarshal(msg[1:], &a); err != nil {
			t.Fatal(err)
		}
		if len(a.Unprotected) != 0 {
			t.Errorf("%v: unprotected header %v, want empty", alg, a.Unprotected)
		}
		want := cborBytes(t, map[int64]any{labelAlg: int64(alg), labelKid: kid})
		if !bytes.Equal(a.Protected, want) {
			t.Errorf("%v: protected %x, want %x", alg, a.Protected, want)
		}
		m := decodeOK(t, msg)
		if !m.KidProtected || !bytes.Equal(m.Kid, kid) || !bytes.Equal(m.Protected, want) {
			t.Errorf("%v: decoded %+v", alg, m)
		}
		// No kid: only alg is protected.
		msg, err = Sign1(s, nil, []byte("p"), nil)
		if err != nil {
			t.Fatal(err)
		}
		m = decodeOK(t, msg)
		if m.Kid != nil || m.KidProtected || !bytes.Equal(m.Protected, cborBytes(t, map[int64]any{labelAlg: int64(alg)})) {
			t.Errorf("%v: without kid decoded %+v", alg, m)
		}
	}
}

func TestDecodeAccepts(t *testing.T) {
	s := newSigner(t, AlgEdDSA)
	prot := cborBytes(t, map[int64]any{labelAlg: int64(AlgEdDSA)})
	payload := []byte("payload")
	tagged := signedMessage(t, s, prot, nil, payload)
	cases := []struct {
		name    string
		msg     []byte
		kid     string
		kidProt bool
	}{
		{"tagged", tagged, "", false},
		{"untagged", tagged[1:], "", false},
		{"kid unprotected", signedMessage(t, s, prot, map[int64]any{labelKid: []byte("u1")}, payload), "u1", false},
		{"kid protected", signedMessage(t, s, cborBytes(t, map[int64]any{labelAlg: int64(AlgEdDSA), labelKid: []byte("p1")}), nil, payload), "p1", true},
		{"other unprotected header", signedMessage(t, s, prot, map[int64]any{5: []byte("iv"), 33: []any{[]byte{1}}}, payload), "", false},
		{"ctyp protected", signedMessage(t, s, cborBytes(t, map[int64]any{labelAlg: int64(AlgEdDSA), 3: 0}), nil, payload), "", false},
		{"empty payload", signedMessage(t, s, prot, nil, []byte{}), "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := decodeOK(t, c.msg)
			if string(m.Kid) != c.kid || m.KidProtected != c.kidProt {
				t.Fatalf("kid %q protected %v, want %q %v", m.Kid, m.KidProtected, c.kid, c.kidProt)
			}
			if err := m.Verify(s.Public(), nil); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

// reencode decodes msg, changes it with f and encodes it again, tagged.
func reencode(t testing.TB, msg []byte, f func(a *sign1Array)) []byte {
	t.Helper()
	var a sign1Array
	if err := decMode.Unmarshal(msg[1:], &a); err != nil {
		t.Fatal(err)
	}
	f(&a)
	return cborBytes(t, cbor.Tag{Number: TagSign1, Content: a})
}

func TestVerifyRejects(t *testing.T) {
	for _, alg := range algs {
		s := newSigner(t, alg)
		other := newSigner(t, alg)
		otherAlg := newSigner(t, map[Alg]Alg{AlgEdDSA: AlgES256, AlgES256: AlgEdDSA}[alg])
		kid := []byte("k1")
		payload := []byte("the payload")
		aad := []byte("aad")
		msg, err := Sign1(s, kid, payload, aad)
		if err != nil {
			t.Fatal(err)
		}
		negAlg := byte(-1 - int64(alg)) // CBOR argument of the negative alg
		cases := []struct {
			name string
			msg  []byte
			key  PublicKey
			aad  []byte
		}{
			{"payload changed", reencode(t, msg, func(a *sign1Array) { a.Payload = []byte("the paylaod") }), s.Public(), aad},
			{"payload emptied", reencode(t, msg, func(a *sign1Array) { a.Payload = []byte{} }), s.Public(), aad},
			{"protected kid changed", reencode(t, msg, func(a *sign1Array) {
				a.Protected = cborBytes(t, map[int64]any{labelAlg: int64(alg), labelKid: []byte("k2")})
			}), s.Public(), aad},
			{"protected kid moved to unprotected", reencode(t, msg, func(a *sign1Array) {
				a.Protected = cborBytes(t, map[int64]any{labelAlg: int64(alg)})
				a.Unprotected = map[int64]cbor.RawMessage{labelKid: cborBytes(t, kid)}
			}), s.Public(), aad},
			{"protected alg re-encoded non-minimally", reencode(t, msg, func(a *sign1Array) {
				a.Protected = append([]byte{0xa2, 0x01, 0x38, negAlg}, cborBytes(t, map[int64]any{labelKid: kid})[1:]...)
			}), s.Public(), aad},
			{"protected map reordered", reencode(t, msg, func(a *sign1Array) {
				a.Protected = append(append([]byte{0xa2}, cborBytes(t, map[int64]any{labelKid: kid})[1:]...), 0x01, 0x20+negAlg)
			}), s.Public(), aad},
			{"signature first bit flipped", reencode(t, msg, func(a *sign1Array) { a.Signature[0] ^= 0x80 }), s.Public(), aad},
			{"signature last bit flipped", reencode(t, msg, func(a *sign1Array) { a.Signature[63] ^= 1 }), s.Public(), aad},
			{"signature halves swapped", reencode(t, msg, func(a *sign1Array) {
				a.Signature = append(append([]byte{}, a.Signature[32:]...), a.Signature[:32]...)
			}), s.Public(), aad},
			{"signature truncated", reencode(t, msg, func(a *sign1Array) { a.Signature = a.Signature[:63] }), s.Public(), aad},
			{"signature extended", reencode(t, msg, func(a *sign1Array) { a.Signature = append(a.Signature, 0) }), s.Public(), aad},
			{"signature empty", reencode(t, msg, func(a *sign1Array) { a.Signature = []byte{} }), s.Public(), aad},
			{"signature zero", reencode(t, msg, func(a *sign1Array) { a.Signature = make([]byte, 64) }), s.Public(), aad},
			{"wrong key", msg, other.Public(), aad},
			{"alg mismatch", msg, otherAlg.Public(), aad},
			{"zero key", msg, PublicKey{}, aad},
			{"external AAD missing", msg, s.Public(), nil},
			{"external AAD changed", msg, s.Public(), []byte("aae")},
		}
		for _, c := range cases {
			t.Run(alg.String()+"/"+c.name, func(t *testing.T) {
				m := decodeOK(t, c.msg)
				if err := m.Verify(c.key, c.aad); !errors.Is(err, ErrBadSignature) {
					t.Fatalf("Verify: %v, want ErrBadSignature", err)
				}
			})
		}
		// The unchanged message still verifies: the cases fail for their change.
		if err := decodeOK(t, msg).Verify(s.Public(), aad); err != nil {
			t.Fatalf("%v: base message: %v", alg, err)
		}
		if err := decodeOK(t, reencode(t, msg, func(*sign1Array) {})).Verify(s.Public(), aad); err != nil {
			t.Fatalf("%v: re-encoded base message: %v", alg, err)
		}
	}
}

// h joins hex pieces, ignoring spaces.
func h(t testing.TB, parts ...string) []byte {
	t.Helper()
	return mustHex(t, strings.ReplaceAll(strings.Join(parts, ""), " ", ""))
}

func TestDecodeRejects(t *testing.T) {
	// Pieces of a well-formed COSE_Sign1 (the signature is not checked).
	const (
		tag  = "D2"
		arr  = "84"
		prot = "43 A10127"   // << {1: -8} >>
		unp  = "A0"          // {}
		pay  = "42 6869"     // h'6869'
		sig  = "44 01020304" // h'01020304'
		kid  = "04 42 3131"  // 4: h'3131'
		alg  = "01 27"       // 1: -8
		body = prot + unp + pay + sig
	)
	if _, err := Decode(h(t, tag, arr, body)); err != nil {
		t.Fatalf("base message: %v", err)
	}
	cases := []struct{ name, hex string }{
		{"empty input", ""},
		{"tag 998", "D9 03E6" + arr + body},
		{"tag 17 (COSE_Mac0)", "D1" + arr + body},
		{"tag 98 (COSE_Sign)", "D8 62" + arr + body},
		{"tag 18 around tag 18", tag + tag + arr + body},
		{"tag 18 around tag 998", tag + "D9 03E6" + arr + body},
		{"tag 18 around a map", tag + "A0"},
		{"tag 18 around a byte string", tag + prot},
		{"tag 18 without content", tag},
		{"map", "A1" + alg},
		{"byte string", prot},
		{"null", "F6"},
		{"empty array", tag + "80"},
		{"array of 3", tag + "83" + prot + unp + pay},
		{"array of 5", tag + "85" + body + "40"},
		{"indefinite-length array", tag + "9F" + body + "FF"},
		{"indefinite-length protected", tag + arr + "5F 43A10127 FF" + unp + pay + sig},
		{"indefinite-length protected map", tag + arr + "44 BF0127FF" + unp + pay + sig},
		{"indefinite-length unprotected map", tag + arr + prot + "BF FF" + pay + sig},
		{"indefinite-length payload", tag + arr + prot + unp + "5F 4168 4169 FF" + sig},
		{"indefinite-length signature", tag + arr + prot + unp + pay + "5F 4401020304 FF"},
		{"indefinite-length kid", tag + arr + prot + "A1 04 5F 4131 FF" + pay + sig},
		{"duplicate key in protected", tag + arr + "45 A2 0127 0127" + unp + pay + sig},
		{"duplicate alg in protected", tag + arr + "45 A2 0127 0126" + unp + pay + sig},
		{"duplicate key in unprotected", tag + arr + prot + "A2" + kid + kid + pay + sig},
		{"duplicate key in unprotected, other label", tag + arr + prot + "A2 05 40 05 41 00" + pay + sig},
		{"trailing byte", tag + arr + body + "00"},
		{"trailing message", tag + arr + body + tag + arr + body},
		{"truncated", (tag + arr + body)[:len(tag+arr+body)-2]},
		{"crit header", tag + arr + "46 A2 0127 02 8104" + "A1" + kid + pay + sig},
		{"crit header, empty list", tag + arr + "45 A2 0127 02 80" + unp + pay + sig},
		{"no alg", tag + arr + "45 A1" + kid + unp + pay + sig},
		{"protected empty", tag + arr + "40" + unp + pay + sig},
		{"protected empty map", tag + arr + "41 A0" + unp + pay + sig},
		{"alg only in unprotected", tag + arr + "40 A1" + alg + pay + sig},
		{"alg in both headers", tag + arr + prot + "A1" + alg + pay + sig},
		{"alg text", tag + arr + "48 A1 01 65 4564445341" + unp + pay + sig},
		{"alg byte string", tag + arr + "44 A1 01 4127" + unp + pay + sig},
		{"alg beyond int64", tag + arr + "4B A1 01 1B FFFFFFFFFFFFFFFF" + unp + pay + sig},
		{"kid in both headers", tag + arr + "47 A2" + alg + kid + "A1" + kid + pay + sig},
		{"kid text in protected", tag + arr + "46 A2" + alg + "04 6131" + unp + pay + sig},
		{"kid text in unprotected", tag + arr + prot + "A1 04 6131" + pay + sig},
		{"kid integer in unprotected", tag + arr + prot + "A1 04 01" + pay + sig},
		{"protected not a byte string", tag + arr + "A1 0127" + unp + pay + sig},
		{"protected not a map", tag + arr + "42 8100" + unp + pay + sig},
		{"protected with trailing bytes", tag + arr + "44 A1012700" + unp + pay + sig},
		{"protected truncated", tag + arr + "42 A101" + unp + pay + sig},
		{"unprotected not a map", tag + arr + prot + "80" + pay + sig},
		{"payload null (detached)", tag + arr + prot + unp + "F6" + sig},
		{"payload text", tag + arr + prot + unp + "62 6869" + sig},
		{"signature null", tag + arr + prot + unp + pay + "F6"},
		{"signature array", tag + arr + prot + unp + pay + "80"},
		{"signature as array of bytes", tag + arr + prot + unp + pay + "84 01020304"},
		{"signature tagged", tag + arr + prot + unp + pay + "D818" + sig},
		{"payload as array of bytes", tag + arr + prot + unp + "82 1868 1869" + sig},
		{"payload tagged bignum", tag + arr + prot + unp + "C2" + pay + sig},
		{"payload tagged CBOR data item", tag + arr + prot + unp + "D818" + pay + sig},
		{"payload undefined", tag + arr + prot + unp + "F7" + sig},
		{"protected as array of bytes", tag + arr + "83 18A1 01 1827" + unp + pay + sig},
		{"protected tagged", tag + arr + "D818" + prot + unp + pay + sig},
		{"kid as array of bytes", tag + arr + prot + "A1 04 82 1831 1831" + pay + sig},
		{"kid tagged", tag + arr + prot + "A1 04 C2 42 3131" + pay + sig},
		{"kid null", tag + arr + prot + "A1 04 F6" + pay + sig},
		{"kid null in protected", tag + arr + "45 A2 0127 04F6" + unp + pay + sig},
		{"nested too deep", tag + arr + prot + "A1 05 8181818181818181814100" + pay + sig},
		{"length beyond input", tag + arr + prot + unp + "5A FFFFFFFF" + sig},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Decode(h(t, c.hex))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode = %+v, %v; want ErrMalformed", m, err)
			}
			if m != nil {
				t.Fatalf("Decode returned a message with its error")
			}
		})
	}
}

// A validly signed message is accepted up to MaxMessage bytes, not beyond.
func TestDecodeMaxMessage(t *testing.T) {
	s := newSigner(t, AlgEdDSA)
	sized := func(n int) []byte {
		payload := make([]byte, MaxMessage-200)
		for {
			msg, err := Sign1(s, nil, payload, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(msg) == n {
				return msg
			}
			payload = make([]byte, len(payload)+n-len(msg))
		}
	}
	m, err := Decode(sized(MaxMessage))
	if err != nil {
		t.Fatalf("message of MaxMessage bytes: %v", err)
	}
	if err := m.Verify(s.Public(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(sized(MaxMessage + 1)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("message of MaxMessage+1 bytes: %v, want ErrMalformed", err)
	}
	if _, err := Decode(make([]byte, 4*MaxMessage)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("4 MiB of zeros: %v, want ErrMalformed", err)
	}
}

func TestCritSignedIsRejected(t *testing.T) {
	// Even correctly signed, a message with crit is refused before Verify.
	s := newSigner(t, AlgES256)
	prot := cborBytes(t, map[int64]any{labelAlg: int64(AlgES256), labelCrit: []any{int64(labelKid)}, labelKid: []byte("k")})
	if _, err := Decode(signedMessage(t, s, prot, nil, []byte("p"))); !errors.Is(err, ErrMalformed) {
		t.Fatalf("crit: %v, want ErrMalformed", err)
	}
}

// p256Point returns the uncompressed and compressed encodings of a new key.
func p256Point(t testing.TB) (*ecdsa.PrivateKey, []byte, []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := k.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	x, y := new(big.Int).SetBytes(pub[1:33]), new(big.Int).SetBytes(pub[33:])
	return k, pub, elliptic.MarshalCompressed(elliptic.P256(), x, y)
}

func TestParsePublicKeyRejects(t *testing.T) {
	_, unc, comp := p256Point(t)
	p := elliptic.P256().Params().P
	pBytes := p.FillBytes(make([]byte, 32))

	// An x with no point on the curve: x³ - 3x + b is not a square mod p.
	noPointX := func() []byte {
		b := elliptic.P256().Params().B
		for x := int64(1); ; x++ {
			X := big.NewInt(x)
			rhs := new(big.Int).Exp(X, big.NewInt(3), p)
			rhs.Sub(rhs, new(big.Int).Mul(big.NewInt(3), X))
			rhs.Add(rhs, b).Mod(rhs, p)
			if new(big.Int).ModSqrt(rhs, p) == nil {
				return X.FillBytes(make([]byte, 32))
			}
		}
	}()
	offCurve := append([]byte{}, unc...)
	offCurve[64] ^= 1
	xTooBig := append(append([]byte{4}, pBytes...), unc[33:]...)
	with := func(prefix byte, b []byte) []byte { return append([]byte{prefix}, b...) }

	cases := []struct {
		name string
		alg  Alg
		key  []byte
		want error
	}{
		{"ed25519 nil", AlgEdDSA, nil, ErrBadKey},
		{"ed25519 31 bytes", AlgEdDSA, make([]byte, 31), ErrBadKey},
		{"ed25519 33 bytes", AlgEdDSA, make([]byte, 33), ErrBadKey},
		{"ed25519 64 bytes (private key)", AlgEdDSA, make([]byte, 64), ErrBadKey},
		{"ed448 57 bytes", AlgEdDSA, make([]byte, 57), ErrBadKey},
		{"p256 nil", AlgES256, nil, ErrBadKey},
		{"p256 infinity (0x00)", AlgES256, []byte{0}, ErrBadKey},
		{"p256 32 bytes (x only)", AlgES256, comp[1:], ErrBadKey},
		{"p256 64 bytes (x||y, no prefix)", AlgES256, unc[1:], ErrBadKey},
		{"p256 34 bytes", AlgES256, append(append([]byte{}, comp...), 0), ErrBadKey},
		{"p256 66 bytes", AlgES256, append(append([]byte{}, unc...), 0), ErrBadKey},
		{"p256 compressed prefix 04", AlgES256, with(4, comp[1:]), ErrBadKey},
		{"p256 compressed prefix 00", AlgES256, with(0, comp[1:]), ErrBadKey},
		{"p256 compressed prefix 05", AlgES256, with(5, comp[1:]), ErrBadKey},
		{"p256 compressed x = p", AlgES256, with(2, pBytes), ErrBadKey},
		{"p256 compressed x not on curve", AlgES256, with(2, noPointX), ErrBadKey},
		{"p256 uncompressed prefix 02", AlgES256, with(2, unc[1:]), ErrBadKey},
		{"p256 uncompressed prefix 06 (hybrid)", AlgES256, with(6, unc[1:]), ErrBadKey},
		{"p256 uncompressed off curve", AlgES256, offCurve, ErrBadKey},
		{"p256 uncompressed zeros", AlgES256, with(4, make([]byte, 64)), ErrBadKey},
		{"p256 uncompressed x = p", AlgES256, xTooBig, ErrBadKey},
		{"ES384", Alg(-35), unc, ErrUnsupportedAlg},
		{"ES512", Alg(-36), unc, ErrUnsupportedAlg},
		{"alg 0", Alg(0), make([]byte, 32), ErrUnsupportedAlg},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, err := ParsePublicKey(c.alg, c.key)
			if !errors.Is(err, c.want) {
				t.Fatalf("ParsePublicKey: %v, want %v", err, c.want)
			}
			if !k.IsZero() {
				t.Fatal("a key came back with the error")
			}
		})
	}
}

func TestP256KeyForms(t *testing.T) {
	priv, unc, comp := p256Point(t)
	ku, err := ParsePublicKey(AlgES256, unc)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := ParsePublicKey(AlgES256, comp)
	if err != nil {
		t.Fatal(err)
	}
	kf, err := PublicKeyFrom(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string]PublicKey{"uncompressed": ku, "compressed": kc, "PublicKeyFrom": kf} {
		if !k.Equal(ku) || !ku.Equal(k) {
			t.Errorf("%s: not Equal to the uncompressed form", name)
		}
		if !bytes.Equal(k.Bytes(), comp) {
			t.Errorf("%s: Bytes %x, want compressed %x", name, k.Bytes(), comp)
		}
		if k.Thumbprint() != ku.Thumbprint() {
			t.Errorf("%s: Thumbprint differs", name)
		}
		if ec, ok := k.Crypto().(*ecdsa.PublicKey); !ok || !ec.Equal(&priv.PublicKey) {
			t.Errorf("%s: Crypto() = %v", name, k.Crypto())
		}
		if k.Alg() != AlgES256 || k.IsZero() {
			t.Errorf("%s: alg %v zero %v", name, k.Alg(), k.IsZero())
		}
	}
	// The other y: a different, valid key.
	flipped := append([]byte{comp[0] ^ 1}, comp[1:]...)
	kn, err := ParsePublicKey(AlgES256, flipped)
	if err != nil {
		t.Fatal(err)
	}
	if kn.Equal(kc) || kn.Thumbprint() == kc.Thumbprint() {
		t.Error("the two points with one x are Equal")
	}
	// A signature made by the key verifies under each form and not under the negated point.
	sig, err := (&cryptoSigner{s: priv, pub: kc}).SignMessage([]byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	if !ku.Verify([]byte("m"), sig) || !kc.Verify([]byte("m"), sig) || kn.Verify([]byte("m"), sig) {
		t.Error("verification differs between key forms")
	}
}

func TestEd25519Key(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b := append([]byte{}, pub...)
	k, err := ParsePublicKey(AlgEdDSA, b)
	if err != nil {
		t.Fatal(err)
	}
	b[0] ^= 1 // the key must not alias the caller's slice
	if !bytes.Equal(k.Bytes(), pub) {
		t.Fatal("key changed with the input slice")
	}
	kf, err := PublicKeyFrom(pub)
	if err != nil || !kf.Equal(k) {
		t.Fatalf("PublicKeyFrom: %v", err)
	}
	if c, ok := k.Crypto().(ed25519.PublicKey); !ok || !c.Equal(pub) {
		t.Fatalf("Crypto() = %v", k.Crypto())
	}
	// Keys of different algorithms, and the zero key, are never Equal.
	_, _, comp := p256Point(t)
	ke, _ := ParsePublicKey(AlgES256, comp)
	if k.Equal(ke) || k.Equal(PublicKey{}) || !(PublicKey{}).IsZero() || k.IsZero() {
		t.Fatal("Equal/IsZero")
	}
}

func TestPublicKeyFromRejects(t *testing.T) {
	k384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		key  crypto.PublicKey
		want error
	}{
		"P-384":           {&k384.PublicKey, ErrUnsupportedAlg},
		"ecdsa by value":  {k384.PublicKey, ErrUnsupportedAlg},
		"string":          {"key", ErrUnsupportedAlg},
		"short ed25519":   {ed25519.PublicKey(make([]byte, 31)), ErrBadKey},
		"nil interface":   {nil, ErrUnsupportedAlg},
		"ed25519 private": {ed25519.NewKeyFromSeed(make([]byte, 32)), ErrUnsupportedAlg},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := PublicKeyFrom(c.key); !errors.Is(err, c.want) {
				t.Fatalf("PublicKeyFrom: %v, want %v", err, c.want)
			}
		})
	}
}

func TestNewSigner(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		priv crypto.Signer
		alg  Alg
	}{
		{"ecdsa.PrivateKey", ecKey, AlgES256},
		{"ed25519.PrivateKey", edKey, AlgEdDSA},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := NewSigner(c.priv)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := PublicKeyFrom(c.priv.Public())
			if err != nil {
				t.Fatal(err)
			}
			if !s.Public().Equal(pub) || s.Public().Alg() != c.alg {
				t.Fatalf("Public() = %x %v", s.Public().Bytes(), s.Public().Alg())
			}
			// Raw signatures are 64 bytes every time (r and s padded).
			for i := range 64 {
				msg := []byte{byte(i)}
				sig, err := s.SignMessage(msg)
				if err != nil {
					t.Fatal(err)
				}
				if len(sig) != 64 || !pub.Verify(msg, sig) {
					t.Fatalf("signature %x does not verify", sig)
				}
			}
			msg, err := Sign1(s, []byte("k"), []byte("payload"), []byte("aad"))
			if err != nil {
				t.Fatal(err)
			}
			if err := decodeOK(t, msg).Verify(pub, []byte("aad")); err != nil {
				t.Fatal(err)
			}
		})
	}
	k384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := NewSigner(k384); !errors.Is(err, ErrUnsupportedAlg) {
		t.Fatalf("NewSigner(P-384): %v, want ErrUnsupportedAlg", err)
	}
	if _, _, err := GenerateKey(Alg(-35)); !errors.Is(err, ErrUnsupportedAlg) {
		t.Fatalf("GenerateKey(ES384): %v, want ErrUnsupportedAlg", err)
	}
}

// failingSigner returns an error or a fixed DER signature.
type failingSigner struct {
	crypto.Signer
	der []byte
}

func (f failingSigner) Sign(_ io.Reader, _ []byte, _ crypto.SignerOpts) ([]byte, error) {
	if f.der == nil {
		return nil, errors.New("device unplugged")
	}
	return f.der, nil
}

func TestSignerErrors(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der := func(r, s *big.Int) []byte {
		b, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	one := big.NewInt(1)
	big257 := new(big.Int).Lsh(one, 256)
	cases := map[string][]byte{
		"signer error":   nil,
		"not DER":        {0x30, 0x01},
		"trailing bytes": append(der(one, one), 0),
		"r zero":         der(big.NewInt(0), one),
		"s negative":     der(one, big.NewInt(-1)),
		"r 257 bits":     der(big257, one),
	}
	for name, d := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := NewSigner(failingSigner{Signer: ecKey, der: d})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Sign1(s, nil, []byte("p"), nil); err == nil {
				t.Fatal("Sign1 succeeded")
			}
		})
	}
	// Short r and s are padded to 32 bytes each.
	raw, err := derToRaw(der(one, big.NewInt(2)))
	if err != nil || hex.EncodeToString(raw) != strings.Repeat("00", 31)+"01"+strings.Repeat("00", 31)+"02" {
		t.Fatalf("derToRaw: %x, %v", raw, err)
	}
}

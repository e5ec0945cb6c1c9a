package cose

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// coseVector is the part of a cose-wg/Examples file that the tests read.
type coseVector struct {
	Title string `json:"title"`
	Fail  bool   `json:"fail"`
	Input struct {
		Plaintext string `json:"plaintext"`
		Sign0     struct {
			Key      vectorJWK `json:"key"`
			Alg      string    `json:"alg"`
			External string    `json:"external"` // hex
		} `json:"sign0"`
		// Failures names the change made to a valid message, e.g. "ChangeTag".
		Failures map[string]json.RawMessage `json:"failures"`
	} `json:"input"`
	Intermediates struct {
		ToBeSign string `json:"ToBeSign_hex"`
	} `json:"intermediates"`
	Output struct {
		CBOR string `json:"cbor"`
	} `json:"output"`
}

// vectorJWK is the JWK-like key of the Examples: x/y/d in base64url, or
// x_hex/d_hex in hex.
type vectorJWK struct {
	Kty  string `json:"kty"`
	Kid  string `json:"kid"`
	Crv  string `json:"crv"`
	X    string `json:"x"`
	Y    string `json:"y"`
	D    string `json:"d"`
	XHex string `json:"x_hex"`
	YHex string `json:"y_hex"`
	DHex string `json:"d_hex"`
}

// field returns a key field given in base64url (b64) or hex (hx).
func (k vectorJWK) field(name, b64, hx string) ([]byte, error) {
	switch {
	case hx != "":
		return hex.DecodeString(hx)
	case b64 != "":
		return base64.RawURLEncoding.DecodeString(b64)
	}
	return nil, fmt.Errorf("key %q has no %s", k.Kid, name)
}

// publicKey turns the vector's key into a PublicKey, and checks that the
// private part, when present, belongs to it. A curve bias does not support
// gives ErrUnsupportedAlg.
func (k vectorJWK) publicKey() (PublicKey, error) {
	x, err := k.field("x", k.X, k.XHex)
	if err != nil {
		return PublicKey{}, err
	}
	d, _ := k.field("d", k.D, k.DHex)
	switch {
	case k.Kty == "EC" && k.Crv == "P-256":
		y, err := k.field("y", k.Y, k.YHex)
		if err != nil {
			return PublicKey{}, err
		}
		pt := append(append([]byte{4}, x...), y...)
		pub, err := ParsePublicKey(AlgES256, pt)
		if err != nil {
			return PublicKey{}, err
		}
		if d != nil {
			priv, err := ecdh.P256().NewPrivateKey(d)
			if err != nil {
				return PublicKey{}, err
			}
			if !bytes.Equal(priv.PublicKey().Bytes(), pt) {
				return PublicKey{}, fmt.Errorf("key %q: d does not match x,y", k.Kid)
			}
		}
		return pub, nil
	case k.Kty == "OKP" && (k.Crv == "Ed25519" || k.Crv == "Ed448"):
		// Both are EdDSA; an Ed448 key must fail to parse as one of ours.
		pub, err := ParsePublicKey(AlgEdDSA, x)
		if err != nil {
			return PublicKey{}, err
		}
		if d != nil && !bytes.Equal(ed25519.NewKeyFromSeed(d).Public().(ed25519.PublicKey), x) {
			return PublicKey{}, fmt.Errorf("key %q: d does not match x", k.Kid)
		}
		return pub, nil
	}
	return PublicKey{}, fmt.Errorf("%w: %s %s", ErrUnsupportedAlg, k.Kty, k.Crv)
}

// vectorAlgs maps the Examples' algorithm names to COSE identifiers (RFC 9053).
var vectorAlgs = map[string]Alg{"ES256": AlgES256, "ES384": -35, "ES512": -36, "EdDSA": AlgEdDSA}

// coseExpect is what bias must do with one vector. A zero value means: decode,
// carry the vector's alg, and verify with the vector's key.
type coseExpect struct {
	failure   string // the change the vector made ("" for none)
	decodeErr error  // Decode must fail with this
	keyErr    error  // the vector's key must fail to parse with this
	alg       Alg    // the alg Decode must report; 0 means the vector's own
	verifyErr error  // Verify with the vector's key (or ed25519Ref when keyErr) must fail with this
	why       string
}

// coseExpectations lists every Sign1 vector used; a file missing from it
// fails the test, so that no vector is silently skipped.
var coseExpectations = map[string]coseExpect{
	"sign1-tests/sign-pass-01.json": {failure: "ChangeProtected", decodeErr: ErrMalformed,
		why: "alg only in the unprotected header, protected is h'A0': bias requires alg in the protected header (policy); the signature itself is checked over the vector's ToBeSign"},
	"sign1-tests/sign-pass-02.json":    {why: "external AAD"},
	"sign1-tests/sign-pass-03.json":    {failure: "RemoveCBORTag", why: "untagged COSE_Sign1"},
	"sign1-tests/sign-fail-01.json":    {failure: "ChangeCBORTag", decodeErr: ErrMalformed, why: "tag 998 instead of 18"},
	"sign1-tests/sign-fail-02.json":    {failure: "ChangeTag", verifyErr: ErrBadSignature, why: "payload changed"},
	"sign1-tests/sign-fail-03.json":    {failure: "ChangeAttr", alg: -999, verifyErr: ErrBadSignature, why: "alg changed to -999: does not match the ES256 key"},
	"sign1-tests/sign-fail-04.json":    {failure: "ChangeAttr", decodeErr: ErrMalformed, why: "alg changed to the text \"unknown\""},
	"sign1-tests/sign-fail-06.json":    {failure: "AddProtected", verifyErr: ErrBadSignature, why: "protected attribute added"},
	"sign1-tests/sign-fail-07.json":    {failure: "RemoveProtected", verifyErr: ErrBadSignature, why: "protected attribute removed"},
	"ecdsa-examples/ecdsa-sig-01.json": {why: "ES256 with ctyp in the protected header"},
	"ecdsa-examples/ecdsa-sig-02.json": {keyErr: ErrUnsupportedAlg, verifyErr: ErrBadSignature, why: "ES384 on P-384: unsupported"},
	"ecdsa-examples/ecdsa-sig-03.json": {keyErr: ErrUnsupportedAlg, verifyErr: ErrBadSignature, why: "ES512 on P-521: unsupported"},
	"ecdsa-examples/ecdsa-sig-04.json": {verifyErr: ErrBadSignature, why: "ES512 with a P-256 key: alg does not match the ES256 key"},
	"eddsa-examples/eddsa-sig-01.json": {why: "Ed25519"},
	"eddsa-examples/eddsa-sig-02.json": {keyErr: ErrBadKey, verifyErr: ErrBadSignature, why: "Ed448 (alg EdDSA): 57-byte key and 114-byte signature are not Ed25519"},
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

// coseVectorFiles lists the Sign1 vectors in testdata, relative to testdata/cose.
func coseVectorFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"sign1-tests/sign-*.json", "ecdsa-examples/ecdsa-sig-*.json", "eddsa-examples/eddsa-sig-*.json"} {
		m, err := filepath.Glob(filepath.Join("testdata", "cose", pat))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			rel, _ := filepath.Rel(filepath.Join("testdata", "cose"), f)
			files = append(files, filepath.ToSlash(rel))
		}
	}
	sort.Strings(files)
	return files
}

func TestCOSEVectors(t *testing.T) {
	files := coseVectorFiles(t)
	if len(files) != len(coseExpectations) {
		t.Errorf("found %d vector files, expectations for %d", len(files), len(coseExpectations))
	}
	// A valid Ed25519 key, to verify the Ed448 message with.
	edRef, err := ParsePublicKey(AlgEdDSA, mustHex(t, "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"))
	if err != nil {
		t.Fatal(err)
	}
	var passed, rejected, unsupported, policy int
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			want, ok := coseExpectations[name]
			if !ok {
				t.Fatalf("no expectation for %s", name)
			}
			var v coseVector
			readJSON(t, filepath.Join("testdata", "cose", name), &v)
			shouldFail := want.decodeErr != nil || want.verifyErr != nil
			isPass := strings.HasPrefix(filepath.Base(name), "sign-pass") || !strings.HasPrefix(filepath.Base(name), "sign-")
			if v.Fail != !isPass {
				t.Fatalf("%s: fail=%v in the file, name says otherwise", v.Title, v.Fail)
			}
			if v.Fail && !shouldFail {
				t.Fatalf("%s: a failing vector is expected to pass", v.Title)
			}
			msg := mustHex(t, v.Output.CBOR)
			aad := mustHex(t, v.Input.Sign0.External)
			vecAlg, ok := vectorAlgs[v.Input.Sign0.Alg]
			if !ok {
				t.Fatalf("unknown alg %q", v.Input.Sign0.Alg)
			}

			key, kerr := v.Input.Sign0.Key.publicKey()
			if !errors.Is(kerr, want.keyErr) {
				t.Fatalf("key: err %v, want %v", kerr, want.keyErr)
			}
			var failures []string
			for f := range v.Input.Failures {
				failures = append(failures, f)
			}
			if strings.Join(failures, ",") != want.failure {
				t.Fatalf("vector makes the change %v, expectation is for %q", failures, want.failure)
			}
			if kerr != nil {
				key = edRef // any key of ours: the message must still be refused
				if vecAlg == AlgES256 {
					t.Fatal("an ES256 vector with an unusable key")
				}
			}

			m, err := Decode(msg)
			if want.decodeErr != nil {
				if !errors.Is(err, want.decodeErr) {
					t.Fatalf("Decode: err %v, want %v (%s)", err, want.decodeErr, want.why)
				}
				if v.Fail {
					rejected++
				} else {
					policy++
					checkRawSignature(t, name, msg, key, v)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			wantAlg := vecAlg
			if want.alg != 0 {
				wantAlg = want.alg
			}
			if m.Alg != wantAlg {
				t.Fatalf("alg %v, want %v", m.Alg, wantAlg)
			}
			if string(m.Payload) != v.Input.Plaintext && !v.Fail {
				t.Fatalf("payload %q, want %q", m.Payload, v.Input.Plaintext)
			}
			if kid := v.Input.Sign0.Key.Kid; string(m.Kid) != kid || m.KidProtected {
				t.Fatalf("kid %q (protected %v), want %q unprotected", m.Kid, m.KidProtected, kid)
			}
			err = m.Verify(key, aad)
			if want.verifyErr != nil {
				if !errors.Is(err, want.verifyErr) {
					t.Fatalf("Verify: err %v, want %v (%s)", err, want.verifyErr, want.why)
				}
				if m.Alg != AlgES256 && m.Alg != AlgEdDSA {
					if _, err := ParsePublicKey(m.Alg, key.Bytes()); !errors.Is(err, ErrUnsupportedAlg) {
						t.Errorf("ParsePublicKey(%v): %v, want ErrUnsupportedAlg", m.Alg, err)
					}
				}
				if v.Fail {
					rejected++
				} else {
					unsupported++
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v (%s)", err, want.why)
			}
			tbs, err := m.ToBeSigned(aad)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(tbs, mustHex(t, v.Intermediates.ToBeSign)) {
				t.Fatalf("ToBeSigned %X\nwant        %s", tbs, v.Intermediates.ToBeSign)
			}
			if len(aad) > 0 {
				if err := m.Verify(key, nil); !errors.Is(err, ErrBadSignature) {
					t.Fatalf("Verify without the external AAD: %v, want ErrBadSignature", err)
				}
			}
			passed++
		})
	}
	t.Logf("COSE Sign1 vectors: %d files: %d verified, %d rejected as the vector requires, %d refused as unsupported algorithms, %d valid but refused by policy",
		len(files), passed, rejected, unsupported, policy)
}

// checkRawSignature verifies the signature of sign-pass-01, which Decode
// refuses by policy, straight over the vector's ToBeSign bytes: the refusal
// is bias's choice, not a broken vector.
func checkRawSignature(t *testing.T, name string, msg []byte, key PublicKey, v coseVector) {
	t.Helper()
	var arr []cbor.RawMessage
	body := msg
	if body[0] == 0xd2 {
		body = body[1:]
	}
	if err := cbor.Unmarshal(body, &arr); err != nil || len(arr) != 4 {
		t.Fatalf("%s: not a 4-element array: %v", name, err)
	}
	var sig []byte
	if err := cbor.Unmarshal(arr[3], &sig); err != nil {
		t.Fatal(err)
	}
	if !key.Verify(mustHex(t, v.Intermediates.ToBeSign), sig) {
		t.Fatalf("%s: the vector's signature does not verify over its ToBeSign", name)
	}
}

// Wycheproof files (testvectors_v1).
type wycheproofFile struct {
	Algorithm     string `json:"algorithm"`
	Schema        string `json:"schema"`
	NumberOfTests int    `json:"numberOfTests"`
	TestGroups    []struct {
		Type      string `json:"type"`
		Sha       string `json:"sha"`
		PublicKey struct {
			Curve        string `json:"curve"`
			Pk           string `json:"pk"`           // EdDSA
			Uncompressed string `json:"uncompressed"` // ECDSA
		} `json:"publicKey"`
		Tests []wycheproofTest `json:"tests"`
	} `json:"testGroups"`
}

type wycheproofTest struct {
	TcID    int      `json:"tcId"`
	Comment string   `json:"comment"`
	Flags   []string `json:"flags"`
	Msg     string   `json:"msg"`
	Sig     string   `json:"sig"`
	Result  string   `json:"result"`
}

type wycheproofCounts struct{ total, valid, invalid, acceptable, keyRejected int }

// check compares one verification with the expected result.
func (c *wycheproofCounts) check(t *testing.T, tc wycheproofTest, got bool) {
	t.Helper()
	c.total++
	switch tc.Result {
	case "valid":
		c.valid++
		if !got {
			t.Errorf("tcId %d (%s %v): valid signature rejected", tc.TcID, tc.Comment, tc.Flags)
		}
	case "invalid":
		c.invalid++
		if got {
			t.Errorf("tcId %d (%s %v): invalid signature accepted", tc.TcID, tc.Comment, tc.Flags)
		}
	case "acceptable":
		c.acceptable++
	default:
		t.Errorf("tcId %d: unknown result %q", tc.TcID, tc.Result)
	}
}

func TestWycheproofEd25519(t *testing.T) {
	var f wycheproofFile
	readJSON(t, "testdata/wycheproof/ed25519_test.json", &f)
	if f.Algorithm != "EDDSA" {
		t.Fatalf("algorithm %q", f.Algorithm)
	}
	var c wycheproofCounts
	for _, g := range f.TestGroups {
		if g.Type != "EddsaVerify" || g.PublicKey.Curve != "edwards25519" {
			t.Fatalf("group type %q curve %q", g.Type, g.PublicKey.Curve)
		}
		key, err := ParsePublicKey(AlgEdDSA, mustHex(t, g.PublicKey.Pk))
		if err != nil {
			t.Fatalf("key %s: %v", g.PublicKey.Pk, err)
		}
		for _, tc := range g.Tests {
			c.check(t, tc, key.Verify(mustHex(t, tc.Msg), mustHex(t, tc.Sig)))
		}
	}
	if c.total != f.NumberOfTests {
		t.Errorf("ran %d tests, file has %d", c.total, f.NumberOfTests)
	}
	t.Logf("Wycheproof Ed25519: %d cases (%d valid, %d invalid, %d acceptable) in %d groups",
		c.total, c.valid, c.invalid, c.acceptable, len(f.TestGroups))
}

func TestWycheproofES256P1363(t *testing.T) {
	var f wycheproofFile
	readJSON(t, "testdata/wycheproof/ecdsa_secp256r1_sha256_p1363_test.json", &f)
	if f.Algorithm != "ECDSA" || !strings.Contains(f.Schema, "p1363") {
		t.Fatalf("algorithm %q schema %q", f.Algorithm, f.Schema)
	}
	var c wycheproofCounts
	for _, g := range f.TestGroups {
		if g.Type != "EcdsaP1363Verify" || g.Sha != "SHA-256" || g.PublicKey.Curve != "secp256r1" {
			t.Fatalf("group type %q sha %q curve %q", g.Type, g.Sha, g.PublicKey.Curve)
		}
		pt := mustHex(t, g.PublicKey.Uncompressed)
		key, err := ParsePublicKey(AlgES256, pt)
		if err != nil {
			// Not a usable key: no signature under it may be valid.
			for _, tc := range g.Tests {
				if tc.Result == "valid" {
					t.Errorf("tcId %d: key %x rejected (%v) but the signature is valid", tc.TcID, pt, err)
				}
				c.total++
				c.keyRejected++
			}
			continue
		}
		// The compressed form names the same key.
		ck, err := ParsePublicKey(AlgES256, key.Bytes())
		if err != nil || !ck.Equal(key) {
			t.Fatalf("compressed form of %x: %v", pt, err)
		}
		for _, tc := range g.Tests {
			msg, sig := mustHex(t, tc.Msg), mustHex(t, tc.Sig)
			got := key.Verify(msg, sig)
			if ck.Verify(msg, sig) != got {
				t.Errorf("tcId %d: compressed and uncompressed keys disagree", tc.TcID)
			}
			c.check(t, tc, got)
		}
	}
	if c.total != f.NumberOfTests {
		t.Errorf("ran %d tests, file has %d", c.total, f.NumberOfTests)
	}
	t.Logf("Wycheproof ECDSA P-256 SHA-256 P1363: %d cases (%d valid, %d invalid, %d acceptable, %d under rejected keys) in %d groups",
		c.total, c.valid, c.invalid, c.acceptable, c.keyRejected, len(f.TestGroups))
}

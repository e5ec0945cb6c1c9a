package sdcwt_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/sdcwt"
)

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The draft's first disclosure hashes to the digest its tokens carry.
func TestDraftDisclosureDigest(t *testing.T) {
	d, err := sdcwt.ParseDisclosure(read(t, "first-disclosure.cborseq"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Key != int64(501) || d.Value != "ABCD-123456" {
		t.Fatalf("disclosure %v %v", d.Key, d.Value)
	}
	if got := hex.EncodeToString(d.Digest()); got != "af375dc3fba1d082448642c00be7b2f7bb05c9d8fb61cfc230ddfdfb4616a693" {
		t.Fatalf("digest %s", got)
	}
}

// The draft's issued SD-CWT and its key binding token: every digest in
// place, the undisclosed ones removed, and the KBT's signature verifies
// with the holder key of the token's cnf. (The issuer signs with ES384,
// which bias does not accept: its signature is not checked here.)
func TestDraftExamples(t *testing.T) {
	issued, err := sdcwt.Parse(read(t, "issuer_cwt.cbor"))
	if err != nil {
		t.Fatal(err)
	}
	all, err := issued.Unverified()
	if err != nil {
		t.Fatal(err)
	}
	if all[int64(501)] != "ABCD-123456" || len(all[int64(502)].([]any)) != 3 {
		t.Fatalf("issued claims %v", all)
	}
	kbt, err := cose.Decode(read(t, "kbt.cbor"))
	if err != nil {
		t.Fatal(err)
	}
	var prot map[int64]cbor.RawMessage
	if err := cbor.Unmarshal(kbt.Protected, &prot); err != nil {
		t.Fatal(err)
	}
	var typ int64
	_ = cbor.Unmarshal(prot[sdcwt.HeaderTyp], &typ)
	if typ != sdcwt.TypKBCWT {
		t.Fatalf("kbt typ %d", typ)
	}
	pres, err := sdcwt.Parse(prot[sdcwt.HeaderKCWT])
	if err != nil {
		t.Fatal(err)
	}
	got, err := pres.Unverified()
	if err != nil {
		t.Fatal(err)
	}
	if got[int64(501)] != "ABCD-123456" {
		t.Fatalf("inspector_license_number: %v", got[int64(501)])
	}
	if !reflect.DeepEqual(got[int64(502)], []any{int64(1549560720), int64(1674004740)}) {
		t.Fatalf("inspection_dates: %v", got[int64(502)])
	}
	loc := got[int64(503)].(map[any]any)
	if loc["region"] != "ca" || loc["country"] != "us" || loc["postal_code"] != nil {
		t.Fatalf("inspection_location: %v", loc)
	}
	cnf := got[int64(8)].(map[any]any)[int64(1)].(map[any]any)
	x, y := cnf[int64(-2)].([]byte), cnf[int64(-3)].([]byte)
	holder, err := cose.ParsePublicKey(cose.AlgES256, append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatal(err)
	}
	if err := kbt.Verify(holder, nil); err != nil {
		t.Fatalf("the KBT does not verify with the holder's key: %v", err)
	}
	var claims map[int64]any
	if err := cbor.Unmarshal(kbt.Payload, &claims); err != nil || claims[3] != "https://verifier.example/app" {
		t.Fatalf("kbt claims %v %v", claims, err)
	}
}

func issuer(t testing.TB) cose.Signer {
	t.Helper()
	s, _, err := cose.GenerateKey(cose.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Issue, present a subset, verify: maps, nested maps, array elements,
// decoys; and a named refusal for each bad presentation.
func TestIssuePresent(t *testing.T) {
	s := issuer(t)
	tok, ds, err := sdcwt.Issue(s, []byte("kid"), map[any]any{
		int64(1): "iss", "subscription": sdcwt.SD{Value: "gold"}, "owner": sdcwt.SD{Value: "Ada"},
		"bands": []any{"n78", sdcwt.SD{Value: "n258"}},
	}, rand.Reader, 2)
	if err != nil {
		t.Fatal(err)
	}
	pick := func(key any) *sdcwt.Disclosure {
		for _, d := range ds {
			if d.Key == key {
				return d
			}
		}
		t.Fatalf("no disclosure %v", key)
		return nil
	}
	pres, err := sdcwt.Present(tok, []*sdcwt.Disclosure{pick("subscription")})
	if err != nil {
		t.Fatal(err)
	}
	p, err := sdcwt.Parse(pres)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := p.Verify(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	want := map[any]any{int64(1): "iss", "subscription": "gold", "bands": []any{"n78"}}
	if !reflect.DeepEqual(claims, want) {
		t.Fatalf("got %v", claims)
	}
	other, ods, _ := sdcwt.Issue(s, []byte("kid"), map[any]any{"subscription": sdcwt.SD{Value: "gold"}}, rand.Reader, 0)
	_ = other
	tampered, _ := sdcwt.NewDisclosure(rand.Reader, "subscription", "platinum")
	tampered.Salt = pick("subscription").Salt
	sub := pick("subscription")
	for name, c := range map[string]struct {
		chosen []*sdcwt.Disclosure
		want   error
	}{
		"fail/duplicated-disclosure": {[]*sdcwt.Disclosure{sub, sub}, sdcwt.ErrDuplicate},
		"fail/foreign-disclosure":    {[]*sdcwt.Disclosure{ods[0]}, sdcwt.ErrUnreferenced},
		"fail/tampered-disclosure":   {[]*sdcwt.Disclosure{tampered}, sdcwt.ErrUnreferenced},
	} {
		t.Run(name, func(t *testing.T) {
			pres, err := sdcwt.Present(tok, c.chosen)
			if err != nil {
				t.Fatal(err)
			}
			p, err := sdcwt.Parse(pres)
			if err == nil {
				_, err = p.Verify(s.Public())
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	if _, err := p.Verify(issuer(t).Public()); !errors.Is(err, sdcwt.ErrBadSignature) {
		t.Fatalf("another issuer's key: %v", err)
	}
}

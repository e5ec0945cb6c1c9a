package sdjwt_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/sdjwt"
)

type jwk struct{ X, Y string }

func p256(t testing.TB, k jwk) cose.PublicKey {
	t.Helper()
	x, err1 := base64.RawURLEncoding.DecodeString(k.X)
	y, err2 := base64.RawURLEncoding.DecodeString(k.Y)
	if err1 != nil || err2 != nil {
		t.Fatal("bad jwk")
	}
	pk, err := cose.ParsePublicKey(cose.AlgES256, append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

type vectorKeys struct {
	Issuer, Holder jwk
	KB             struct {
		Aud, Nonce string
		Iat        int64
	}
}

func vectors(t testing.TB) (issued, presented string, keys vectorKeys) {
	t.Helper()
	read := func(name string) string {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	if err := json.Unmarshal([]byte(read("rfc9901-keys.json")), &keys); err != nil {
		t.Fatal(err)
	}
	return read("rfc9901-5.1-issued.txt"), read("rfc9901-5.2-presentation.txt"), keys
}

// The digest that RFC 9901 section 4.2.3 works out.
func TestRFC9901Digest(t *testing.T) {
	got := sdjwt.Digest("WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0")
	if got != "X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0" {
		t.Fatalf("digest %s", got)
	}
}

// The SD-JWT of RFC 9901 section 5.1 verifies with the issuer key of
// appendix A.5, every claim in place.
func TestRFC9901Issued(t *testing.T) {
	issued, _, keys := vectors(t)
	p, err := sdjwt.Parse(issued)
	if err != nil {
		t.Fatal(err)
	}
	if p.KB != "" || len(p.Disclosures) != 10 {
		t.Fatalf("kb %q, %d disclosures", p.KB, len(p.Disclosures))
	}
	claims, err := p.Verify(p256(t, keys.Issuer))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"given_name", "family_name", "email", "phone_number", "phone_number_verified", "address", "birthdate", "updated_at"} {
		if _, ok := claims[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
	if !reflect.DeepEqual(claims["nationalities"], []any{"US", "DE"}) {
		t.Errorf("nationalities %v", claims["nationalities"])
	}
	if _, ok := claims["_sd"]; ok {
		t.Error("_sd left")
	}
	if _, ok := claims["_sd_alg"]; ok {
		t.Error("_sd_alg left")
	}
	if _, err := p.Verify(p256(t, keys.Holder)); !errors.Is(err, sdjwt.ErrBadSignature) {
		t.Fatalf("another key: %v", err)
	}
}

// The SD-JWT+KB of RFC 9901 section 5.2 verifies to the processed payload
// the RFC prints, and its KB-JWT signs the sd_hash this package computes.
func TestRFC9901Presentation(t *testing.T) {
	_, presented, keys := vectors(t)
	p, err := sdjwt.Parse(presented)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := p.Verify(p256(t, keys.Issuer))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"iss": "https://issuer.example.com", "iat": json.Number("1683000000"), "exp": json.Number("1883000000"), "sub": "user_42",
		"nationalities": []any{"US"}, "family_name": "Doe", "given_name": "John",
		"address": map[string]any{"street_address": "123 Main St", "locality": "Anytown", "region": "Anystate", "country": "US"},
		"cnf":     map[string]any{"jwk": map[string]any{"kty": "EC", "crv": "P-256", "x": keys.Holder.X, "y": keys.Holder.Y}},
	}
	if !reflect.DeepEqual(claims, want) {
		t.Fatalf("processed payload\n got %v\nwant %v", claims, want)
	}
	parts := strings.Split(p.KB, ".")
	if len(parts) != 3 {
		t.Fatal("kb")
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	body, _ := base64.RawURLEncoding.DecodeString(parts[1])
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	var h struct{ Typ string }
	_ = json.Unmarshal(hdr, &h)
	var c struct {
		Nonce  string `json:"nonce"`
		Aud    string `json:"aud"`
		SDHash string `json:"sd_hash"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	if h.Typ != "kb+jwt" || c.Nonce != keys.KB.Nonce || c.Aud != keys.KB.Aud || c.SDHash != p.SDHash() {
		t.Fatalf("kb-jwt %s %+v, sd_hash %s", h.Typ, c, p.SDHash())
	}
	if !p256(t, keys.Holder).Verify([]byte(parts[0]+"."+parts[1]), sig) {
		t.Fatal("the KB-JWT does not verify with the holder's key")
	}
}

func issuer(t testing.TB, alg cose.Alg) cose.Signer {
	t.Helper()
	s, _, err := cose.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func credential(t testing.TB, s cose.Signer) (string, []*sdjwt.Disclosure) {
	t.Helper()
	jwt, ds, err := sdjwt.Issue(s, "cred-1", "example+sd-jwt", map[string]any{
		"iss": "did:bias:local:provider", "sub": "did:bias:local:device",
		"subscription": sdjwt.SD{Value: "gold"},
		"firmware":     sdjwt.SD{Value: "4.2.1"},
		"site":         sdjwt.SD{Value: map[string]any{"area": sdjwt.SD{Value: "A7"}, "country": "FR"}},
		"bands":        []any{"n78", sdjwt.SD{Value: "n258"}},
	}, rand.Reader, 2)
	if err != nil {
		t.Fatal(err)
	}
	return jwt, ds
}

func byName(ds []*sdjwt.Disclosure, name string) *sdjwt.Disclosure {
	for _, d := range ds {
		if d.Name == name || (name == "" && d.IsArray) {
			return d
		}
	}
	return nil
}

// Issue and present with each algorithm: objects, nested objects, array
// elements and decoys; the verifier sees exactly what was presented.
func TestIssuePresent(t *testing.T) {
	for _, alg := range []cose.Alg{cose.AlgEdDSA, cose.AlgES256} {
		t.Run(alg.String(), func(t *testing.T) {
			s := issuer(t, alg)
			jwt, ds := credential(t, s)
			if len(ds) != 5 {
				t.Fatalf("%d disclosures", len(ds))
			}
			p, err := sdjwt.Parse(sdjwt.Present(jwt, []*sdjwt.Disclosure{byName(ds, "subscription"), byName(ds, "")}))
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := p.Payload()
			if n := len(raw["_sd"].([]any)); n != 3+2 {
				t.Fatalf("%d top-level digests, want 3 and 2 decoys", n)
			}
			claims, err := p.Verify(s.Public())
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"iss": "did:bias:local:provider", "sub": "did:bias:local:device", "subscription": "gold", "bands": []any{"n78", "n258"}}
			if !reflect.DeepEqual(claims, want) {
				t.Fatalf("got %v", claims)
			}
			// The nested one needs its parent.
			p, _ = sdjwt.Parse(sdjwt.Present(jwt, []*sdjwt.Disclosure{byName(ds, "site"), byName(ds, "area")}))
			claims, err = p.Verify(s.Public())
			if err != nil || !reflect.DeepEqual(claims["site"], map[string]any{"area": "A7", "country": "FR"}) {
				t.Fatalf("nested: %v %v", claims, err)
			}
			p, _ = sdjwt.Parse(sdjwt.Present(jwt, []*sdjwt.Disclosure{byName(ds, "area")}))
			if _, err := p.Verify(s.Public()); !errors.Is(err, sdjwt.ErrUnreferenced) {
				t.Fatalf("child without parent: %v", err)
			}
		})
	}
}

func encode(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// A named refusal for each bad presentation.
func TestRefusals(t *testing.T) {
	s := issuer(t, cose.AlgEdDSA)
	jwt, ds := credential(t, s)
	sub := byName(ds, "subscription")
	otherJWT, otherDs := credential(t, s)
	tampered := encode([]any{sub.Salt, "subscription", "platinum"})
	sdInDisclosure, _ := sdjwt.NewDisclosure(rand.Reader, "x", map[string]any{"_sd": []any{sub.Digest(), sub.Digest()}}, false)
	dupDigest := signRaw(t, s, map[string]any{"_sd": []any{sub.Digest()}, "a": []any{map[string]any{"...": sub.Digest()}}})
	_ = otherJWT
	cases := []struct {
		name string
		pres string
		want error
	}{
		{"fail/tampered-disclosure", jwt + "~" + tampered + "~", sdjwt.ErrUnreferenced},
		{"fail/duplicated-disclosure", sdjwt.Present(jwt, []*sdjwt.Disclosure{sub, sub}), sdjwt.ErrDuplicate},
		{"fail/foreign-disclosure", sdjwt.Present(jwt, []*sdjwt.Disclosure{byName(otherDs, "subscription")}), sdjwt.ErrUnreferenced},
		{"fail/array-disclosure-as-property", jwt + "~" + encode([]any{"salt", "x"}) + "~", sdjwt.ErrUnreferenced},
		{"fail/reserved-name-sd", jwt + "~" + encode([]any{"salt", "_sd", 1}) + "~", sdjwt.ErrReserved},
		{"fail/reserved-name-dots", jwt + "~" + encode([]any{"salt", "...", 1}) + "~", sdjwt.ErrReserved},
		{"fail/not-an-array", jwt + "~" + encode(map[string]any{"a": 1}) + "~", sdjwt.ErrMalformed},
		{"fail/four-elements", jwt + "~" + encode([]any{"s", "a", 1, 2}) + "~", sdjwt.ErrMalformed},
		{"fail/duplicate-member", jwt + "~" + base64.RawURLEncoding.EncodeToString([]byte(`["s","a",{"x":1,"x":2}]`)) + "~", sdjwt.ErrMalformed},
		{"fail/padded-disclosure", jwt + "~" + sub.Encoded + "=~", sdjwt.ErrMalformed},
		{"fail/no-tilde", jwt, sdjwt.ErrMalformed},
		{"fail/tampered-payload", strings.Replace(jwt, ".", ".e", 1) + "~", sdjwt.ErrMalformed},
		{"fail/oversized", jwt + "~" + strings.Repeat("A", sdjwt.MaxSDJWT) + "~", sdjwt.ErrOversized},
		{"fail/oversized-disclosure", jwt + "~" + strings.Repeat("A", sdjwt.MaxDisclosure+1) + "~", sdjwt.ErrOversized},
		{"fail/too-many-disclosures", jwt + strings.Repeat("~"+sub.Encoded, sdjwt.MaxDisclosures+1) + "~", sdjwt.ErrOversized},
		{"fail/digest-twice", sdjwt.Present(jwt, []*sdjwt.Disclosure{sdInDisclosure}), sdjwt.ErrUnreferenced},
		{"fail/property-digest-as-element", dupDigest + "~" + sub.Encoded + "~", sdjwt.ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := sdjwt.Parse(c.pres)
			if err == nil {
				_, err = p.Verify(s.Public())
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

// A digest that occurs twice in the signed payload is refused even when
// its disclosure is presented once.
func TestDuplicateDigest(t *testing.T) {
	s := issuer(t, cose.AlgEdDSA)
	d, _ := sdjwt.NewDisclosure(rand.Reader, "a", 1, false)
	e, _ := sdjwt.NewDisclosure(rand.Reader, "", 2, true)
	for name, claims := range map[string]map[string]any{
		"in-sd":     {"x": map[string]any{"_sd": []any{d.Digest()}}, "y": map[string]any{"_sd": []any{d.Digest()}}},
		"in-array":  {"x": []any{map[string]any{"...": e.Digest()}, map[string]any{"...": e.Digest()}}},
		"undiscl":   {"x": []any{map[string]any{"...": "AAAA"}, map[string]any{"...": "AAAA"}}},
		"sd-as-dot": {"x": []any{map[string]any{"...": d.Digest()}}},
	} {
		t.Run(name, func(t *testing.T) {
			pres := signRaw(t, s, claims) + "~"
			if name == "in-sd" || name == "sd-as-dot" {
				pres += d.Encoded + "~"
			} else if name == "in-array" {
				pres += e.Encoded + "~"
			}
			p, err := sdjwt.Parse(pres)
			if err == nil {
				_, err = p.Verify(s.Public())
			}
			want := sdjwt.ErrDuplicate
			if name == "sd-as-dot" {
				want = sdjwt.ErrMalformed
			}
			if !errors.Is(err, want) {
				t.Fatalf("got %v, want %v", err, want)
			}
		})
	}
}

// signRaw signs a payload as an issuer could, digests and all: shapes
// that Issue refuses to make.
func signRaw(t testing.TB, s cose.Signer, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": s.Public().Alg().String()})
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sig, err := s.SignMessage([]byte(input))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

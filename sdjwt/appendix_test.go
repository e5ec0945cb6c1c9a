package sdjwt_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/sdjwt"
)

// listedDisclosure is one disclosure as RFC 9901 lists it: the claim it
// discloses ("" for an array entry), its digest, its encoding and its
// decoded contents.
type listedDisclosure struct {
	Claim      string
	Digest     string
	Disclosure string
	Contents   []json.RawMessage
}

// The examples of RFC 9901 appendix A (as printed in draft 22; see
// testdata/README.md), all signed by the issuer key of A.5:
//
//   - A.1, a structured address whose members are disclosed one by one,
//     non-ASCII values and decoy digests;
//   - A.2, OpenID Connect for Identity Assurance: a recursive array
//     element (evidence, an object whose own members are disclosable)
//     inside an always-visible object;
//   - A.3, an SD-JWT VC (PID): recursive disclosures (address,
//     place_of_birth and age_equal_or_over hold _sd of their own), a
//     cnf key and an SD-JWT+KB;
//   - A.4, a W3C VCDM 2.0 credential with nested disclosable objects and
//     an SD-JWT+KB.
//
// Each listed disclosure hashes to the digest the RFC prints and decodes
// to its contents; the digests of the signed payload and of the
// disclosures are exactly the listed ones (and A.1's decoys); the
// issuer's signature verifies; the presentation's processed payload is
// the one the RFC prints; the issued SD-JWT of A.3 and A.4 verifies with
// every disclosure; a KB-JWT signs the presentation's sd_hash with the
// holder's key.
func TestRFC9901AppendixA(t *testing.T) {
	_, _, keys := vectors(t)
	issuer, holder := p256(t, keys.Issuer), p256(t, keys.Holder)
	for _, c := range []struct {
		name, id string
		issued   bool // the RFC prints the issued SD-JWT
		kb       bool // the presentation is an SD-JWT+KB
	}{
		{"A.1-simple-structured", "A.1", false, false},
		{"A.2-complex-structured", "A.2", false, false},
		{"A.3-sd-jwt-vc", "A.3", true, true},
		{"A.4-w3c-vcdm", "A.4", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var listed []listedDisclosure
			if err := json.Unmarshal(testdata(t, "rfc9901-"+c.id+"-disclosures.json"), &listed); err != nil {
				t.Fatal(err)
			}
			known := map[string]bool{}
			for _, l := range listed {
				checkListed(t, l)
				known[l.Disclosure] = true
			}
			var decoys []string
			if c.id == "A.1" {
				decoys = strings.Fields(string(testdata(t, "rfc9901-A.1-decoys.txt")))
			}

			pres := strings.TrimSpace(string(testdata(t, "rfc9901-"+c.id+"-presentation.txt")))
			p, err := sdjwt.Parse(pres)
			if err != nil {
				t.Fatal(err)
			}
			if (p.KB != "") != c.kb {
				t.Fatalf("kb-jwt %q", p.KB)
			}
			for _, d := range p.Disclosures {
				if !known[d.Encoded] {
					t.Errorf("presented disclosure %.20s… not listed", d.Encoded)
				}
			}
			signed, err := p.Payload()
			if err != nil {
				t.Fatal(err)
			}
			if want := jsonValue(t, testdata(t, "rfc9901-"+c.id+"-payload.json")); !reflect.DeepEqual(signed, want) {
				t.Fatalf("signed payload\n got %v\nwant %v", signed, want)
			}
			checkDigests(t, signed, listed, decoys)

			claims, err := p.Verify(issuer)
			if err != nil {
				t.Fatal(err)
			}
			if want := jsonValue(t, testdata(t, "rfc9901-"+c.id+"-processed.json")); !reflect.DeepEqual(claims, want) {
				t.Fatalf("processed payload\n got %v\nwant %v", claims, want)
			}
			if c.kb {
				checkKB(t, p, c.id, holder)
			}

			if !c.issued {
				return
			}
			iss, err := sdjwt.Parse(strings.TrimSpace(string(testdata(t, "rfc9901-"+c.id+"-issued.txt"))))
			if err != nil {
				t.Fatal(err)
			}
			if iss.IssuerJWT != p.IssuerJWT || iss.KB != "" || len(iss.Disclosures) != len(listed) {
				t.Fatalf("issued: another JWT, kb %q or %d disclosures", iss.KB, len(iss.Disclosures))
			}
			for _, d := range iss.Disclosures {
				if !known[d.Encoded] {
					t.Errorf("issued disclosure %.20s… not listed", d.Encoded)
				}
			}
			all, err := iss.Verify(issuer)
			if err != nil {
				t.Fatal(err)
			}
			var left []string
			collectDigests(all, &left)
			if _, ok := all["_sd_alg"]; ok || len(left) > 0 {
				t.Fatalf("_sd_alg or digests left in %v", all)
			}
		})
	}
}

// checkListed checks that a listed disclosure hashes to its digest and
// decodes to its contents.
func checkListed(t *testing.T, l listedDisclosure) {
	t.Helper()
	if got := sdjwt.Digest(l.Disclosure); got != l.Digest {
		t.Errorf("%s: digest %s, the RFC says %s", l.Claim, got, l.Digest)
	}
	d, err := sdjwt.ParseDisclosure(l.Disclosure)
	if err != nil {
		t.Fatalf("%s: %v", l.Claim, err)
	}
	var salt, name string
	if err := json.Unmarshal(l.Contents[0], &salt); err != nil {
		t.Fatal(err)
	}
	if len(l.Contents) == 3 {
		if err := json.Unmarshal(l.Contents[1], &name); err != nil {
			t.Fatal(err)
		}
	}
	value := jsonValue(t, l.Contents[len(l.Contents)-1])
	if d.Salt != salt || d.Name != name || d.IsArray != (len(l.Contents) == 2) || d.Name != l.Claim || !reflect.DeepEqual(d.Value, value) {
		t.Errorf("%s: decoded [%s %q %v], the RFC says %v", l.Claim, d.Salt, d.Name, d.Value, l.Contents)
	}
}

// checkDigests checks that the digests of the signed payload and of the
// disclosures' values (recursive disclosures) are the listed disclosures'
// and the decoys, each once.
func checkDigests(t *testing.T, signed map[string]any, listed []listedDisclosure, decoys []string) {
	t.Helper()
	var got []string
	collectDigests(signed, &got)
	want := slices.Clone(decoys)
	for _, l := range listed {
		want = append(want, l.Digest)
		d, _ := sdjwt.ParseDisclosure(l.Disclosure)
		collectDigests(d.Value, &got)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("digests\n got %v\nwant %v", got, want)
	}
}

func collectDigests(v any, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			switch k {
			case "_sd":
				for _, s := range e.([]any) {
					*out = append(*out, s.(string))
				}
			case "...":
				*out = append(*out, e.(string))
			default:
				collectDigests(e, out)
			}
		}
	case []any:
		for _, e := range v {
			collectDigests(e, out)
		}
	}
}

// checkKB checks the KB-JWT of an SD-JWT+KB: typ kb+jwt, the sd_hash of
// the presentation, the payload the RFC prints (A.3) and the holder's
// signature.
func checkKB(t *testing.T, p *sdjwt.SDJWT, id string, holder cose.PublicKey) {
	t.Helper()
	parts := strings.Split(p.KB, ".")
	if len(parts) != 3 {
		t.Fatal("kb-jwt")
	}
	hdr, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	body, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatal("kb-jwt encoding")
	}
	var h struct{ Typ, Alg string }
	var c struct {
		SDHash string `json:"sd_hash"`
		Nonce  string `json:"nonce"`
		Aud    string `json:"aud"`
	}
	if json.Unmarshal(hdr, &h) != nil || json.Unmarshal(body, &c) != nil {
		t.Fatal("kb-jwt json")
	}
	if h.Typ != "kb+jwt" || h.Alg != "ES256" || c.SDHash != p.SDHash() || c.Nonce != "1234567890" || c.Aud != "https://verifier.example.org" {
		t.Fatalf("kb-jwt %+v %+v, sd_hash %s", h, c, p.SDHash())
	}
	if id == "A.3" {
		if got, want := jsonValue(t, body), jsonValue(t, testdata(t, "rfc9901-A.3-kb-payload.json")); !reflect.DeepEqual(got, want) {
			t.Fatalf("kb-jwt payload\n got %v\nwant %v", got, want)
		}
	}
	if !holder.Verify([]byte(parts[0]+"."+parts[1]), sig) {
		t.Fatal("the KB-JWT does not verify with the holder's key")
	}
}

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jsonValue decodes JSON as sdjwt does: numbers as json.Number.
func jsonValue(t testing.TB, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

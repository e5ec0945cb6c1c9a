package oauth_test

import (
	"bytes"
	"net/url"
	"strings"
	"testing"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/oauth"
)

func fuzzKey(f *testing.F, alg cose.Alg) cose.Signer {
	f.Helper()
	s, _, err := cose.GenerateKey(alg)
	if err != nil {
		f.Fatal(err)
	}
	return s
}

// FuzzTokenRequest: the token request decoder never panics, refuses a
// body over its bound and a repeated parameter, and what it accepts names
// a grant type and at most one DPoP proof.
func FuzzTokenRequest(f *testing.F) {
	f.Add("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b.c&resource=did%3Abias%3Alocal%3Ax&scope=read+openid", "")
	f.Add("grant_type=x&grant_type=y", "p")
	f.Add("grant_type=%zz", "")
	f.Add("client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&grant_type=x&audience=y", "a.b.c")
	f.Fuzz(func(t *testing.T, body, dpop string) {
		var hdr []string
		if dpop != "" {
			hdr = strings.Split(dpop, "\n")
		}
		r, e := oauth.ParseTokenRequest([]byte(body), hdr)
		if e != nil {
			if e.Code == "" || e.Status != 400 {
				t.Fatalf("refusal %+v", e)
			}
			return
		}
		if len(body) > oauth.MaxRequestBytes || r.GrantType == "" || len(hdr) > 1 {
			t.Fatalf("accepted %q: %+v", body, r)
		}
		v, err := url.ParseQuery(body)
		if err != nil || len(v["grant_type"]) != 1 || len(v["assertion"]) > 1 || len(v["resource"]) > 1 {
			t.Fatalf("accepted %q", body)
		}
	})
}

// FuzzAssertion: the assertion decoder never panics, accepts nothing over
// its bound or without a key's DID URL as kid, and a mutation that still
// verifies with the signer's key is the signed assertion itself (one
// encoding per signature).
func FuzzAssertion(f *testing.F) {
	s := fuzzKey(f, cose.AlgEdDSA)
	kid := did.New("local", []byte("device")).WithFragment("k1")
	signed, err := authn.SignJWT(s, "JWT", kid.String(), oauth.AssertionClaims{Iss: kid.Base().String(), Sub: kid.Base().String(),
		Aud: oauth.Audience{"https://as.example/oauth/token"}, Iat: 1000, Exp: 1060, Jti: "j"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	f.Add([]byte("e30.e30.AA"))
	f.Add([]byte(`eyJhbGciOiJFZERTQSIsImtpZCI6ImRpZDpiaWFzOmxvY2FsOngjazEifQ.eyJhdWQiOlsiYSIsImIiXX0.AA`))
	f.Fuzz(func(t *testing.T, b []byte) {
		j, c, k, err := oauth.DecodeAssertion(b)
		if err != nil {
			return
		}
		// A DID always: the kid's key, or (no kid) the signer named by sub.
		if len(b) > oauth.MaxJWTBytes || k.IsZero() || c == nil || len(c.Aud) > 4 || (j.Header.Kid != "" && k.Fragment == "") || (j.Header.Kid == "" && k.String() != c.Sub) {
			t.Fatalf("accepted %q", b)
		}
		if j.Verify(s.Public()) && !bytes.Equal(b, signed) {
			t.Fatalf("another encoding verifies: %q", b)
		}
	})
}

// FuzzAccessToken: the access token decoder (introspection) never panics,
// accepts only typ at+jwt with a DID URL as kid, and one encoding per
// signature.
func FuzzAccessToken(f *testing.F) {
	s := fuzzKey(f, cose.AlgES256)
	kid := did.New("local", []byte("provider")).WithFragment("oauth-1")
	signed, err := authn.SignJWT(s, oauth.TypAccessToken, kid.String(), oauth.AccessClaims{Iss: "https://as.example", Sub: "did:bias:local:a",
		Aud: "did:bias:local:b", ClientID: "c", Scope: "read", Iat: 1000, Exp: 1300, Jti: "j", Cnf: &oauth.JKT{Jkt: "x"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	f.Add([]byte("a.b.c"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, k, j, err := oauth.DecodeAccessToken(b)
		if err != nil {
			return
		}
		if len(b) > oauth.MaxJWTBytes || k.Fragment == "" || c == nil || j.Header.Typ != oauth.TypAccessToken {
			t.Fatalf("accepted %q", b)
		}
		if j.Verify(s.Public()) && !bytes.Equal(b, signed) {
			t.Fatalf("another encoding verifies: %q", b)
		}
	})
}

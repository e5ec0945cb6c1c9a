package authn_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
)

// TestJWT: SignJWT and DecodeJWT round trip; the decoder holds a JWT to
// the protocol's strictness (unknown or repeated members, a bound, an
// alg of its own) and its signature to the key and alg that made it.
func TestJWT(t *testing.T) {
	s, _, err := cose.GenerateKey(cose.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := cose.GenerateKey(cose.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	type claims struct {
		Sub string `json:"sub"`
	}
	b, err := authn.SignJWT(s, "at+jwt", "did:bias:local:x#k", claims{Sub: "a"})
	if err != nil {
		t.Fatal(err)
	}
	var c claims
	j, err := authn.DecodeJWT(b, 4096, &c)
	if err != nil || c.Sub != "a" || j.Header.Typ != "at+jwt" || j.Header.Kid != "did:bias:local:x#k" || !j.Verify(s.Public()) || j.Verify(other.Public()) {
		t.Fatalf("round trip: %+v %+v %v", j, c, err)
	}
	enc := func(s string) string {
		return strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(b64std(s)), "=")
	}
	sig := strings.Split(string(b), ".")[2]
	for name, in := range map[string]string{
		"fail/oversized":       string(b) + strings.Repeat("A", 4096),
		"fail/two-parts":       "a.b",
		"fail/unknown-claim":   enc(`{"alg":"ES256"}`) + "." + enc(`{"sub":"a","x":1}`) + "." + sig,
		"fail/repeated-claim":  enc(`{"alg":"ES256"}`) + "." + enc(`{"sub":"a","sub":"b"}`) + "." + sig,
		"fail/unknown-header":  enc(`{"alg":"ES256","jku":"https://x"}`) + "." + enc(`{"sub":"a"}`) + "." + sig,
		"fail/alg-none":        enc(`{"alg":"none"}`) + "." + enc(`{"sub":"a"}`) + ".",
		"fail/alg-hs256":       enc(`{"alg":"HS256"}`) + "." + enc(`{"sub":"a"}`) + "." + sig,
		"fail/padded-base64":   enc(`{"alg":"ES256"}`) + "=." + enc(`{"sub":"a"}`) + "." + sig,
		"fail/claims-an-array": enc(`{"alg":"ES256"}`) + "." + enc(`["a"]`) + "." + sig,
	} {
		var c claims
		if _, err := authn.DecodeJWT([]byte(in), 4096, &c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestDPoPAtTokenEndpoint: a proof for a token request carries no ath
// and verifies without a token; a proof with one is refused there, and a
// proof without one is refused where a token is presented.
func TestDPoPAtTokenEndpoint(t *testing.T) {
	s, _, err := cose.GenerateKey(cose.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	const u = "https://as.example/oauth/token"
	now := int64(1_800_000_000)
	p, err := authn.SignDPoP(s, "POST", u, nil, now, []byte("jti-1"))
	if err != nil {
		t.Fatal(err)
	}
	c, key, err := authn.VerifyDPoP(p, "POST", u, nil, now)
	if err != nil || c.Ath != "" || !key.Equal(s.Public()) {
		t.Fatalf("token request proof: %+v %v", c, err)
	}
	if _, _, err := authn.VerifyDPoP(p, "POST", u, []byte("a token"), now); err == nil {
		t.Fatal("fail/no-ath-with-token: accepted")
	}
	withAth, err := authn.SignDPoP(s, "POST", u, []byte("a token"), now, []byte("jti-2"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := authn.VerifyDPoP(withAth, "POST", u, nil, now); err == nil {
		t.Fatal("fail/ath-without-token: accepted")
	}
}

func b64std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestDecodeForeignJWT: a JWT another implementation made may carry
// header members and claims bias does not read; never one twice, a case
// variant of a known one, or a crit header.
func TestDecodeForeignJWT(t *testing.T) {
	s, _, err := cose.GenerateKey(cose.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(header, claims string) []byte {
		in := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(claims))
		sig, err := s.SignMessage([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		return []byte(in + "." + base64.RawURLEncoding.EncodeToString(sig))
	}
	type claims struct {
		Iss string `json:"iss"`
		Exp int64  `json:"exp"`
	}
	for name, c := range map[string]struct {
		header, claims string
		ok             bool
	}{
		"other-members":      {`{"alg":"EdDSA","x5t":"a","cty":"b"}`, `{"iss":"i","exp":1,"scope":"x","nested":{"a":[1,{"b":2}]}}`, true},
		"fail/claim-twice":   {`{"alg":"EdDSA"}`, `{"iss":"i","iss":"j","exp":1}`, false},
		"fail/unknown-twice": {`{"alg":"EdDSA"}`, `{"iss":"i","x":1,"x":2}`, false},
		"fail/case-variant":  {`{"alg":"EdDSA"}`, `{"iss":"i","ISS":"j","exp":1}`, false},
		"fail/header-case":   {`{"alg":"EdDSA","ALG":"none"}`, `{"iss":"i"}`, false},
		"fail/crit":          {`{"alg":"EdDSA","crit":["exp"]}`, `{"iss":"i"}`, false},
		"fail/too-deep":      {`{"alg":"EdDSA"}`, `{"x":[[[[[[1]]]]]]}`, false},
		"fail/not-an-object": {`{"alg":"EdDSA"}`, `[1]`, false},
		"fail/trailing":      {`{"alg":"EdDSA"}`, `{"iss":"i"} {}`, false},
	} {
		var got claims
		j, err := authn.DecodeForeignJWT(mk(c.header, c.claims), 4096, &got)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if c.ok && (got.Iss != "i" || !j.Verify(s.Public())) {
			t.Errorf("%s: %+v", name, got)
		}
	}
	// The strict form still refuses what the foreign one ignores.
	var got claims
	if _, err := authn.DecodeJWT(mk(`{"alg":"EdDSA"}`, `{"iss":"i","scope":"x"}`), 4096, &got); err == nil {
		t.Error("DecodeJWT accepted an unknown claim")
	}
}

package authn_test

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
)

// TestJWKThumbprintRFC8037: the thumbprint of the Ed25519 key of RFC 8037
// appendix A.3.
func TestJWKThumbprintRFC8037(t *testing.T) {
	k, err := did.ParseJWK(&did.JWK{Kty: "OKP", Crv: "Ed25519", X: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := did.JWKThumbprint(k)
	if err != nil || got != "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k" {
		t.Fatalf("thumbprint %q %v", got, err)
	}
}

// TestDPoP: a proof made by SignDPoP is a DPoP proof to an independent
// JOSE library (go-jose: embedded jwk, signature, thumbprint), and
// VerifyDPoP refuses each way a proof can be wrong.
func TestDPoP(t *testing.T) {
	const now = 1_800_000_000
	token := []byte("a.session.token")
	htu := "https://print.example/v1/jobs"
	for _, alg := range []cose.Alg{cose.AlgEdDSA, cose.AlgES256} {
		s, _, err := cose.GenerateKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		proof, err := authn.SignDPoP(s, "POST", htu, token, now, []byte("jti-1"))
		if err != nil {
			t.Fatal(err)
		}
		// go-jose reads it.
		jws, err := jose.ParseSigned(string(proof), []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256})
		if err != nil {
			t.Fatalf("%s: go-jose: %v", alg, err)
		}
		hdr := jws.Signatures[0].Header
		if hdr.ExtraHeaders["typ"] != authn.TypDPoP || hdr.JSONWebKey == nil || !hdr.JSONWebKey.IsPublic() {
			t.Fatalf("%s: header %+v", alg, hdr)
		}
		if _, err := jws.Verify(hdr.JSONWebKey); err != nil {
			t.Fatalf("%s: go-jose does not verify it with its jwk: %v", alg, err)
		}
		tp, err := hdr.JSONWebKey.Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		mine, err := did.JWKThumbprint(s.Public())
		if err != nil || mine != base64.RawURLEncoding.EncodeToString(tp) {
			t.Fatalf("%s: thumbprint %q, go-jose's %x", alg, mine, tp)
		}
		c, key, err := authn.VerifyDPoP(proof, "POST", htu, token, now+5)
		if err != nil || !key.Equal(s.Public()) || c.Jti == "" {
			t.Fatalf("%s: %v", alg, err)
		}
		other, _, _ := cose.GenerateKey(alg)
		resign := func(header, claims map[string]any, signer cose.Signer) []byte {
			h, _ := json.Marshal(header)
			cl, _ := json.Marshal(claims)
			in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(cl)
			sig, err := signer.SignMessage([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			return []byte(in + "." + base64.RawURLEncoding.EncodeToString(sig))
		}
		jwk, _ := did.PublicJWK(s.Public())
		okHeader := map[string]any{"typ": authn.TypDPoP, "alg": alg.String(), "jwk": map[string]string{"kty": jwk.Kty, "crv": jwk.Crv, "x": jwk.X, "y": jwk.Y}}
		if jwk.Y == "" {
			delete(okHeader["jwk"].(map[string]string), "y")
		}
		okClaims := func() map[string]any {
			var m map[string]any
			parts := strings.Split(string(proof), ".")
			b, _ := base64.RawURLEncoding.DecodeString(parts[1])
			_ = json.Unmarshal(b, &m)
			return m
		}
		with := func(k string, v any) map[string]any { m := okClaims(); m[k] = v; return m }
		hdrWith := func(k string, v any) map[string]any {
			m := map[string]any{}
			for kk, vv := range okHeader {
				m[kk] = vv
			}
			m[k] = v
			return m
		}
		for name, c := range map[string]struct {
			proof       []byte
			method, url string
			at          int64
			tok         []byte
		}{
			"fail/other-method":  {proof, "GET", htu, now, token},
			"fail/other-url":     {proof, "POST", htu + "/x", now, token},
			"fail/other-token":   {proof, "POST", htu, now, []byte("another")},
			"fail/too-old":       {proof, "POST", htu, now + authn.DPoPWindow + 1, token},
			"fail/from-future":   {proof, "POST", htu, now - authn.DPoPWindow - 1, token},
			"fail/other-signer":  {resign(okHeader, okClaims(), other), "POST", htu, now, token},
			"fail/typ-jwt":       {resign(hdrWith("typ", "JWT"), okClaims(), s), "POST", htu, now, token},
			"fail/alg-none":      {resign(hdrWith("alg", "none"), okClaims(), s), "POST", htu, now, token},
			"fail/private-jwk":   {resign(hdrWith("jwk", map[string]string{"kty": jwk.Kty, "crv": jwk.Crv, "x": jwk.X, "d": "AAAA"}), okClaims(), s), "POST", htu, now, token},
			"fail/no-jwk":        {resign(map[string]any{"typ": authn.TypDPoP, "alg": alg.String()}, okClaims(), s), "POST", htu, now, token},
			"fail/no-jti":        {resign(okHeader, with("jti", ""), s), "POST", htu, now, token},
			"fail/unknown-claim": {resign(okHeader, with("nonce", "x"), s), "POST", htu, now, token},
		} {
			if _, _, err := authn.VerifyDPoP(c.proof, c.method, c.url, c.tok, c.at); err == nil {
				t.Errorf("%s %s: accepted", alg, name)
			}
		}
	}
}

package authn

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
)

// signRaw signs a JWS whose header and claims are given as JSON text, as
// an issuer that does not follow the protocol would.
func signRaw(t *testing.T, s cose.Signer, header, claims string) []byte {
	t.Helper()
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(claims))
	sig, err := s.SignMessage([]byte(input))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(input + "." + b64.EncodeToString(sig))
}

type tokenWorld struct {
	v        fakeView
	svc, dev party
	other    party // another service, the audience
}

func newTokenWorld(t *testing.T) tokenWorld {
	v := fakeView{}
	return tokenWorld{v: v, svc: newParty(t, v, "issuer", op.KindService, cose.AlgEdDSA),
		dev: newParty(t, v, "device", op.KindDevice, cose.AlgEdDSA), other: newParty(t, v, "audience", op.KindService, cose.AlgEdDSA)}
}

func (w tokenWorld) claims(iat, exp int64, sub string) string {
	b, _ := json.Marshal(TokenClaims{Iss: w.svc.id.String(), Sub: sub, Aud: []string{w.other.id.String()}, Iat: iat, Exp: exp, Jti: "j"})
	return string(b)
}

func (w tokenWorld) header() string {
	return `{"alg":"EdDSA","kid":"` + w.svc.kid.String() + `","typ":"JWT"}`
}

// TestVerifierEnforcesTokenLifetime (finding 10): the verifier, not only
// the issuer, bounds a token's life and requires its iat.
func TestVerifierEnforcesTokenLifetime(t *testing.T) {
	w := newTokenWorld(t)
	ctx := context.Background()
	for name, c := range map[string]struct {
		iat, exp int64
		want     Reason
	}{
		"ok/one-hour":          {now, now + MaxTokenSeconds, OK},
		"fail/ten-years":       {now, now + 10*365*86400, FailMalformed},
		"fail/no-iat-2^62":     {0, 1 << 62, FailMalformed},
		"fail/exp-before-iat":  {now, now - 1, FailMalformed},
		"fail/one-second-over": {now, now + MaxTokenSeconds + 1, FailMalformed},
		"fail/negative-iat":    {-5, now + 10, FailMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			tok := signRaw(t, w.svc.s, w.header(), w.claims(c.iat, c.exp, w.dev.id.String()))
			if _, d := VerifyToken(ctx, w.v, tok, w.other.id, now+1); d.Reason != c.want {
				t.Fatalf("got %+v, want %s", d, c.want)
			}
		})
	}
	// The CWT form is held to the same bounds.
	m := map[int]any{cwtIss: w.svc.id.String(), cwtSub: w.dev.id.String(), cwtAud: []string{w.other.id.String()}, cwtExp: int64(1) << 62}
	payload, err := op.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	cwt, err := cose.Sign1(w.svc.s, []byte(w.svc.kid.String()), payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, d := VerifyTokenCWT(ctx, w.v, cwt, w.other.id, now+1); d.Reason != FailMalformed {
		t.Fatalf("a CWT with no iat valid until 2^62: %+v", d)
	}
}

// TestStrictJWSHeaders (finding 13): a JWS whose header or claims repeat a
// member, or spell one in another case, is refused, even when signed.
func TestStrictJWSHeaders(t *testing.T) {
	w := newTokenWorld(t)
	ctx := context.Background()
	good := w.claims(now, now+60, w.dev.id.String())
	kid := w.svc.kid.String()
	for name, c := range map[string]struct {
		header, claims string
		want           Reason
	}{
		"ok/plain":              {w.header(), good, OK},
		"fail/duplicate-alg":    {`{"alg":"EdDSA","kid":"` + kid + `","typ":"JWT","alg":"ES256"}`, good, FailMalformed},
		"fail/duplicate-kid":    {`{"alg":"EdDSA","kid":"` + kid + `","kid":"` + kid + `","typ":"JWT"}`, good, FailMalformed},
		"fail/upper-case-alg":   {`{"ALG":"EdDSA","kid":"` + kid + `","typ":"JWT"}`, good, FailMalformed},
		"fail/upper-case-kid":   {`{"alg":"EdDSA","KID":"` + kid + `","typ":"JWT"}`, good, FailMalformed},
		"fail/duplicate-sub":    {w.header(), good[:len(good)-1] + `,"sub":"` + w.svc.id.String() + `"}`, FailMalformed},
		"fail/upper-case-claim": {w.header(), `{"ISS":"` + w.svc.id.String() + `"` + good[len(`{"iss":"`+w.svc.id.String()+`"`):], FailMalformed},
		"fail/nested-cnf-case":  {w.header(), good[:len(good)-1] + `,"cnf":{"KID":"x"}}`, FailMalformed},
		"fail/two-objects":      {w.header() + `{}`, good, FailMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			tok := signRaw(t, w.svc.s, c.header, c.claims)
			if _, d := VerifyToken(ctx, w.v, tok, w.other.id, now+1); d.Reason != c.want {
				t.Fatalf("got %+v, want %s", d, c.want)
			}
		})
	}
	// Challenges and proofs use the same decoder.
	ch := signRaw(t, w.other.s, `{"alg":"EdDSA","kid":"`+w.other.kid.String()+`","typ":"`+TypChallenge+`","typ":"`+TypChallenge+`"}`,
		`{"iss":"`+w.other.id.String()+`","net":"local","nonce":"`+b64.EncodeToString(nonce())+`","iat":1,"exp":2}`)
	if _, _, err := DecodeChallenge(ch); err == nil {
		t.Fatal("a challenge with typ twice decoded")
	}
}

// TestTokenSubjectIsADevice (finding 14): a session token names a device;
// one whose subject is a service is refused.
func TestTokenSubjectIsADevice(t *testing.T) {
	w := newTokenWorld(t)
	for name, c := range map[string]struct {
		sub  did.DID
		want Reason
	}{
		"ok/device":       {w.dev.id, OK},
		"fail/service":    {w.other.id, FailWrongKind},
		"fail/the-issuer": {w.svc.id, FailWrongKind},
	} {
		t.Run(name, func(t *testing.T) {
			tok := signRaw(t, w.svc.s, w.header(), w.claims(now, now+60, c.sub.String()))
			if _, d := VerifyToken(context.Background(), w.v, tok, w.other.id, now+1); d.Reason != c.want {
				t.Fatalf("got %+v, want %s", d, c.want)
			}
		})
	}
}

// TestIssuer: challenges are stateless until answered, bound to the
// issuer's key, unique, spent once, and refused once expired (findings 2
// and 5 at the protocol's level).
func TestIssuer(t *testing.T) {
	kid := did.New("local", []byte("svc")).WithFragment("k1")
	key := make([]byte, 32)
	iss := NewIssuer(kid, svcOrigin, key, NewMemorySpentSet(16))
	c, err := iss.New(now, 60)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := iss.New(now, 60)
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Nonce) == string(c2.Nonce) {
		t.Fatal("two challenges of one second share a nonce")
	}
	if got, d := iss.Check(c.Nonce, now+1); !d.OK || got.Expires != now+60 || got.IssuedAt != now || got.Kid != kid {
		t.Fatalf("check: %+v %+v", got, d)
	}
	other := NewIssuer(kid, svcOrigin, append([]byte{1}, key[1:]...), NewMemorySpentSet(16))
	elsewhere := NewIssuer(kid, "https://printer.example:8443", key, NewMemorySpentSet(16)) // one key, another origin
	tampered := append([]byte(nil), c.Nonce...)
	tampered[5] ^= 1 // the life: a longer validity
	for name, tc := range map[string]struct {
		iss   *Issuer
		nonce []byte
		at    int64
		want  Reason
	}{
		"fail/other-instance": {other, c.Nonce, now + 1, FailUnknownChallenge},
		"fail/other-origin":   {elsewhere, c.Nonce, now + 1, FailUnknownChallenge},
		"fail/tampered":       {iss, tampered, now + 1, FailUnknownChallenge},
		"fail/short":          {iss, c.Nonce[:8], now + 1, FailUnknownChallenge},
		"fail/expired":        {iss, c.Nonce, now + 60, FailExpiredChallenge},
	} {
		t.Run(name, func(t *testing.T) {
			if _, d := tc.iss.Spend(tc.nonce, tc.at); d.Reason != tc.want {
				t.Fatalf("got %+v, want %s", d, tc.want)
			}
		})
	}
	if _, d := iss.Spend(c.Nonce, now+1); !d.OK {
		t.Fatalf("first answer: %+v", d)
	}
	if _, d := iss.Spend(c.Nonce, now+2); d.Reason != FailReplayedNonce {
		t.Fatalf("second answer: %+v", d)
	}
	for _, ttl := range []int64{0, MaxValiditySeconds + 1} {
		if _, err := iss.New(now, ttl); err == nil {
			t.Fatalf("a challenge living %d s", ttl)
		}
	}
}

// TestSpentSetShares: a spent set forgets pairs as they expire, and one
// service filling its share of it leaves room for the others (a node's
// set serves every service that decides there).
func TestSpentSetShares(t *testing.T) {
	s := NewMemorySpentSet(16 * 1024) // a share of 1024 a service
	hog, other := did.New("local", []byte("hog")), did.New("local", []byte("other"))
	n := func(i int) []byte {
		return []byte{byte(i >> 16), byte(i >> 8), byte(i), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	}
	for i := range 1024 {
		if !s.Spend(hog, n(i), now+10, now) {
			t.Fatalf("pair %d refused within the share", i)
		}
	}
	if s.Spend(hog, n(5000), now+10, now) {
		t.Fatal("a pair beyond the service's share was taken")
	}
	if !s.Spend(other, n(1), now+10, now) {
		t.Fatal("another service is refused while one fills its share")
	}
	if s.Spend(hog, n(3), now+10, now+1) {
		t.Fatal("a pair spent twice")
	}
	// Once they expire, the service has its share again.
	if !s.Spend(hog, n(5000), now+20, now+10) {
		t.Fatal("expired pairs still take the share")
	}
	if !s.Spend(hog, n(3), now+20, now+10) {
		t.Fatal("an expired pair is not forgotten")
	}
}

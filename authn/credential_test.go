package authn

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdcwt"
	"github.com/bias-iot/bias/sdjwt"
)

// credView is a fakeView with the providers' published token keys and
// the credentials they revoked.
type credView struct {
	fakeView
	keys    map[string]op.Key // provider|kid
	revoked map[string]bool   // provider|jti
}

func (v credView) IssuerKey(_ context.Context, provider, kid string) (*op.Key, error) {
	k, ok := v.keys[provider+"|"+kid]
	if !ok {
		return nil, nil
	}
	return &k, nil
}

func (v credView) CredentialRevoked(_ context.Context, provider, id string) (bool, error) {
	return v.revoked[provider+"|"+id], nil
}

type credWorld struct {
	v         credView
	svc, dev  party
	other     party // another device of the same provider
	provider  did.DID
	issuerKey cose.Signer
	iss       *Issuer
}

func newCredWorld(t testing.TB) *credWorld {
	w := &credWorld{v: credView{fakeView: fakeView{}, keys: map[string]op.Key{}, revoked: map[string]bool{}}}
	w.provider = did.New("local", []byte("operator-a"))
	w.svc = newParty(t, w.v.fakeView, "mec", op.KindService, cose.AlgEdDSA)
	w.dev = newParty(t, w.v.fakeView, "car", op.KindDevice, cose.AlgES256)
	w.other = newParty(t, w.v.fakeView, "car-2", op.KindDevice, cose.AlgEdDSA)
	w.v.fakeView[w.dev.id].Provider = w.provider.String()
	w.v.fakeView[w.other.id].Provider = w.provider.String()
	var err error
	if w.issuerKey, _, err = cose.GenerateKey(cose.AlgES256); err != nil {
		t.Fatal(err)
	}
	w.v.keys[w.provider.String()+"|cred-1"] = op.KeyFrom("cred-1", w.issuerKey.Public())
	w.iss = NewIssuer(w.svc.kid, svcOrigin, nonce(), NewMemorySpentSet(100))
	if err := w.iss.Ask(ClaimRequest{Required: []string{"subscription"}}, ClaimRequest{Required: []string{"subscription"}, Optional: []string{"firmware", "area"}}); err != nil {
		t.Fatal(err)
	}
	return w
}

var carAttrs = map[string]string{"subscription": "gold", "firmware": "4.2.1", "owner": "Ada Lovelace"}

func (w *credWorld) credential(t testing.TB, s cose.Signer, provider, device did.DID, attrs map[string]string) *Credential {
	t.Helper()
	sd, _, err := IssueCredential(s, "cred-1", provider, device, attrs, now-10, 3600, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCredential(sd)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rawCredential is a credential signed by the provider's key with the
// claims IssueCredential would not make (over its defaults), presenting
// subscription.
func (w *credWorld) rawCredential(t *testing.T, over map[string]any) *Presentation {
	t.Helper()
	claims := map[string]any{"iss": w.provider.String(), "sub": w.dev.id.String(), "jti": b64.EncodeToString(make([]byte, 16)),
		"iat": now - 10, "exp": now + 60, "subscription": sdjwt.SD{Value: "gold"}}
	maps.Copy(claims, over)
	jwt, ds, err := sdjwt.Issue(w.issuerKey, "cred-1", TypCredential, claims, rand.Reader, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCredential(sdjwt.Present(jwt, ds))
	if err != nil {
		t.Fatal(err)
	}
	return c.Present([]string{"subscription"})
}

// prove answers a challenge of level with pres as the device.
func (w *credWorld) prove(t *testing.T, level int, pres *Presentation) (*Challenge, []byte) {
	t.Helper()
	c, err := w.iss.NewAt(now, 60, level)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := SignProof(w.dev.s, &Proof{Device: w.dev.id, Kid: w.dev.kid, Service: w.svc.id, Origin: svcOrigin, ServiceNonce: c.Nonce, DeviceNonce: nonce(), IssuedAt: now, Presentation: pres}, JWS)
	if err != nil {
		t.Fatal(err)
	}
	return c, pb
}

// The service asks subscription; the device discloses it and nothing
// more; a later challenge asks more and gets it (progressive disclosure).
func TestDisclosure(t *testing.T) {
	w := newCredWorld(t)
	cred := w.credential(t, w.issuerKey, w.provider, w.dev.id, carAttrs)
	for level, want := range []map[string]string{
		{"subscription": "gold"},
		{"subscription": "gold", "firmware": "4.2.1"},
	} {
		c, err := w.iss.NewAt(now, 60, level)
		if err != nil {
			t.Fatal(err)
		}
		pres := cred.Present(c.Claims.Names())
		if len(pres.Disclosures) != len(want) {
			t.Fatalf("level %d: %d disclosures presented", level, len(pres.Disclosures))
		}
		_, pb := w.prove(t, level, pres)
		if strings.Contains(string(pb), "owner") || strings.Count(string(pb), "~") != len(want)+1 {
			t.Fatal("the proof carries more than was asked")
		}
		d := VerifyProof(context.Background(), w.v, w.iss, w.svc.id, svcOrigin, pb, now+1)
		if !d.OK || len(d.Disclosed) != len(want) {
			t.Fatalf("level %d: %+v", level, d)
		}
		for k, v := range want {
			if d.Disclosed[k] != v {
				t.Fatalf("level %d: disclosed %v", level, d.Disclosed)
			}
		}
	}
	// A proof without a credential to a challenge that asks nothing is
	// decided as before.
	plain := NewIssuer(w.svc.kid, svcOrigin, nonce(), NewMemorySpentSet(100))
	c, _ := plain.New(now, 60)
	pb, _ := SignProof(w.dev.s, &Proof{Device: w.dev.id, Kid: w.dev.kid, Service: w.svc.id, Origin: svcOrigin, ServiceNonce: c.Nonce, DeviceNonce: nonce(), IssuedAt: now}, JWS)
	if d := VerifyProof(context.Background(), w.v, plain, w.svc.id, svcOrigin, pb, now+1); !d.OK || d.Disclosed != nil {
		t.Fatalf("plain proof: %+v", d)
	}
}

// A named refusal for each bad presentation.
func TestDisclosureRefusals(t *testing.T) {
	w := newCredWorld(t)
	cred := w.credential(t, w.issuerKey, w.provider, w.dev.id, carAttrs)
	sub := cred.Present([]string{"subscription"})
	foreign := w.credential(t, w.issuerKey, w.provider, w.dev.id, map[string]string{"subscription": "gold"})
	otherProvider := did.New("local", []byte("operator-b"))
	w.v.keys[otherProvider.String()+"|cred-1"] = op.KeyFrom("cred-1", w.issuerKey.Public())
	forger, _, _ := cose.GenerateKey(cose.AlgES256)
	revoked := w.credential(t, w.issuerKey, w.provider, w.dev.id, carAttrs)
	tampered := *sub.Disclosures[0]
	tampered.Encoded = b64.EncodeToString([]byte(`["` + tampered.Salt + `", "subscription", "platinum"]`))
	ctx := context.Background()
	verify := func(pb []byte) Decision { return VerifyProof(ctx, w.v, w.iss, w.svc.id, svcOrigin, pb, now+1) }
	// The hand-made credential below stands as it is made (the refusals
	// of its variants are for what they change).
	if d := verify(second(w.prove(t, 0, w.rawCredential(t, nil)))); !d.OK {
		t.Fatalf("the hand-made credential: %+v", d)
	}
	cases := []struct {
		name  string
		proof func() []byte
		want  Reason
	}{
		{"fail/credential-missing", func() []byte { _, pb := w.prove(t, 0, nil); return pb }, FailCredentialMissing},
		{"fail/claim-missing", func() []byte {
			return second(w.prove(t, 0, w.credential(t, w.issuerKey, w.provider, w.dev.id, map[string]string{"firmware": "1"}).Present([]string{"subscription"})))
		}, FailClaimMissing},
		{"fail/tampered-disclosure", func() []byte {
			return second(w.prove(t, 0, &Presentation{JWT: cred.JWT, Disclosures: []*sdjwt.Disclosure{&tampered}}))
		}, FailBadDisclosure},
		{"fail/tampered-after-signing", func() []byte {
			_, pb := w.prove(t, 0, sub)
			return []byte(strings.Replace(string(pb), sub.Disclosures[0].Encoded, tampered.Encoded, 1))
		}, FailBadDisclosure},
		{"fail/disclosure-dropped-after-signing", func() []byte {
			_, pb := w.prove(t, 0, sub)
			return []byte(strings.Replace(string(pb), sub.Disclosures[0].Encoded+"~", "", 1))
		}, FailBadDisclosure},
		{"fail/duplicate-disclosure", func() []byte {
			return second(w.prove(t, 0, &Presentation{JWT: cred.JWT, Disclosures: []*sdjwt.Disclosure{sub.Disclosures[0], sub.Disclosures[0]}}))
		}, FailDuplicateDisclosure},
		{"fail/foreign-disclosure", func() []byte {
			return second(w.prove(t, 0, &Presentation{JWT: cred.JWT, Disclosures: foreign.Present([]string{"subscription"}).Disclosures}))
		}, FailBadDisclosure},
		{"fail/wrong-issuer", func() []byte {
			return second(w.prove(t, 0, w.credential(t, w.issuerKey, otherProvider, w.dev.id, carAttrs).Present([]string{"subscription"})))
		}, FailWrongIssuer},
		{"fail/forged-issuer-signature", func() []byte {
			return second(w.prove(t, 0, w.credential(t, forger, w.provider, w.dev.id, carAttrs).Present([]string{"subscription"})))
		}, FailBadCredential},
		{"fail/wrong-subject", func() []byte {
			return second(w.prove(t, 0, w.credential(t, w.issuerKey, w.provider, w.other.id, carAttrs).Present([]string{"subscription"})))
		}, FailWrongSubject},
		{"fail/revoked", func() []byte {
			p := revoked.Present([]string{"subscription"})
			sd, _ := sdjwt.Parse(sdjwt.Present(p.JWT, nil))
			pl, _ := sd.Payload()
			w.v.revoked[w.provider.String()+"|"+pl["jti"].(string)] = true
			return second(w.prove(t, 0, p))
		}, FailCredentialRevoked},
		{"fail/credential-id-not-revocable", func() []byte {
			return second(w.prove(t, 0, w.rawCredential(t, map[string]any{"jti": "x", "iat": now - 10, "exp": now + 60})))
		}, FailBadCredential},
		{"fail/credential-lives-a-century", func() []byte {
			return second(w.prove(t, 0, w.rawCredential(t, map[string]any{"iat": now - 10, "exp": now + 100*365*86400})))
		}, FailBadCredential},
		{"fail/credential-issued-in-the-future", func() []byte {
			return second(w.prove(t, 0, w.rawCredential(t, map[string]any{"iat": now + 3600, "exp": now + 7200})))
		}, FailBadCredential},
		{"fail/oversized", func() []byte {
			return []byte(cred.JWT + "~" + strings.Repeat("A", MaxPresentation) + "~")
		}, FailOversizedCredential},
		{"fail/other-nonce", func() []byte {
			pb, err := SignProof(w.dev.s, &Proof{Device: w.dev.id, Kid: w.dev.kid, Service: w.svc.id, Origin: svcOrigin, ServiceNonce: nonce(), DeviceNonce: nonce(), IssuedAt: now, Presentation: sub}, JWS)
			if err != nil {
				t.Fatal(err)
			}
			return pb
		}, FailUnknownChallenge},
		{"fail/replayed", func() []byte {
			_, pb := w.prove(t, 0, sub)
			if d := verify(pb); !d.OK {
				t.Fatalf("first: %+v", d)
			}
			return pb
		}, FailReplayedNonce},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if d := verify(c.proof()); d.OK || d.Reason != c.want {
				t.Fatalf("got %s (%s), want %s", d.Reason, d.Detail, c.want)
			}
		})
	}
	// Replayed to another service: the KB-JWT's aud is the first.
	t.Run("fail/other-service", func(t *testing.T) {
		other := newParty(t, w.v.fakeView, "other-mec", op.KindService, cose.AlgEdDSA)
		_, pb := w.prove(t, 0, sub)
		oiss := NewIssuer(other.kid, svcOrigin, nonce(), NewMemorySpentSet(100))
		if d := VerifyProof(ctx, w.v, oiss, other.id, svcOrigin, pb, now+1); d.OK || d.Reason != FailWrongService {
			t.Fatalf("got %+v", d)
		}
	})
	// A view that cannot read issuers cannot decide a credential.
	t.Run("fail/unavailable", func(t *testing.T) {
		_, pb := w.prove(t, 0, sub)
		if d := VerifyProof(ctx, w.v.fakeView, w.iss, w.svc.id, svcOrigin, pb, now+1); d.OK || d.Reason != FailUnavailable {
			t.Fatalf("got %+v", d)
		}
	})
}

func second[A, B any](_ A, b B) B { return b }

// A node deciding the pair reads the claims from the signed challenge.
func TestDisclosurePair(t *testing.T) {
	w := newCredWorld(t)
	cred := w.credential(t, w.issuerKey, w.provider, w.dev.id, carAttrs)
	c, pb := w.prove(t, 1, cred.Present([]string{"subscription", "firmware"}))
	cb, err := SignChallenge(w.svc.s, c, JWS)
	if err != nil {
		t.Fatal(err)
	}
	d := VerifyPair(context.Background(), w.v, NewMemorySpentSet(10), cb, pb, now+1)
	if !d.OK || d.Disclosed["subscription"] != "gold" || d.Disclosed["firmware"] != "4.2.1" || len(d.Disclosed) != 2 {
		t.Fatalf("%+v", d)
	}
}

func (w *credWorld) credentialCWT(t testing.TB, attrs map[string]string) *Credential {
	t.Helper()
	tok, _, err := IssueCredentialCWT(w.issuerKey, "cred-1", w.provider, w.dev.id, attrs, now-10, 3600, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCredentialCWT(tok)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (w *credWorld) proveCOSE(t testing.TB, level int, pres *Presentation) []byte {
	t.Helper()
	c, err := w.iss.NewAt(now, 60, level)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := SignProof(w.dev.s, &Proof{Device: w.dev.id, Kid: w.dev.kid, Service: w.svc.id, Origin: svcOrigin, ServiceNonce: c.Nonce, DeviceNonce: nonce(), IssuedAt: now, Presentation: pres}, COSE)
	if err != nil {
		t.Fatal(err)
	}
	return pb
}

// A COSE device presents an SD-CWT in its proof (the SD-KBT): the
// service sees the claims asked and nothing more; the refusals hold as
// for JWS; the sizes of a presentation with one and with three
// disclosures are logged.
func TestDisclosureCOSE(t *testing.T) {
	w := newCredWorld(t)
	attrs := map[string]string{"subscription": "gold", "firmware": "4.2.1", "area": "A7", "owner": "Ada Lovelace"}
	cred := w.credentialCWT(t, attrs)
	ctx := context.Background()
	one := cred.Present([]string{"subscription"})
	pb := w.proveCOSE(t, 0, one)
	if bytes.Contains(pb, []byte("Ada Lovelace")) || bytes.Contains(pb, []byte("4.2.1")) {
		t.Fatal("the proof carries what was not asked")
	}
	d := VerifyProof(ctx, w.v, w.iss, w.svc.id, svcOrigin, pb, now+1)
	if !d.OK || d.Encoding != COSE || len(d.Disclosed) != 1 || d.Disclosed["subscription"] != "gold" {
		t.Fatalf("%+v", d)
	}
	three := w.proveCOSE(t, 1, cred.Present([]string{"subscription", "firmware", "area"}))
	d = VerifyProof(ctx, w.v, w.iss, w.svc.id, svcOrigin, three, now+1)
	if !d.OK || len(d.Disclosed) != 3 || d.Disclosed["area"] != "A7" {
		t.Fatalf("three: %+v", d)
	}
	t.Logf("COSE presentation: %d bytes with one disclosure, %d with three (credential of %d attributes, 2 decoys)", len(pb), len(three), len(attrs))
	if len(pb) >= len(three) || len(three) > MaxPresentation {
		t.Fatalf("sizes %d, %d", len(pb), len(three))
	}
	other := w.credentialCWT(t, map[string]string{"subscription": "gold"})
	dup, _ := sdcwt.Present(cred.CWT, []*sdcwt.Disclosure{one0(t, cred), one0(t, cred)})
	foreign, _ := sdcwt.Present(cred.CWT, other.CWTDisclosures)
	for name, c := range map[string]struct {
		pres *Presentation
		want Reason
	}{
		"fail/duplicate-disclosure": {&Presentation{CWT: dup}, FailDuplicateDisclosure},
		"fail/foreign-disclosure":   {&Presentation{CWT: foreign}, FailBadDisclosure},
	} {
		t.Run(name, func(t *testing.T) {
			if d := VerifyProof(ctx, w.v, w.iss, w.svc.id, svcOrigin, w.proveCOSE(t, 0, c.pres), now+1); d.OK || d.Reason != c.want {
				t.Fatalf("got %s (%s), want %s", d.Reason, d.Detail, c.want)
			}
		})
	}
	t.Run("fail/other-origin", func(t *testing.T) {
		if d := VerifyProof(ctx, w.v, w.iss, w.svc.id, "https://other.example", w.proveCOSE(t, 0, one), now+1); d.OK || d.Reason != FailBadSignature {
			t.Fatalf("got %+v", d)
		}
	})
}

func one0(t *testing.T, c *Credential) *sdcwt.Disclosure {
	for _, d := range c.CWTDisclosures {
		if d.Key == "subscription" {
			return d
		}
	}
	t.Fatal("no subscription")
	return nil
}

// BenchmarkVerify measures, in one run, the verification of a plain COSE
// proof and of COSE and JWS proofs that present a credential with one
// disclosure: the ratio is the cost of selective disclosure.
func BenchmarkVerify(b *testing.B) {
	w := newCredWorld(b)
	cwtCred := w.credentialCWT(b, carAttrs)
	jwtSD, _, _ := IssueCredential(w.issuerKey, "cred-1", w.provider, w.dev.id, carAttrs, now-10, 3600, rand.Reader)
	jwtCred, _ := ParseCredential(jwtSD)
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		level int
		proof func(*Challenge) []byte
	}{
		{"plain-cose", -1, nil},
		{"sd-cwt-1", 0, nil},
		{"sd-cwt-3", 0, nil},
		{"sd-jwt-1", 0, nil},
	} {
		b.Run(c.name, func(b *testing.B) {
			iss := NewIssuer(w.svc.kid, svcOrigin, nonce(), NewMemorySpentSet(1<<22))
			if c.level >= 0 {
				if err := iss.Ask(ClaimRequest{Required: []string{"subscription"}}); err != nil {
					b.Fatal(err)
				}
			}
			proofs := make([][]byte, b.N)
			for i := range proofs {
				ch, _ := iss.NewAt(now, 60, max(c.level, 0))
				p := &Proof{Device: w.dev.id, Kid: w.dev.kid, Service: w.svc.id, Origin: svcOrigin, ServiceNonce: ch.Nonce, DeviceNonce: nonce(), IssuedAt: now}
				enc := COSE
				switch c.name {
				case "sd-cwt-1":
					p.Presentation = cwtCred.Present([]string{"subscription"})
				case "sd-cwt-3":
					p.Presentation = cwtCred.Present([]string{"subscription", "firmware", "owner"})
				case "sd-jwt-1":
					p.Presentation, enc = jwtCred.Present([]string{"subscription"}), JWS
				}
				proofs[i], _ = SignProof(w.dev.s, p, enc)
			}
			b.ResetTimer()
			for i := range b.N {
				if d := VerifyProof(ctx, w.v, iss, w.svc.id, svcOrigin, proofs[i], now+1); !d.OK {
					b.Fatal(d)
				}
			}
			b.ReportMetric(float64(len(proofs[0])), "proof-bytes")
		})
	}
}

// FuzzDecodePresentation holds the proof decoder to its rules on proofs
// that carry a credential (SD-JWT+KB, SD-KBT): no panic, every refusal
// malformed, and a decoded presentation is the one its proof names.
func FuzzDecodePresentation(f *testing.F) {
	w := newCredWorld(f)
	jwt := w.credential(f, w.issuerKey, w.provider, w.dev.id, carAttrs).Present([]string{"subscription"})
	cwt := w.credentialCWT(f, carAttrs).Present([]string{"subscription", "firmware"})
	for _, c := range []struct {
		p   *Presentation
		enc Encoding
	}{{jwt, JWS}, {cwt, COSE}} {
		pb, err := SignProof(w.dev.s, &Proof{Device: w.dev.id, Kid: w.dev.kid, Service: w.svc.id, Origin: svcOrigin, ServiceNonce: nonce(), DeviceNonce: nonce(), IssuedAt: now, Presentation: c.p}, c.enc)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(pb)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, _, err := DecodeProof(b, svcOrigin)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unnamed refusal: %v", err)
			}
			return
		}
		if p.Presentation != nil && p.Presentation.parsed == nil && p.Presentation.cwt == nil {
			t.Fatal("a presentation decoded without its credential")
		}
		if len(b) > MaxPresentation {
			t.Fatalf("accepted %d bytes", len(b))
		}
	})
}

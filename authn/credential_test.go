package authn

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
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

func newCredWorld(t *testing.T) *credWorld {
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

func (w *credWorld) credential(t *testing.T, s cose.Signer, provider, device did.DID, attrs map[string]string) *Credential {
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

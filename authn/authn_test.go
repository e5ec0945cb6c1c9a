package authn

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// fakeView is an in-memory ledger view for the unit tests of this pure
// package (the end-to-end tests use a real node).
type fakeView map[did.DID]*Entity

func (f fakeView) Entity(_ context.Context, id did.DID) (*Entity, error) { return f[id.Base()], nil }

// Contract: every access contract exists, and its owner admits the
// services of every provider in the view (withContracts narrows that).
func (f fakeView) Contract(_ context.Context, ref string) (*record.Contract, error) {
	prov, name, ok := record.SplitRef(ref)
	if !ok {
		return nil, nil
	}
	c := &record.Contract{Provider: prov, Name: name, Kind: op.ContractAccess, Version: 1}
	for _, e := range f {
		if !slices.Contains(c.Binders, e.Provider) {
			c.Binders = append(c.Binders, e.Provider)
		}
	}
	return c, nil
}

// withContracts is a fakeView whose contracts are the ones listed.
type withContracts struct {
	fakeView
	contracts map[string]*record.Contract
}

func (w withContracts) Contract(_ context.Context, ref string) (*record.Contract, error) {
	return w.contracts[ref], nil
}

type party struct {
	id  did.DID
	kid did.DID
	s   cose.Signer
}

func newParty(t testing.TB, v fakeView, name, kind string, alg cose.Alg) party {
	s, _, err := cose.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	id := did.New("local", []byte(name))
	v[id] = &Entity{DID: id.String(), Kind: kind, Status: op.StatusValidated, Keys: []op.Key{op.KeyFrom("k1", s.Public())}}
	return party{id: id, kid: id.WithFragment("k1"), s: s}
}

func nonce() []byte {
	b := make([]byte, NonceLen)
	rand.Read(b)
	return b
}

const now = int64(1_800_000_000)

// svcOrigin is the origin of the service of these tests.
const svcOrigin = "https://printer.example"

func TestMutualAuthentication(t *testing.T) {
	for _, enc := range []Encoding{COSE, JWS} {
		for _, alg := range []cose.Alg{cose.AlgEdDSA, cose.AlgES256} {
			t.Run(string(enc)+"/"+alg.String(), func(t *testing.T) {
				v := fakeView{}
				svc := newParty(t, v, "printer", op.KindService, alg)
				dev := newParty(t, v, "camera", op.KindDevice, alg)
				store := NewIssuer(svc.kid, svcOrigin, nonce(), NewMemorySpentSet(100))

				// 1. The service issues a challenge.
				c, err := store.New(now, 60)
				if err != nil {
					t.Fatal(err)
				}
				cb, err := SignChallenge(svc.s, c, enc)
				if err != nil {
					t.Fatal(err)
				}
				// 2. The device checks it and answers.
				got, d := VerifyChallenge(context.Background(), v, svcOrigin, cb, now+1)
				if !d.OK || got.Service != svc.id {
					t.Fatalf("device rejects the challenge: %+v", d)
				}
				pb, err := SignProof(dev.s, &Proof{Device: dev.id, Kid: dev.kid, Service: got.Service, Origin: got.Origin, ServiceNonce: got.Nonce, DeviceNonce: nonce(), IssuedAt: now + 1}, enc)
				if err != nil {
					t.Fatal(err)
				}
				if enc == COSE && len(pb) >= 200 {
					t.Fatalf("COSE proof is %d bytes, want < 200", len(pb))
				}
				t.Logf("%s %s: challenge %d bytes, proof %d bytes", enc, alg, len(cb), len(pb))
				// 3. The service decides.
				d = VerifyProof(context.Background(), v, store, svc.id, svcOrigin, pb, now+2)
				if !d.OK || d.Device != dev.id.String() || d.Encoding != enc {
					t.Fatalf("service rejects the proof: %+v", d)
				}
			})
		}
	}
}

func TestRejections(t *testing.T) {
	for _, enc := range []Encoding{COSE, JWS} {
		t.Run(string(enc), func(t *testing.T) { rejections(t, enc) })
	}
}

func rejections(t *testing.T, enc Encoding) {
	ctx := context.Background()
	type setup struct {
		v     fakeView
		svc   party
		dev   party
		store *Issuer
		c     *Challenge
	}
	fresh := func() *setup {
		v := fakeView{}
		s := &setup{v: v, svc: newParty(t, v, "svc", op.KindService, cose.AlgEdDSA), dev: newParty(t, v, "dev", op.KindDevice, cose.AlgES256)}
		s.store = NewIssuer(s.svc.kid, svcOrigin, nonce(), NewMemorySpentSet(10))
		var err error
		if s.c, err = s.store.New(now, 60); err != nil {
			t.Fatal(err)
		}
		return s
	}
	proofFor := func(signer cose.Signer, kid did.DID, service did.DID, origin string, sn []byte) []byte {
		b, err := SignProof(signer, &Proof{Device: kid.Base(), Kid: kid, Service: service, Origin: origin, ServiceNonce: sn, DeviceNonce: nonce(), IssuedAt: now}, enc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	proof := func(signer cose.Signer, kid did.DID, service did.DID, sn []byte) []byte {
		return proofFor(signer, kid, service, svcOrigin, sn)
	}
	good := func(s *setup) []byte { return proof(s.dev.s, s.dev.kid, s.svc.id, s.c.Nonce) }
	// A proof made for another origin: in JWS it says so; in COSE it does
	// not carry its origin, and its signature does not verify for ours.
	otherOrigin := FailWrongOrigin
	if enc == COSE {
		otherOrigin = FailBadSignature
	}
	cases := []struct {
		name string
		run  func(s *setup) Decision
		want Reason
	}{
		{"fail/malformed", func(s *setup) Decision {
			return VerifyProof(ctx, s.v, s.store, s.svc.id, svcOrigin, []byte("junk"), now)
		}, FailMalformed},
		{"fail/unknown-did", func(s *setup) Decision {
			delete(s.v, s.dev.id)
			return VerifyProof(ctx, s.v, s.store, s.svc.id, svcOrigin, good(s), now)
		}, FailUnknownDID},
		{"fail/unknown-key-rotated-away", func(s *setup) Decision {
			k2, _, _ := cose.GenerateKey(cose.AlgEdDSA)
			s.v[s.dev.id].Keys = []op.Key{op.KeyFrom("k2", k2.Public())}
			return VerifyProof(ctx, s.v, s.store, s.svc.id, svcOrigin, good(s), now)
		}, FailUnknownKey},
		{"fail/bad-signature-wrong-key", func(s *setup) Decision {
			other, _, _ := cose.GenerateKey(cose.AlgES256)
			return VerifyProof(ctx, s.v, s.store, s.svc.id, svcOrigin, proof(other, s.dev.kid, s.svc.id, s.c.Nonce), now)
		}, FailBadSignature},
		{"fail/bad-signature-tampered", func(s *setup) Decision {
			return VerifyProof(ctx, s.v, s.store, s.svc.id, svcOrigin, tamper(good(s)), now)
		}, FailBadSignature},
		{"fail/revoked", func(s *setup) Decision {
			s.v[s.dev.id].Status = op.StatusRevoked
			return VerifyProof(ctx, s.v, s.store, s.svc.id, svcOrigin, good(s), now)
		}, FailRevoked},
		{"fail/not-validated", func(s *setup) Decision {
			s.v[s.dev.id].Status = op.StatusPending
			return VerifyProof(ctx, s.v, s.store, s.svc.id, svcOrigin, good(s), now)
		}, FailNotValidated},
		{"fail/wrong-service", func(s *setup) Decision {
			other := did.New("local", []byte("another service"))
			return VerifyProof(ctx, s.v, s.store, s.svc.id, svcOrigin, proof(s.dev.s, s.dev.kid, other, s.c.Nonce), now)
		}, FailWrongService},
		{"fail/expired-challenge", func(s *setup) Decision {
			return VerifyProof(ctx, s.v, s.store, s.svc.id, svcOrigin, good(s), s.c.Expires)
		}, FailExpiredChallenge},
		{"fail/replayed-nonce", func(s *setup) Decision {
			b := good(s)
			if d := VerifyProof(ctx, s.v, s.store, s.svc.id, svcOrigin, b, now); !d.OK {
				t.Fatalf("first use: %+v", d)
			}
			return VerifyProof(ctx, s.v, s.store, s.svc.id, svcOrigin, b, now)
		}, FailReplayedNonce},
		{"fail/unknown-challenge", func(s *setup) Decision {
			return VerifyProof(ctx, s.v, s.store, s.svc.id, svcOrigin, proof(s.dev.s, s.dev.kid, s.svc.id, nonce()), now)
		}, FailUnknownChallenge},
		{"fail/wrong-kind", func(s *setup) Decision {
			// The service's own key cannot stand in for a device.
			return VerifyProof(ctx, s.v, s.store, s.svc.id, svcOrigin, proof(s.svc.s, s.svc.kid, s.svc.id, s.c.Nonce), now)
		}, FailWrongKind},
		{"fail/challenge-revoked-service", func(s *setup) Decision {
			s.v[s.svc.id].Status = op.StatusRevoked
			cb, _ := SignChallenge(s.svc.s, s.c, enc)
			_, d := VerifyChallenge(ctx, s.v, svcOrigin, cb, now)
			return d
		}, FailRevoked},
		{"fail/challenge-expired", func(s *setup) Decision {
			cb, _ := SignChallenge(s.svc.s, s.c, enc)
			_, d := VerifyChallenge(ctx, s.v, svcOrigin, cb, s.c.Expires+1)
			return d
		}, FailExpiredChallenge},
		{"fail/wrong-origin-challenge-relayed", func(s *setup) Decision {
			// The device talks to another host, which hands it our challenge.
			cb, _ := SignChallenge(s.svc.s, s.c, enc)
			_, d := VerifyChallenge(ctx, s.v, "https://relay.example", cb, now)
			return d
		}, FailWrongOrigin},
		{"fail/wrong-origin-device-not-an-origin", func(s *setup) Decision {
			cb, _ := SignChallenge(s.svc.s, s.c, enc)
			_, d := VerifyChallenge(ctx, s.v, "https://printer.example/path", cb, now)
			return d
		}, FailWrongOrigin},
		{"fail/challenge-without-origin", func(s *setup) Decision {
			// A challenge in the form before origins: no downgrade.
			_, d := VerifyChallenge(ctx, s.v, svcOrigin, challengeWithoutOrigin(t, s.svc, s.c, enc), now)
			return d
		}, FailMalformed},
		{"fail/proof-for-another-origin", func(s *setup) Decision {
			return VerifyProof(ctx, s.v, s.store, s.svc.id, svcOrigin, proofFor(s.dev.s, s.dev.kid, s.svc.id, "https://relay.example", s.c.Nonce), now)
		}, otherOrigin},
		{"fail/wrong-origin-verifier-elsewhere", func(s *setup) Decision {
			// A proof of our challenge, checked by a verifier of another origin.
			return VerifyProof(ctx, s.v, s.store, s.svc.id, "https://other.example", good(s), now)
		}, otherOrigin},
		{"fail/issued-challenge-of-another-origin", func(s *setup) Decision {
			// A store that hands back a challenge of another origin (one
			// shared by two services): the verifier's own origin decides.
			return VerifyProof(ctx, s.v, elsewhereIssued{s.store}, s.svc.id, svcOrigin, good(s), now)
		}, FailWrongOrigin},
		{"fail/pair-proof-for-another-origin", func(s *setup) Decision {
			// At a node: the proof must be made for the challenge's origin.
			ch, err := SignChallenge(s.svc.s, s.c, enc)
			if err != nil {
				t.Fatal(err)
			}
			return VerifyPair(ctx, s.v, NewMemorySpentSet(10), ch, proofFor(s.dev.s, s.dev.kid, s.svc.id, "https://relay.example", s.c.Nonce), now)
		}, otherOrigin},
		{"fail/unknown-challenge-of-another-origin", func(s *setup) Decision {
			// The service at another origin, with the same key, never issued
			// it: the nonce's MAC covers the origin.
			other := NewIssuer(s.svc.kid, "coaps://printer.example", s.store.key, NewMemorySpentSet(10))
			return VerifyProof(ctx, s.v, other, s.svc.id, other.Origin(), proofFor(s.dev.s, s.dev.kid, s.svc.id, other.Origin(), s.c.Nonce), now)
		}, FailUnknownChallenge},
		{"fail/challenge-as-proof", func(s *setup) Decision {
			// A challenge's signature does not verify as a proof.
			cb, _ := SignChallenge(s.svc.s, s.c, enc)
			return VerifyProof(ctx, s.v, s.store, s.svc.id, svcOrigin, cb, now)
		}, FailMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := c.run(fresh())
			if d.OK || d.Reason != c.want {
				t.Fatalf("got %+v, want %s", d, c.want)
			}
		})
	}
}

func FuzzDecodeProof(f *testing.F) {
	v := fakeView{}
	dev := newParty(&testing.T{}, v, "dev", op.KindDevice, cose.AlgEdDSA)
	for _, enc := range []Encoding{COSE, JWS} {
		b, _ := SignProof(dev.s, &Proof{Device: dev.id, Kid: dev.kid, Service: did.New("local", nil), Origin: svcOrigin, ServiceNonce: make([]byte, 16), DeviceNonce: make([]byte, 16), IssuedAt: now}, enc)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, s, err := DecodeProof(b, svcOrigin)
		if err != nil {
			return
		}
		if p.Kid.Base() != p.Device || s.Kid != p.Kid || len(p.ServiceNonce) != NonceLen || checkOrigin(p.Origin) != nil {
			t.Fatalf("decoded an inconsistent proof: %+v", p)
		}
		s.Verify(dev.s.Public()) // must not panic
	})
}

func TestSessionTokens(t *testing.T) {
	ctx := context.Background()
	v := fakeView{}
	svc := newParty(t, v, "printer", op.KindService, cose.AlgES256)
	peer := newParty(t, v, "sharing", op.KindService, cose.AlgEdDSA)
	dev := newParty(t, v, "camera", op.KindDevice, cose.AlgEdDSA)
	elsewhere := newParty(t, v, "elsewhere", op.KindService, cose.AlgEdDSA)
	ok := Decision{OK: true, Reason: OK, Device: dev.id.String(), Kid: dev.kid.String()}
	issue := func(signer cose.Signer, kid did.DID, ttl int64) []byte {
		b, err := IssueToken(signer, kid, ok, []did.DID{svc.id, peer.id}, now, ttl, nonce())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tok := issue(svc.s, svc.kid, 300)
	t.Logf("JWT session token: %d bytes", len(tok))
	if c, d := VerifyToken(ctx, v, tok, peer.id, now+10); !d.OK || c.Sub != dev.id.String() || c.Cnf.Kid != dev.kid.String() {
		t.Fatalf("token at a service of its audience: %+v %+v", c, d)
	}
	if _, err := IssueToken(svc.s, svc.kid, Decision{Reason: FailRevoked}, nil, now, 60, nonce()); err == nil {
		t.Fatal("a token for a refused decision")
	}
	cases := []struct {
		name string
		run  func() Decision
		want Reason
	}{
		{"fail/expired-token", func() Decision { _, d := VerifyToken(ctx, v, tok, peer.id, now+300); return d }, FailExpiredToken},
		{"fail/wrong-service", func() Decision {
			_, d := VerifyToken(ctx, v, tok, elsewhere.id, now)
			return d
		}, FailWrongService},
		{"fail/unregistered-verifier", func() Decision {
			// The verifying service itself must stand on the ledger.
			_, d := VerifyToken(ctx, v, tok, did.New("local", []byte("nobody")), now)
			return d
		}, FailUnknownDID},
		{"fail/bad-signature", func() Decision {
			_, d := VerifyToken(ctx, v, tamper(tok), peer.id, now)
			return d
		}, FailBadSignature},
		{"fail/wrong-kind-issuer", func() Decision {
			// A device cannot issue tokens.
			_, d := VerifyToken(ctx, v, issue(dev.s, dev.kid, 60), peer.id, now)
			return d
		}, FailWrongKind},
		{"fail/malformed", func() Decision { _, d := VerifyToken(ctx, v, []byte("ey.x.y"), peer.id, now); return d }, FailMalformed},
		// A signature has one encoding: the base64 decoder alone would
		// take a line break, or other unused low bits in its last character.
		{"fail/malformed-signature-line-break", func() Decision {
			b := append(append(append([]byte(nil), tok[:len(tok)-4]...), '\n'), tok[len(tok)-4:]...)
			_, d := VerifyToken(ctx, v, b, peer.id, now)
			return d
		}, FailMalformed},
		{"fail/malformed-signature-low-bits", func() Decision {
			const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			b := append([]byte(nil), tok...)
			b[len(b)-1] = alphabet[strings.IndexByte(alphabet, b[len(b)-1])^1] // a 64-byte signature leaves 4 bits unused
			_, d := VerifyToken(ctx, v, b, peer.id, now)
			return d
		}, FailMalformed},
		{"fail/revoked-device", func() Decision {
			v[dev.id].Status = op.StatusRevoked
			defer func() { v[dev.id].Status = op.StatusValidated }()
			_, d := VerifyToken(ctx, v, tok, peer.id, now)
			return d
		}, FailRevoked},
		{"fail/revoked-issuer", func() Decision {
			v[svc.id].Status = op.StatusRevoked
			defer func() { v[svc.id].Status = op.StatusValidated }()
			_, d := VerifyToken(ctx, v, tok, peer.id, now)
			return d
		}, FailRevoked},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if d := c.run(); d.OK || d.Reason != c.want {
				t.Fatalf("got %+v, want %s", d, c.want)
			}
		})
	}
	// A refusal's detail, which the client reads, does not echo a long
	// input back.
	long := b64.EncodeToString([]byte(`{"alg":"EdDSA","kid":"`+svc.kid.String()+`","typ":"JWT"}`)) + "." +
		b64.EncodeToString([]byte(`{"`+strings.Repeat("x", 2500)+`":1}`)) + ".AAAA"
	if _, d := VerifyToken(ctx, v, []byte(long), peer.id, now); d.Reason != FailMalformed || len(d.Detail) > 256 {
		t.Fatalf("a token with an unknown claim of 2500 characters: %s, with a detail of %d bytes", d.Reason, len(d.Detail))
	}
}

// tamper changes one bit of a message's signature, keeping its encoding
// well-formed (a JWS stays base64url).
func tamper(b []byte) []byte {
	out := append([]byte(nil), b...)
	if DetectEncoding(out) != JWS {
		out[len(out)-3] ^= 1
		return out
	}
	dot := bytes.LastIndexByte(out, '.')
	sig, _ := b64.DecodeString(string(out[dot+1:]))
	sig[len(sig)/2] ^= 1
	return append(out[:dot+1], b64.EncodeToString(sig)...)
}

// TestContractAudience: a token issued after an access contract decided
// names the contract in its audience; a service bound to the same
// contract accepts it (naming the contract), one bound to another does
// not, and an issuer that does not bind the contract cannot vouch for it.
func TestContractAudience(t *testing.T) {
	ctx := context.Background()
	v := fakeView{}
	prov := did.New("local", []byte("operator A"))
	cameras, other := prov.String()+"/cameras", prov.String()+"/other"
	printing := newParty(t, v, "printing", op.KindService, cose.AlgES256)
	sharing := newParty(t, v, "sharing", op.KindService, cose.AlgEdDSA)
	stranger := newParty(t, v, "stranger", op.KindService, cose.AlgEdDSA)
	outsider := newParty(t, v, "outsider", op.KindService, cose.AlgEdDSA)
	dev := newParty(t, v, "camera", op.KindDevice, cose.AlgEdDSA)
	v[printing.id].Access = []string{cameras}
	v[sharing.id].Access = []string{other, cameras}
	v[stranger.id].Access = []string{other}
	d := Decision{OK: true, Reason: OK, Device: dev.id.String(), Kid: dev.kid.String(), Contract: []string{cameras + "@3"}}
	tok, err := IssueToken(printing.s, printing.kid, d, nil, now, 300, nonce())
	if err != nil {
		t.Fatal(err)
	}
	cwt, err := IssueTokenCWT(printing.s, printing.kid, d, nil, now, 300, nonce())
	if err != nil {
		t.Fatal(err)
	}
	c, got := VerifyToken(ctx, v, tok, sharing.id, now+1)
	if !got.OK || !slices.Equal(got.Contract, []string{cameras}) || len(c.Aud) != 2 || c.Aud[0] != printing.id.String() || c.Aud[1] != cameras {
		t.Fatalf("at a service bound to the same contract: %+v %+v", c, got)
	}
	if _, got := VerifyTokenCWT(ctx, v, cwt, sharing.id, now+1); !got.OK || !slices.Equal(got.Contract, []string{cameras}) {
		t.Fatalf("CWT at a service bound to the same contract: %+v", got)
	}
	// The owner admits only its own services, the issuer is of another
	// provider: refused at the verifier, as at a node.
	v[printing.id].Provider = "P2"
	owned := withContracts{v, map[string]*record.Contract{cameras: {Provider: v[sharing.id].Provider, Name: "cameras", Kind: op.ContractAccess, Version: 3}}}
	if _, got := VerifyToken(ctx, owned, tok, sharing.id, now+1); got.Reason != FailWrongService {
		t.Fatalf("a contract whose owner does not admit the issuer's provider: %+v", got)
	}
	// Admitted again (binders), or the contract gone.
	owned.contracts[cameras].Binders = []string{"P2"}
	if _, got := VerifyToken(ctx, owned, tok, sharing.id, now+1); !got.OK {
		t.Fatalf("a contract whose owner lists the issuer's provider: %+v", got)
	}
	delete(owned.contracts, cameras)
	if _, got := VerifyToken(ctx, owned, tok, sharing.id, now+1); got.Reason != FailWrongService {
		t.Fatalf("a contract that is gone: %+v", got)
	}
	v[printing.id].Provider = v[sharing.id].Provider
	if _, got := VerifyToken(ctx, v, tok, stranger.id, now+1); got.Reason != FailWrongService {
		t.Fatalf("at a service bound to another contract: %+v", got)
	}
	// Unbound from the contract since: no longer accepted there.
	v[sharing.id].Access = []string{other}
	if _, got := VerifyToken(ctx, v, tok, sharing.id, now+1); got.Reason != FailWrongService {
		t.Fatalf("at a service no longer bound: %+v", got)
	}
	v[sharing.id].Access = []string{cameras}
	// An issuer outside the contract cannot speak for it.
	forged, err := IssueToken(outsider.s, outsider.kid, d, nil, now, 300, nonce())
	if err != nil {
		t.Fatal(err)
	}
	if _, got := VerifyToken(ctx, v, forged, sharing.id, now+1); got.Reason != FailWrongService {
		t.Fatalf("issuer not bound to the contract: %+v", got)
	}
	// Naming a service in aud works within a provider, not across: a
	// service of another provider needs a shared contract.
	v[printing.id].Provider, v[sharing.id].Provider, v[outsider.id].Provider = "P1", "P1", "P2"
	plain := Decision{OK: true, Reason: OK, Device: dev.id.String(), Kid: dev.kid.String()}
	for issuer, want := range map[party]Reason{printing: OK, outsider: FailWrongService} {
		tok, err := IssueToken(issuer.s, issuer.kid, plain, []did.DID{sharing.id}, now, 300, nonce())
		if err != nil {
			t.Fatal(err)
		}
		if _, got := VerifyToken(ctx, v, tok, sharing.id, now+1); got.Reason != want {
			t.Fatalf("a token naming the service, issued by %s: %+v, want %s", issuer.id, got, want)
		}
	}
}

// elsewhereIssued hands back the challenges it spends as made for another
// origin.
type elsewhereIssued struct{ Issued }

func (e elsewhereIssued) Spend(nonce []byte, now int64) (*Challenge, Decision) {
	c, d := e.Issued.Spend(nonce, now)
	if c != nil {
		o := *c
		o.Origin = "https://elsewhere.example"
		c = &o
	}
	return c, d
}

func TestHTUNormalizesTheOrigin(t *testing.T) {
	for _, c := range [][2]string{
		{"https://p.example:443/x?q=1", "https://P.example/x"},
		{"http://p.example:80", "http://p.example/"},
		{"coaps://[2001:DB8::1]:5684/t", "coaps://[2001:db8::1]/t"},
	} {
		a, _ := url.Parse(c[0])
		b, _ := url.Parse(c[1])
		if HTU(a) != HTU(b) {
			t.Errorf("HTU(%s) = %s, HTU(%s) = %s", c[0], HTU(a), c[1], HTU(b))
		}
	}
}

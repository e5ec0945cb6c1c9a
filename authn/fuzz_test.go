package authn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// fuzzView is an in-memory ledger view. It is a struct so that it can grow
// with authn.View.
type fuzzView struct {
	entities map[did.DID]*authn.Entity
}

func (v *fuzzView) Entity(_ context.Context, id did.DID) (*authn.Entity, error) {
	return v.entities[id.Base()], nil
}

// Contract: the one access contract, whose owner admits the one provider.
func (v *fuzzView) Contract(_ context.Context, ref string) (*record.Contract, error) {
	if ref != cameras {
		return nil, nil
	}
	prov, name, _ := record.SplitRef(ref)
	return &record.Contract{Provider: prov, Name: name, Kind: op.ContractAccess, Version: 1, Binders: v.providers()}, nil
}

func (v *fuzzView) providers() []string {
	var out []string
	for _, e := range v.entities {
		if !slices.Contains(out, e.Provider) {
			out = append(out, e.Provider)
		}
	}
	return out
}

type fuzzParty struct {
	id, kid did.DID
	s       cose.Signer
}

// fuzzWorld is the same in every fuzz worker: keys come from fixed seeds,
// so that a message signed in one process (a seed, the coordinator's)
// verifies in another, and a genuine token stays genuine.
type fuzzWorld struct {
	view     *fuzzView
	printing fuzzParty // a service, EdDSA
	sharing  fuzzParty // a service of the same provider, ES256: the audience
	camera   fuzzParty // a validated device
	retired  fuzzParty // a revoked device
}

const (
	fuzzNow  = int64(1_800_000_000)
	fuzzSkew = 30                                // how far ahead of now a token may be dated (authn's clockSkew)
	cameras  = "did:bias:local:provider/cameras" // an access contract both services bind
)

func fixedSigner(t testing.TB, name string, alg cose.Alg) cose.Signer {
	t.Helper()
	seed := sha256.Sum256([]byte("bias fuzz key " + name))
	var s cose.Signer
	var err error
	switch alg {
	case cose.AlgEdDSA:
		s, err = cose.NewSigner(ed25519.NewKeyFromSeed(seed[:]))
	case cose.AlgES256:
		var k *ecdsa.PrivateKey
		if k, err = ecdsa.ParseRawPrivateKey(elliptic.P256(), seed[:]); err == nil {
			s, err = cose.NewSigner(k)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newFuzzWorld(t testing.TB) *fuzzWorld {
	w := &fuzzWorld{view: &fuzzView{entities: map[did.DID]*authn.Entity{}}}
	add := func(name, kind, status string, alg cose.Alg, access ...string) fuzzParty {
		s := fixedSigner(t, name, alg)
		id := did.New("local", []byte(name))
		w.view.entities[id] = &authn.Entity{
			DID: id.String(), Kind: kind, Provider: "did:bias:local:provider", Status: status,
			Keys: []op.Key{op.KeyFrom("k1", s.Public())}, Access: access,
		}
		return fuzzParty{id: id, kid: id.WithFragment("k1"), s: s}
	}
	w.printing = add("printing", op.KindService, op.StatusValidated, cose.AlgEdDSA, cameras)
	w.sharing = add("sharing", op.KindService, op.StatusValidated, cose.AlgES256, cameras)
	w.camera = add("camera", op.KindDevice, op.StatusValidated, cose.AlgEdDSA)
	w.retired = add("retired", op.KindDevice, op.StatusRevoked, cose.AlgES256)
	return w
}

// tokenSpec is a token the tests issue: who signs it, for which device,
// audiences and decision, and what the audience decides on it.
type tokenSpec struct {
	issuer   fuzzParty
	device   fuzzParty
	aud      []did.DID
	contract string
	want     authn.Reason
}

// specs are the tokens issued: accepted, or refused for a reason that
// the seeds then exercise.
func (w *fuzzWorld) specs() []tokenSpec {
	return []tokenSpec{
		{w.printing, w.camera, []did.DID{w.sharing.id}, "", authn.OK},                // names the audience
		{w.sharing, w.camera, nil, "", authn.OK},                                     // the audience's own
		{w.printing, w.camera, nil, cameras + "@1", authn.OK},                        // a shared contract
		{w.printing, w.retired, []did.DID{w.sharing.id}, "", authn.FailRevoked},      // a revoked device
		{w.camera, w.camera, []did.DID{w.sharing.id}, "", authn.FailWrongKind},       // a device issues
		{w.printing, w.camera, []did.DID{w.printing.id}, "", authn.FailWrongService}, // for another service
	}
}

func (w *fuzzWorld) issue(t testing.TB, cwt bool, sp tokenSpec) []byte {
	t.Helper()
	d := authn.Decision{OK: true, Reason: authn.OK, Device: sp.device.id.String(), Kid: sp.device.kid.String()}
	if sp.contract != "" {
		d.Contract = []string{sp.contract}
	}
	jti := sha256.Sum256([]byte(sp.issuer.id.String() + sp.device.id.String()))
	issue := authn.IssueToken
	if cwt {
		issue = authn.IssueTokenCWT
	}
	b, err := issue(sp.issuer.s, sp.issuer.kid, d, sp.aud, fuzzNow, 300, jti[:16])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var reasons = map[authn.Reason]bool{
	authn.FailMalformed: true, authn.FailUnknownDID: true, authn.FailUnknownKey: true, authn.FailBadSignature: true,
	authn.FailRevoked: true, authn.FailNotValidated: true, authn.FailWrongService: true, authn.FailExpiredChallenge: true,
	authn.FailReplayedNonce: true, authn.FailUnknownChallenge: true, authn.FailWrongKind: true,
	authn.FailContractDenied: true, authn.FailUnavailable: true, authn.FailExpiredToken: true,
}

// maxDetail bounds what a refusal says, in characters: a client reads it,
// so it must not echo the input back at length.
const maxDetail = 256

// checkDecision holds for every token decision: a refusal has a stable,
// known reason, a bounded detail and no claims; an acceptance has claims
// that match it, for the audience (named, or through a contract it binds),
// unexpired at now, for a device and an issuer that stand.
func checkDecision(t *testing.T, w *fuzzWorld, c *authn.TokenClaims, d authn.Decision, audience did.DID, now int64) {
	t.Helper()
	if !d.OK {
		if d.Reason == authn.OK || !reasons[d.Reason] || d.Detail == "" || utf8.RuneCountInString(d.Detail) > maxDetail || c != nil {
			t.Fatalf("refusal %+v (claims %+v): want a known reason, a detail of 1 to %d characters, no claims", d, c, maxDetail)
		}
		return
	}
	if d.Reason != authn.OK || c == nil {
		t.Fatalf("acceptance %+v with claims %+v", d, c)
	}
	if d.Device != c.Sub || d.Service != audience.String() || d.At != now {
		t.Fatalf("acceptance %+v does not match claims %+v at %s, %d", d, c, audience, now)
	}
	named := slices.Contains(c.Aud, audience.String())
	shared := len(d.Contract) == 1 && slices.Contains(c.Aud, d.Contract[0]) && slices.Contains(w.view.entities[audience].Access, d.Contract[0])
	if !named && !shared {
		t.Fatalf("accepted at %s a token for %q (decided under %q)", audience, c.Aud, d.Contract)
	}
	if now >= c.Exp || c.Iat > now+fuzzSkew {
		t.Fatalf("accepted at %d a token valid from %d to %d", now, c.Iat, c.Exp)
	}
	dev, err := did.ParseNoFragment(c.Sub)
	if err != nil {
		t.Fatalf("accepted sub %q: %v", c.Sub, err)
	}
	iss, err := did.ParseNoFragment(c.Iss)
	if err != nil {
		t.Fatalf("accepted iss %q: %v", c.Iss, err)
	}
	for id, kind := range map[did.DID]string{dev: op.KindDevice, iss: op.KindService} {
		if e := w.view.entities[id]; e == nil || e.Kind != kind || e.Status != op.StatusValidated {
			t.Fatalf("accepted a token naming %s, which is %+v, as a %s", id, e, kind)
		}
	}
}

func FuzzVerifyToken(f *testing.F) {
	w := newFuzzWorld(f)
	// What the tests signed: the header and claims (the signing input).
	genuine := map[string]bool{}
	var toks [][]byte
	for _, sp := range w.specs() {
		tok := w.issue(f, false, sp)
		if _, d := authn.VerifyToken(context.Background(), w.view, tok, w.sharing.id, fuzzNow+10); d.Reason != sp.want {
			f.Fatalf("seed token %+v: %+v, want %s", sp, d, sp.want)
		}
		input, sig := splitJWS(tok)
		genuine[input] = true
		toks = append(toks, tok)
		f.Add(tok, int64(10))
		f.Add(tok, int64(300))
		f.Add(tok, int64(-31))
		f.Add(tok[:len(tok)-1], int64(0))
		f.Add([]byte(input+"."), int64(0))
		f.Add([]byte(input+"."+b64.EncodeToString(flip(sig))), int64(10))
		for _, m := range malleated(tok) {
			f.Add(m, int64(10))
		}
	}
	// Another token's signature; claims changed under a signature.
	for i, tok := range toks {
		input, _ := splitJWS(tok)
		_, sig := splitJWS(toks[(i+1)%len(toks)])
		f.Add([]byte(input+"."+b64.EncodeToString(sig)), int64(10))
		head, claims, _ := strings.Cut(input, ".")
		cb, _ := b64.DecodeString(claims)
		forged := strings.Replace(string(cb), `"exp":1800000300`, `"exp":1800003600`, 1)
		_, sig = splitJWS(tok)
		f.Add([]byte(head+"."+b64.EncodeToString([]byte(forged))+"."+b64.EncodeToString(sig)), int64(600))
	}
	// A claim whose name is long: a refusal does not echo it back.
	f.Add([]byte(b64.EncodeToString([]byte(`{"alg":"EdDSA","kid":"`+w.printing.kid.String()+`","typ":"JWT"}`))+"."+
		b64.EncodeToString([]byte(`{"`+strings.Repeat("x", 2500)+`":1}`))+".AAAA"), int64(0))
	none := b64.EncodeToString([]byte(`{"alg":"none","kid":"`+w.printing.kid.String()+`","typ":"JWT"}`)) + "." +
		b64.EncodeToString([]byte(`{"iss":"`+w.printing.id.String()+`","sub":"`+w.camera.id.String()+`","aud":["`+w.sharing.id.String()+`"],"iat":1800000000,"exp":1800000300,"jti":""}`)) + "."
	for _, s := range []string{"", "ey", "ey.x.y", "e..", none} {
		f.Add([]byte(s), int64(0))
	}
	ctx := context.Background()
	audience := w.sharing.id

	f.Fuzz(func(t *testing.T, b []byte, dt int64) {
		now := fuzzNow + dt%(2*authn.MaxTokenSeconds)
		c, d := authn.VerifyToken(ctx, w.view, b, audience, now)
		checkDecision(t, w, c, d, audience, now)
		if c2, d2 := authn.VerifyToken(ctx, w.view, b, audience, now); !reflect.DeepEqual(d, d2) || !reflect.DeepEqual(c, c2) {
			t.Fatalf("VerifyToken is not deterministic: %+v then %+v", d, d2)
		}
		if !d.OK {
			return
		}
		if len(b) > 2*authn.MaxMessage {
			t.Fatalf("accepted a token of %d bytes, limit %d", len(b), 2*authn.MaxMessage)
		}
		// No signature is forged: an accepted token is one the tests
		// signed, in its one encoding (base64url without padding, other
		// low bits or line breaks), with a signature by its issuer's key.
		input, sig := splitJWS(b)
		if !genuine[input] {
			t.Fatalf("accepted a token the tests did not sign: %q", b)
		}
		if !canonicalJWS(b) {
			t.Fatalf("accepted a token not in canonical base64url: %q", b)
		}
		if !w.key(t, c.Iss).Verify([]byte(input), sig) {
			t.Fatalf("accepted a token whose signature is not its issuer's: %q", b)
		}
	})
}

var b64 = base64.RawURLEncoding

// splitJWS returns a compact JWS's signing input and its signature.
func splitJWS(b []byte) (string, []byte) {
	dot := strings.LastIndexByte(string(b), '.')
	if dot < 0 {
		return "", nil
	}
	sig, _ := b64.DecodeString(string(b[dot+1:]))
	return string(b[:dot]), sig
}

// flip returns sig with one bit changed.
func flip(sig []byte) []byte {
	out := append([]byte(nil), sig...)
	out[len(out)/2] ^= 1
	return out
}

// key returns the key "k1" of an entity of the world.
func (w *fuzzWorld) key(t *testing.T, id string) cose.PublicKey {
	t.Helper()
	e := w.view.entities[did.MustParse(id)]
	if e == nil {
		t.Fatalf("%s is not of the world", id)
	}
	pk, err := e.Keys[0].Public()
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

// canonicalJWS tells whether a compact JWS has three parts, each in the one
// encoding of its bytes: base64url without padding, line breaks or stray
// low bits.
func canonicalJWS(b []byte) bool {
	parts := strings.Split(string(b), ".")
	for _, p := range parts {
		d, err := b64.DecodeString(p)
		if err != nil || b64.EncodeToString(d) != p {
			return false
		}
	}
	return len(parts) == 3
}

// malleated returns a JWS with its signature encoded otherwise, but
// decoding (leniently) to the same bytes: other low bits in the last
// character, line breaks.
func malleated(jws []byte) [][]byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	n := len(jws)
	bits := append([]byte(nil), jws...)
	bits[n-1] = alphabet[strings.IndexByte(alphabet, jws[n-1])^1]
	var out [][]byte
	out = append(out, bits)
	for _, br := range []string{"\n", "\r\n"} {
		out = append(out, []byte(string(jws[:n-4])+br+string(jws[n-4:])))
	}
	return out
}

func FuzzVerifyTokenCWT(f *testing.F) {
	w := newFuzzWorld(f)
	// What the tests signed: the protected header and payload.
	genuine := map[string]bool{}
	var msgs []*cose.Message
	for _, sp := range w.specs() {
		tok := w.issue(f, true, sp)
		if _, d := authn.VerifyTokenCWT(context.Background(), w.view, tok, w.sharing.id, fuzzNow+10); d.Reason != sp.want {
			f.Fatalf("seed CWT %+v: %+v, want %s", sp, d, sp.want)
		}
		m, err := cose.Decode(tok)
		if err != nil {
			f.Fatal(err)
		}
		genuine[string(m.Protected)+"\x00"+string(m.Payload)] = true
		msgs = append(msgs, m)
		f.Add(tok, int64(10))
		f.Add(tok, int64(300))
		f.Add(tok[1:], int64(10)) // untagged
		f.Add(tok[:len(tok)-1], int64(0))
		f.Add(sign1(f, m.Protected, nil, m.Payload, flip(m.Signature)), int64(10))
	}
	for i, m := range msgs {
		// Another token's signature; claims changed under a signature.
		f.Add(sign1(f, m.Protected, nil, m.Payload, msgs[(i+1)%len(msgs)].Signature), int64(10))
		c, err := authn.DecodeCWTClaims(m.Payload)
		if err != nil {
			f.Fatal(err)
		}
		c.Exp += authn.MaxTokenSeconds
		f.Add(sign1(f, m.Protected, nil, cwtClaims(f, c), m.Signature), int64(600))
	}
	// An accepted token with a large unprotected header, which the
	// signature does not cover.
	f.Add(sign1(f, msgs[1].Protected, map[int64]any{99: make([]byte, 3*authn.MaxMessage)}, msgs[1].Payload, msgs[1].Signature), int64(10))
	for _, h := range []string{"", "d2", "d28440a0f640", "d28443a10127a0426869f6"} {
		b, _ := hex.DecodeString(h)
		f.Add(b, int64(0))
	}
	ctx := context.Background()
	audience := w.sharing.id

	f.Fuzz(func(t *testing.T, b []byte, dt int64) {
		now := fuzzNow + dt%(2*authn.MaxTokenSeconds)
		c, d := authn.VerifyTokenCWT(ctx, w.view, b, audience, now)
		checkDecision(t, w, c, d, audience, now)
		if !d.OK {
			return
		}
		if len(b) > 2*authn.MaxMessage {
			t.Fatalf("accepted a CWT of %d bytes; a JWT is bounded at %d", len(b), 2*authn.MaxMessage)
		}
		// No signature is forged: an accepted token's protected header
		// and claims are ones the tests signed, signed by its issuer.
		m, err := cose.Decode(b)
		if err != nil {
			t.Fatalf("accepted a CWT that does not decode: %v", err)
		}
		if !genuine[string(m.Protected)+"\x00"+string(m.Payload)] {
			t.Fatalf("accepted a CWT the tests did not sign: %x", b)
		}
		if err := m.Verify(w.key(t, c.Iss), nil); err != nil {
			t.Fatalf("accepted a CWT whose signature is not its issuer's: %v", err)
		}
	})
}

// sign1 encodes a tagged COSE_Sign1 of given parts, signed or not.
func sign1(t testing.TB, protected []byte, unprotected map[int64]any, payload, sig []byte) []byte {
	t.Helper()
	if unprotected == nil {
		unprotected = map[int64]any{}
	}
	b, err := cbor.Marshal(cbor.Tag{Number: cose.TagSign1, Content: []any{protected, unprotected, payload, sig}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzDecodeChallenge(f *testing.F) {
	w := newFuzzWorld(f)
	var genuine []*authn.Challenge
	for i, p := range []fuzzParty{w.printing, w.sharing} {
		nonce := sha256.Sum256([]byte{byte(i)})
		c := authn.NewChallenge(p.kid, "https://printing.example", nonce[:authn.NonceLen], fuzzNow, 60)
		genuine = append(genuine, c)
		for _, enc := range []authn.Encoding{authn.COSE, authn.JWS} {
			b, err := authn.SignChallenge(p.s, c, enc)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
			f.Add(b[:len(b)-1])
			// The signature changed; the claims changed under the signature.
			if enc == authn.COSE {
				f.Add(b[1:]) // untagged
				m, err := cose.Decode(b)
				if err != nil {
					f.Fatal(err)
				}
				earlier, err := op.Marshal(map[int]any{1: c.Nonce, 2: c.IssuedAt - 1, 3: c.Expires, 4: c.Origin})
				if err != nil {
					f.Fatal(err)
				}
				elsewhere, err := op.Marshal(map[int]any{1: c.Nonce, 2: c.IssuedAt, 3: c.Expires, 4: "https://relay.example"})
				if err != nil {
					f.Fatal(err)
				}
				f.Add(sign1(f, m.Protected, nil, m.Payload, flip(m.Signature)))
				f.Add(sign1(f, m.Protected, nil, earlier, m.Signature))
				f.Add(sign1(f, m.Protected, nil, elsewhere, m.Signature))
			} else {
				for _, m := range malleated(b) {
					f.Add(m)
				}
				input, sig := splitJWS(b)
				head, claims, _ := strings.Cut(input, ".")
				cb, _ := b64.DecodeString(claims)
				earlier := strings.Replace(string(cb), `"iat":1800000000`, `"iat":1799999999`, 1)
				elsewhere := strings.Replace(string(cb), `printing.example`, `relay.example`, 1)
				f.Add([]byte(input + "." + b64.EncodeToString(flip(sig))))
				f.Add([]byte(head + "." + b64.EncodeToString([]byte(earlier)) + "." + b64.EncodeToString(sig)))
				f.Add([]byte(head + "." + b64.EncodeToString([]byte(elsewhere)) + "." + b64.EncodeToString(sig)))
			}
		}
	}
	// A proof is not a challenge.
	pr := &authn.Proof{Device: w.camera.id, Kid: w.camera.kid, Service: w.printing.id, Origin: "https://printing.example", ServiceNonce: make([]byte, 16), DeviceNonce: make([]byte, 16), IssuedAt: fuzzNow}
	for _, enc := range []authn.Encoding{authn.COSE, authn.JWS} {
		b, err := authn.SignProof(w.camera.s, pr, enc)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{"", "ey", "ey.x.y", "\xd2\x84\x40\xa0\xf6\x40"} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, b []byte) {
		c, s, err := authn.DecodeChallenge(b)
		if err != nil {
			if c != nil || s != nil || !errors.Is(err, authn.ErrMalformed) {
				t.Fatalf("DecodeChallenge: %+v, %+v, %v; want nil, nil and ErrMalformed", c, s, err)
			}
			if n := utf8.RuneCountInString(err.Error()); n > maxDetail {
				t.Fatalf("an error of %d characters: %.100s...", n, err)
			}
			return
		}
		if len(b) > authn.MaxMessage {
			t.Fatalf("decoded a challenge of %d bytes, limit %d", len(b), authn.MaxMessage)
		}
		if c.Kid.Base() != c.Service || c.Kid.Fragment == "" || c.Network != c.Service.Network || s.Kid != c.Kid ||
			len(c.Nonce) != authn.NonceLen || c.Expires <= c.IssuedAt || c.Expires-c.IssuedAt > authn.MaxValiditySeconds {
			t.Fatalf("decoded an inconsistent challenge: %+v", c)
		}
		if o, err := authn.ParseOrigin(c.Origin); err != nil || o != c.Origin {
			t.Fatalf("decoded an inconsistent challenge: %+v", c)
		}
		if s.Encoding != authn.DetectEncoding(b) || (s.Alg != cose.AlgEdDSA && s.Alg != cose.AlgES256) {
			t.Fatalf("decoded %+v from a %s message", s, authn.DetectEncoding(b))
		}
		if s.Encoding == authn.JWS && !canonicalJWS(b) {
			t.Fatalf("decoded a JWS not in canonical base64url: %q", b)
		}
		// Signed again in the same encoding, it decodes to itself.
		again, err := authn.SignChallenge(w.printing.s, c, s.Encoding)
		if err != nil {
			t.Fatalf("a decoded challenge does not encode: %v", err)
		}
		if c2, _, err := authn.DecodeChallenge(again); err != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip: %+v, then %+v, %v", c, c2, err)
		}
		// No signature is forged: what verifies with a party's key is a
		// challenge that the party signed.
		if e := w.view.entities[c.Service]; e != nil {
			pk, err := e.Keys[0].Public()
			if err != nil {
				t.Fatal(err)
			}
			if s.Verify(pk) && !containsChallenge(genuine, c) {
				t.Fatalf("a challenge the tests did not sign verifies: %+v", c)
			}
		}
	})
}

func containsChallenge(cs []*authn.Challenge, c *authn.Challenge) bool {
	for _, g := range cs {
		if reflect.DeepEqual(g, c) {
			return true
		}
	}
	return false
}

// cwtClaims encodes claims as IssueTokenCWT does, every claim present.
func cwtClaims(t testing.TB, c *authn.TokenClaims) []byte {
	t.Helper()
	cti, err := b64.DecodeString(c.Jti)
	if err != nil {
		t.Fatalf("jti %q is not base64url: %v", c.Jti, err)
	}
	m := map[int]any{1: c.Iss, 2: c.Sub, 4: c.Exp, 6: c.Iat, 7: cti}
	if c.Aud != nil {
		m[3] = c.Aud
	}
	if c.Cnf != nil {
		m[8] = map[int]any{3: []byte(c.Cnf.Kid)}
	}
	b, err := op.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzDecodeCWTClaims(f *testing.F) {
	w := newFuzzWorld(f)
	for _, sp := range w.specs() {
		m, err := cose.Decode(w.issue(f, true, sp))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(m.Payload)
	}
	// RFC 8392 A.3's claims: aud a single string, a claim bias ignores (nbf).
	var v struct {
		Output struct {
			CBOR string `json:"cbor"`
		} `json:"output"`
	}
	if b, err := os.ReadFile("testdata/cwt/A_3.json"); err != nil || json.Unmarshal(b, &v) != nil {
		f.Fatalf("testdata/cwt/A_3.json: %v", err)
	}
	msg, _ := hex.DecodeString(v.Output.CBOR)
	m, err := cose.Decode(msg)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(m.Payload)
	for _, h := range []string{"", "a0", "a10160", "a103f6", "a2016161016162", "a108a10340", "bf01616aff", "a10380"} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}

	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := authn.DecodeCWTClaims(b)
		if err != nil {
			if c != nil || !errors.Is(err, authn.ErrMalformed) {
				t.Fatalf("DecodeCWTClaims: %+v, %v; want nil and ErrMalformed", c, err)
			}
			return
		}
		if len(c.Aud) > 64 || len(c.Iss) > len(b) || len(c.Sub) > len(b) || (c.Cnf != nil && len(c.Cnf.Kid) > len(b)) {
			t.Fatalf("claims %+v out of bounds for %d bytes", c, len(b))
		}
		// Encoded as IssueTokenCWT does, the claims decode to themselves.
		again := cwtClaims(t, c)
		c2, err := authn.DecodeCWTClaims(again)
		if err != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip: %+v, then %+v, %v (re-encoded %x)", c, c2, err, again)
		}
	})
}

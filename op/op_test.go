package op

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
)

func newSigner(t testing.TB, alg cose.Alg) cose.Signer {
	s, _, err := cose.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func samplePayloads(t testing.TB) []struct {
	s   cose.Signer
	kid did.DID
	p   Payload
} {
	dev := newSigner(t, cose.AlgEdDSA)
	es := newSigner(t, cose.AlgES256)
	prov := did.New("local", []byte("provider"))
	target := did.New("local", []byte("device"))
	reg := Payload{Type: TypeRegister, Network: "local", Register: &Register{
		Kind: KindDevice, Provider: prov.String(),
		Doc: Document{
			Keys:      []Key{KeyFrom("k1", dev.Public()), KeyFrom("k2", es.Public())},
			Endpoints: []Endpoint{{ID: "api", Type: "Telemetry", URI: "coaps://dev.example/t"}},
			Aliases:   []string{"urn:imei:490154203237518", "tel:+15551234567", "ip:2001:db8::1"},
			Attrs:     []Attr{{K: "model", V: "cam-1"}, {K: "vendor", V: "acme"}},
			// An X25519 key-agreement key (RFC 7748 section 6.1, Alice's).
			KeyAgreement: []AgreementKey{{ID: "ka1", KEM: KEMX25519, Pub: []byte("\x85\x20\xf0\x09\x89\x30\xa7\x54\x74\x8b\x7d\xdc\xb4\x3e\xf7\x5a\x0d\xbf\x3a\x0d\x26\x38\x1a\xf4\xeb\xa4\xa9\x8e\xaa\x9b\x4e\x6a")}},
		},
		Nonce: []byte{1, 2, 3},
	}}
	regID, _ := RegisterDID(reg)
	return []struct {
		s   cose.Signer
		kid did.DID
		p   Payload
	}{
		{dev, regID.WithFragment("k1"), reg},
		{es, target.WithFragment("k1"), Payload{Type: TypeUpdate, Network: "local", Update: &Update{DID: target.String(), Version: 3, Doc: Document{Keys: []Key{KeyFrom("k1", es.Public())}}}}},
		{dev, prov.WithFragment("admin-1"), Payload{Type: TypeRevoke, Network: "local", Status: &Status{DID: target.String(), Version: 2, Reason: "lost"}}},
		{dev, prov.WithFragment("admin-1"), Payload{Type: TypeEnroll, Network: "local", Enroll: &Enroll{Provider: prov.String(), Items: []EnrollEntry{{Doc: Document{Keys: []Key{KeyFrom("k1", es.Public())}}}}}}},
		{dev, prov.WithFragment("admin-1"), Payload{Type: TypePropose, Network: "local", Gov: &Gov{Provider: prov.String(), Proposal: &Proposal{
			Kind: ProposalAdmit, Admit: &Admit{Name: "operator-e", Keys: []Key{KeyFrom("admin-1", es.Public())}, Validator: &Validator{PubKey: dev.Public().Bytes(), Power: 10}}}}}},
		{dev, prov.WithFragment("admin-1"), Payload{Type: TypePairwise, Network: "local", Pairwise: &Pairwise{Provider: prov.String(), Items: []PairwiseEntry{
			{Doc: Document{Keys: []Key{KeyFrom("k1", es.Public())}}, Commit: PairwiseCommit("local", target.String(), make([]byte, 16))}}}}},
		{dev, prov.WithFragment("admin-1"), Payload{Type: TypeRevoke, Network: "local", Status: &Status{DID: target.String(), Version: 2,
			Pairwise: []PairwiseOpening{{DID: did.New("local", []byte("pairwise")).String(), Salt: make([]byte, 16)}}}}},
		{dev, prov.WithFragment("admin-1"), Payload{Type: TypeVote, Network: "local", Gov: &Gov{Provider: prov.String(), Vote: strings.Repeat("0f", 32)}}},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, c := range samplePayloads(t) {
		tx, err := Sign(c.s, c.kid, c.p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(tx)
		if err != nil {
			t.Fatalf("%s: %v", c.p.Type, err)
		}
		if got.Kid != c.kid || got.Payload.Type != c.p.Type || got.Payload.Target() != c.p.Target() {
			t.Fatalf("%s decoded as %+v", c.p.Type, got.Payload)
		}
		if err := got.Msg.Verify(c.s.Public(), nil); err != nil {
			t.Fatalf("%s: %v", c.p.Type, err)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	s := newSigner(t, cose.AlgEdDSA)
	prov := did.New("local", []byte("p")).String()
	base := func() Payload {
		return Payload{Type: TypeRegister, Network: "local", Register: &Register{Kind: KindDevice, Provider: prov, Doc: Document{Keys: []Key{KeyFrom("k1", s.Public())}}}}
	}
	cases := map[string]struct {
		mut    func(*Payload)
		reason Reason
	}{
		"fail/unknown-type":       {func(p *Payload) { p.Type = "entity.explode" }, ReasonMalformed},
		"fail/body-mismatch":      {func(p *Payload) { p.Type = TypeUpdate }, ReasonMalformed},
		"fail/two-bodies":         {func(p *Payload) { p.Status = &Status{DID: prov, Version: 1} }, ReasonMalformed},
		"fail/bad-network":        {func(p *Payload) { p.Network = "Bad" }, ReasonInvalidField},
		"fail/kind":               {func(p *Payload) { p.Register.Kind = "robot" }, ReasonInvalidField},
		"fail/provider-not-did":   {func(p *Payload) { p.Register.Provider = "acme" }, ReasonInvalidField},
		"fail/provider-elsewhere": {func(p *Payload) { p.Register.Provider = did.New("other", nil).String() }, ReasonWrongNetwork},
		"fail/no-keys":            {func(p *Payload) { p.Register.Doc.Keys = nil }, ReasonInvalidField},
		"fail/too-many-keys": {func(p *Payload) {
			for i := 0; i < MaxKeys; i++ {
				p.Register.Doc.Keys = append(p.Register.Doc.Keys, Key{ID: "x" + string(rune('a'+i)), Alg: -8, Pub: make([]byte, 32)})
			}
		}, ReasonInvalidField},
		"fail/dup-key-id": {func(p *Payload) { p.Register.Doc.Keys = append(p.Register.Doc.Keys, p.Register.Doc.Keys[0]) }, ReasonInvalidField},
		"fail/key-alg":    {func(p *Payload) { p.Register.Doc.Keys[0].Alg = -35 }, ReasonUnsupportedAlg},
		"fail/key-length": {func(p *Payload) { p.Register.Doc.Keys[0].Pub = p.Register.Doc.Keys[0].Pub[:31] }, ReasonInvalidField},
		"fail/p256-uncompressed": {func(p *Payload) {
			es := newSigner(t, cose.AlgES256)
			p.Register.Doc.Keys[0] = Key{ID: "k1", Alg: -7, Pub: uncompressed(es)}
		}, ReasonInvalidField},
		"fail/key-id-syntax":     {func(p *Payload) { p.Register.Doc.Keys[0].ID = "k 1" }, ReasonInvalidField},
		"fail/key-id-jwk-suffix": {func(p *Payload) { p.Register.Doc.Keys[0].ID = "k1-jwk" }, ReasonInvalidField},
		"fail/endpoint-uri":      {func(p *Payload) { p.Register.Doc.Endpoints = []Endpoint{{ID: "e", Type: "T", URI: "not a uri"}} }, ReasonInvalidField},
		"fail/endpoint-id-clash": {func(p *Payload) { p.Register.Doc.Endpoints = []Endpoint{{ID: "k1", Type: "T", URI: "https://x"}} }, ReasonInvalidField},
		"fail/alias-scheme":      {func(p *Payload) { p.Register.Doc.Aliases = []string{"imei:1"} }, ReasonInvalidField},
		"fail/alias-ip":          {func(p *Payload) { p.Register.Doc.Aliases = []string{"ip:300.1.1.1"} }, ReasonInvalidField},
		"fail/alias-repeated":    {func(p *Payload) { p.Register.Doc.Aliases = []string{"tel:+1", "tel:+1"} }, ReasonInvalidField},
		"fail/alias-long":        {func(p *Payload) { p.Register.Doc.Aliases = []string{"tel:+" + strings.Repeat("1", MaxAliasLen)} }, ReasonInvalidField},
		"fail/attrs-unsorted":    {func(p *Payload) { p.Register.Doc.Attrs = []Attr{{K: "b", V: "1"}, {K: "a", V: "2"}} }, ReasonInvalidField},
		"fail/attr-control-char": {func(p *Payload) { p.Register.Doc.Attrs = []Attr{{K: "a", V: "x\x00"}} }, ReasonInvalidField},
		"fail/attr-value-long":   {func(p *Payload) { p.Register.Doc.Attrs = []Attr{{K: "a", V: strings.Repeat("v", MaxAttrValueLen+1)}} }, ReasonInvalidField},
		"fail/nonce-long":        {func(p *Payload) { p.Register.Nonce = make([]byte, MaxNonceLen+1) }, ReasonInvalidField},
		"fail/status-reason-long": {func(p *Payload) {
			*p = Payload{Type: TypeRevoke, Network: "local", Status: &Status{DID: prov, Version: 1, Reason: strings.Repeat("r", MaxReasonLen+1)}}
		}, ReasonInvalidField},
		"fail/enroll-empty": {func(p *Payload) { *p = Payload{Type: TypeEnroll, Network: "local", Enroll: &Enroll{Provider: prov}} }, ReasonInvalidField},
		"fail/update-did-fragment": {func(p *Payload) {
			*p = Payload{Type: TypeUpdate, Network: "local", Update: &Update{DID: prov + "#k1", Version: 1, Doc: p.Register.Doc}}
		}, ReasonInvalidField},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := base()
			c.mut(&p)
			err := p.Validate()
			var oe *Error
			if !errors.As(err, &oe) || oe.Reason != c.reason {
				t.Fatalf("got %v, want %s", err, c.reason)
			}
		})
	}
	if p := base(); p.Validate() != nil {
		t.Fatalf("base payload invalid: %v", p.Validate())
	}
}

func uncompressed(s cose.Signer) []byte { return uncompressedPoint(s.Public().Crypto()) }

func TestDecodeRejectsNonCanonical(t *testing.T) {
	c := samplePayloads(t)[2]
	tx, _ := Sign(c.s, c.kid, c.p)
	m, _ := cose.Decode(tx)
	// Re-encode the payload with a non-shortest integer for the version.
	canon := m.Payload
	bad := bytes.Replace(canon, []byte{0x02, 0x02}, []byte{0x02, 0x18, 0x02}, 1)
	if bytes.Equal(bad, canon) {
		t.Fatal("test did not alter the payload")
	}
	tx2, _ := cose.Sign1(c.s, []byte(c.kid.String()), bad, nil)
	if _, err := Decode(tx2); !errors.Is(err, &Error{Reason: ReasonMalformed}) {
		t.Fatalf("non-canonical payload: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, c := range samplePayloads(f) {
		tx, err := Sign(c.s, c.kid, c.p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tx)
	}
	f.Add([]byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40})
	f.Fuzz(func(t *testing.T, tx []byte) {
		s, err := Decode(tx)
		if err != nil {
			var oe *Error
			if !errors.As(err, &oe) {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		// Whatever decodes is canonical, valid, and names its signer.
		again, err := Marshal(s.Payload)
		if err != nil || !bytes.Equal(again, s.Msg.Payload) {
			t.Fatalf("decoded payload does not re-encode to the signed bytes")
		}
		if err := s.Payload.Validate(); err != nil {
			t.Fatalf("decoded payload does not validate: %v", err)
		}
		if s.Kid.Fragment == "" || s.Kid.Network != s.Payload.Network {
			t.Fatalf("kid %s", s.Kid)
		}
	})
}

func TestServiceTypes(t *testing.T) {
	for typ, ok := range map[string]bool{
		"PrintService": true, "Telemetry.v2": true, "a-b_c~d": true, "https://example.com/ns#Print": true, "urn:x:print": true,
		"": false, "Type With Space": false, "@id": false, "id": false, "type": false, "_:b0": false, "2fast": false,
		"a#b": false, "a%20b": false, "https://x/<y>": false, "https://x/ y": false, ":x": false, "x:": false,
		strings.Repeat("a", MaxTypeLen+1): false,
	} {
		p := samplePayloads(t)[0].p
		p.Register = &Register{Kind: p.Register.Kind, Provider: p.Register.Provider, Doc: p.Register.Doc}
		p.Register.Doc.Endpoints = []Endpoint{{ID: "e", Type: typ, URI: "https://x"}}
		if err := p.Validate(); (err == nil) != ok {
			t.Errorf("type %q: %v", typ, err)
		}
	}
}

// TestPeekType reads the type of each sample operation, and "" of what is
// not a signed operation.
func TestPeekType(t *testing.T) {
	for _, c := range samplePayloads(t) {
		tx, err := Sign(c.s, c.kid, c.p)
		if err != nil {
			t.Fatal(err)
		}
		if got := PeekType(tx); got != c.p.Type {
			t.Errorf("PeekType = %q, want %q", got, c.p.Type)
		}
		if got := PeekType(tx[:len(tx)/2]); got != "" {
			t.Errorf("PeekType of half an operation = %q", got)
		}
	}
	for _, junk := range [][]byte{nil, {0xa0}, []byte("not cbor"), make([]byte, MaxEnrollBytes+1)} {
		if got := PeekType(junk); got != "" {
			t.Errorf("PeekType(%x…) = %q", junk[:min(len(junk), 8)], got)
		}
	}
}

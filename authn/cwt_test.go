package authn

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
)

// TestCWTVectorRFC8392 checks the CWT decoding against RFC 8392 A.3 (a
// CWT signed with ES256), from the COSE WG examples.
func TestCWTVectorRFC8392(t *testing.T) {
	b, err := os.ReadFile("testdata/cwt/A_3.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Input struct {
			Sign0 struct {
				Key struct {
					X string `json:"x_hex"`
					Y string `json:"y_hex"`
				} `json:"key"`
			} `json:"sign0"`
		} `json:"input"`
		Output struct {
			CBOR string `json:"cbor"`
		} `json:"output"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	msg, _ := hex.DecodeString(v.Output.CBOR)
	x, _ := hex.DecodeString(v.Input.Sign0.Key.X)
	y, _ := hex.DecodeString(v.Input.Sign0.Key.Y)
	pk, err := cose.ParsePublicKey(cose.AlgES256, append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatal(err)
	}
	m, err := cose.Decode(msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Verify(pk, nil); err != nil {
		t.Fatalf("RFC 8392 A.3 signature: %v", err)
	}
	c, err := DecodeCWTClaims(m.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if c.Iss != "coap://as.example.com" || c.Sub != "erikw" || len(c.Aud) != 1 || c.Aud[0] != "coap://light.example.com" ||
		c.Exp != 1444064944 || c.Iat != 1443944944 || c.Jti != "C3E" {
		t.Fatalf("claims %+v", c)
	}
}

func TestCWTTokens(t *testing.T) {
	ctx := context.Background()
	v := fakeView{}
	svc := newParty(t, v, "printer", op.KindService, cose.AlgEdDSA)
	peer := newParty(t, v, "sharing", op.KindService, cose.AlgEdDSA)
	dev := newParty(t, v, "camera", op.KindDevice, cose.AlgEdDSA)
	ok := Decision{OK: true, Reason: OK, Device: dev.id.String(), Kid: dev.kid.String()}
	tok, err := IssueTokenCWT(svc.s, svc.kid, ok, []did.DID{svc.id, peer.id}, now, 300, nonce())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("CWT session token: %d bytes", len(tok))
	if c, d := VerifyTokenCWT(ctx, v, tok, peer.id, now); !d.OK || c.Sub != dev.id.String() || c.Cnf.Kid != dev.kid.String() {
		t.Fatalf("%+v %+v", c, d)
	}
	if _, d := VerifyTokenCWT(ctx, v, tok, peer.id, now+300); d.Reason != FailExpiredToken {
		t.Fatalf("expired: %+v", d)
	}
	v[dev.id].Status = op.StatusRevoked
	if _, d := VerifyTokenCWT(ctx, v, tok, peer.id, now); d.Reason != FailRevoked {
		t.Fatalf("revoked device: %+v", d)
	}
	v[dev.id].Status = op.StatusValidated
	// The unprotected header is not signed: a token padded there is still
	// bounded as a JWT is.
	m, err := cose.Decode(tok)
	if err != nil {
		t.Fatal(err)
	}
	padded, err := cbor.Marshal(cbor.Tag{Number: cose.TagSign1, Content: []any{m.Protected, map[int64][]byte{99: make([]byte, 2*MaxMessage)}, m.Payload, m.Signature}})
	if err != nil {
		t.Fatal(err)
	}
	if _, d := VerifyTokenCWT(ctx, v, padded, peer.id, now); d.Reason != FailMalformed {
		t.Fatalf("a token of %d bytes: %+v", len(padded), d)
	}
	tok[len(tok)-1] ^= 1
	if _, d := VerifyTokenCWT(ctx, v, tok, peer.id, now); d.Reason != FailBadSignature {
		t.Fatalf("tampered: %+v", d)
	}
}

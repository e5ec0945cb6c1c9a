package authn

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/op"
)

func TestParseOrigin(t *testing.T) {
	long := "https://" + strings.Repeat("a.", 125) + "example" // 265 bytes
	for name, c := range map[string]struct{ in, want string }{
		"ok/https":                  {"https://printer.example", "https://printer.example"},
		"ok/case":                   {"HTTPS://Printer.EXAMPLE", "https://printer.example"},
		"ok/default-port-https":     {"https://printer.example:443", "https://printer.example"},
		"ok/default-port-http":      {"http://printer.example:80", "http://printer.example"},
		"ok/default-port-coap":      {"coap://sensor.example:5683", "coap://sensor.example"},
		"ok/default-port-coaps":     {"coaps://sensor.example:5684", "coaps://sensor.example"},
		"ok/other-port":             {"https://printer.example:8443", "https://printer.example:8443"},
		"ok/port-of-another-scheme": {"http://printer.example:443", "http://printer.example:443"},
		"ok/port-leading-zeros":     {"https://printer.example:0443", "https://printer.example"},
		"ok/ipv4":                   {"http://127.0.0.1:41234", "http://127.0.0.1:41234"},
		"ok/ipv6":                   {"coaps://[2001:DB8:0:0::1]:5700", "coaps://[2001:db8::1]:5700"},
		"ok/ipv6-loopback":          {"http://[0:0:0:0:0:0:0:1]", "http://[::1]"},
		"ok/ipv4-mapped-ipv6":       {"https://[::FFFF:192.0.2.1]", "https://[::ffff:192.0.2.1]"},
		"ok/a-label":                {"https://xn--bcher-kva.example", "https://xn--bcher-kva.example"},
		"fail/empty":                {"", ""},
		"fail/no-scheme":            {"printer.example", ""},
		"fail/scheme-only":          {"https://", ""},
		"fail/other-scheme":         {"ftp://printer.example", ""},
		"fail/ws-scheme":            {"wss://printer.example", ""},
		"fail/trailing-slash":       {"https://printer.example/", ""},
		"fail/path":                 {"https://printer.example/print", ""},
		"fail/query":                {"https://printer.example?x=1", ""},
		"fail/empty-query":          {"https://printer.example?", ""},
		"fail/fragment":             {"https://printer.example#top", ""},
		"fail/userinfo":             {"https://printer.example@relay.example", ""},
		"fail/userinfo-password":    {"https://u:p@printer.example", ""},
		"fail/opaque":               {"https:printer.example", ""},
		"fail/port-zero":            {"https://printer.example:0", ""},
		"fail/port-too-large":       {"https://printer.example:65536", ""},
		"fail/port-empty":           {"https://printer.example:", ""},
		"fail/port-not-a-number":    {"https://printer.example:https", ""},
		"fail/ipv6-zone":            {"http://[fe80::1%25eth0]", ""},
		"fail/ipv6-unbracketed":     {"http://2001:db8::1", ""},
		"fail/ipv4-in-brackets":     {"http://[127.0.0.1]", ""},
		"fail/percent-encoded":      {"https://printer%2eexample", ""},
		"fail/non-ascii":            {"https://bücher.example", ""},
		"fail/underscore":           {"https://print_er.example", ""},
		"fail/empty-label":          {"https://printer..example", ""},
		"fail/trailing-dot":         {"https://printer.example.", ""},
		"fail/hyphen-first":         {"https://-printer.example", ""},
		"fail/space":                {"https://printer example", ""},
		"fail/too-long":             {long, ""},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := ParseOrigin(c.in)
			if c.want == "" {
				if err == nil || !errors.Is(err, ErrNotOrigin) {
					t.Fatalf("ParseOrigin(%q) = %q, %v; want ErrNotOrigin", c.in, got, err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("ParseOrigin(%q) = %q, %v; want %q", c.in, got, err, c.want)
			}
			if again, err := ParseOrigin(got); err != nil || again != got {
				t.Fatalf("not idempotent: %q, then %q, %v", got, again, err)
			}
		})
	}
}

// FuzzParseOrigin: whatever it reads, an origin it returns is bounded,
// normalized (it reads back as itself) and nothing but scheme, host and
// port.
func FuzzParseOrigin(f *testing.F) {
	for _, s := range []string{"https://printer.example", "HTTPS://P.example:443", "coaps://[2001:db8::1]:5700", "http://127.0.0.1:8080",
		"https://a@b", "https://a/b", "https://a?b", "https://a#b", "http://[fe80::1%25eth0]", "https://a:0", "coap://a:65535", "#0\x16\xff\x00\x16"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseOrigin(s)
		if err != nil {
			if !errors.Is(err, ErrNotOrigin) || len(err.Error()) > 300 {
				t.Fatalf("ParseOrigin(%q): %v", s, err)
			}
			return
		}
		if len(o) > MaxOrigin || strings.ContainsAny(o, "@?#%\\ ") || strings.Count(o, "/") != 2 || o != strings.ToLower(o) {
			t.Fatalf("ParseOrigin(%q) = %q", s, o)
		}
		if again, err := ParseOrigin(o); err != nil || again != o {
			t.Fatalf("ParseOrigin(%q) = %q, then %q, %v", s, o, again, err)
		}
	})
}

// TestOriginOf: the origin of a request's URL drops its path, query and
// fragment, and refuses user information.
func TestOriginOf(t *testing.T) {
	for in, want := range map[string]string{
		"https://Printer.example:443/v1/print?copies=2#x": "https://printer.example",
		"http://127.0.0.1:8080/":                          "http://127.0.0.1:8080",
		"coaps://[2001:db8::1]/sensors/t":                 "coaps://[2001:db8::1]",
		"https://printer.example@relay.example/print":     "",
		"file:///etc/passwd":                              "",
		"/relative":                                       "",
	} {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := OriginOf(u)
		if want == "" {
			if err == nil {
				t.Errorf("OriginOf(%q) = %q, want an error", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("OriginOf(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestOriginRoundTrip: the origin of a challenge and a proof survives
// encoding and decoding, in both encodings, and a challenge whose origin
// is not normalized is neither signed nor decoded.
func TestOriginRoundTrip(t *testing.T) {
	v := fakeView{}
	svc := newParty(t, v, "printer", op.KindService, cose.AlgEdDSA)
	dev := newParty(t, v, "camera", op.KindDevice, cose.AlgES256)
	for _, enc := range []Encoding{COSE, JWS} {
		for _, origin := range []string{"https://printer.example", "coaps://[2001:db8::1]:5700", "http://127.0.0.1:41234", "coap://" + strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 50)} {
			t.Run(string(enc)+"/"+origin[:min(len(origin), 30)], func(t *testing.T) {
				c := NewChallenge(svc.kid, origin, nonce(), now, 60)
				cb, err := SignChallenge(svc.s, c, enc)
				if err != nil {
					t.Fatal(err)
				}
				if len(cb) > MaxMessage {
					t.Fatalf("a challenge of %d bytes", len(cb))
				}
				got, d := VerifyChallenge(context.Background(), v, origin, cb, now)
				if !d.OK || got.Origin != origin || !bytes.Equal(got.Nonce, c.Nonce) {
					t.Fatalf("challenge: %+v, %+v", got, d)
				}
				p := &Proof{Device: dev.id, Kid: dev.kid, Service: svc.id, Origin: origin, ServiceNonce: c.Nonce, DeviceNonce: nonce(), IssuedAt: now}
				pb, err := SignProof(dev.s, p, enc)
				if err != nil {
					t.Fatal(err)
				}
				if enc == COSE && len(pb) >= 200 {
					t.Fatalf("COSE proof is %d bytes, want < 200", len(pb))
				}
				gotP, s, err := DecodeProof(pb, origin)
				if err != nil || gotP.Origin != origin || !s.Verify(dev.s.Public()) {
					t.Fatalf("proof: %+v, %v", gotP, err)
				}
				if _, s, err := DecodeProof(pb, "https://relay.example"); err == nil && s.Verify(dev.s.Public()) && enc == COSE {
					t.Fatal("a COSE proof verifies for another origin")
				}
			})
		}
		bad := NewChallenge(svc.kid, "HTTPS://Printer.example:443", nonce(), now, 60)
		if _, err := SignChallenge(svc.s, bad, enc); err == nil {
			t.Errorf("%s: signed a challenge whose origin is not normalized", enc)
		}
		raw := signedChallenge(t, svc, bad, enc, bad.Origin)
		if _, _, err := DecodeChallenge(raw); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: decoded a challenge whose origin is not normalized: %v", enc, err)
		}
	}
}

// TestTamperedOrigin: the origin is under the service's signature; a
// relay that rewrites it to its own gets a challenge that no device
// accepts.
func TestTamperedOrigin(t *testing.T) {
	v := fakeView{}
	svc := newParty(t, v, "printer", op.KindService, cose.AlgEdDSA)
	for _, enc := range []Encoding{COSE, JWS} {
		cb, err := SignChallenge(svc.s, NewChallenge(svc.kid, "https://printer.example", nonce(), now, 60), enc)
		if err != nil {
			t.Fatal(err)
		}
		var tampered []byte
		if enc == COSE {
			// The origin is a CBOR text string in the payload; one of the
			// same length takes its place.
			tampered = bytes.Replace(cb, []byte("https://printer.example"), []byte("https://relayer.example"), 1)
		} else {
			parts := strings.Split(string(cb), ".")
			claims, _ := b64.DecodeString(parts[1])
			claims = bytes.Replace(claims, []byte("https://printer.example"), []byte("https://relay.example"), 1)
			tampered = []byte(parts[0] + "." + b64.EncodeToString(claims) + "." + parts[2])
		}
		if bytes.Equal(tampered, cb) {
			t.Fatalf("%s: nothing tampered", enc)
		}
		relay := "https://relayer.example"
		if enc == JWS {
			relay = "https://relay.example"
		}
		if c, d := VerifyChallenge(context.Background(), v, relay, tampered, now); d.Reason != FailBadSignature {
			t.Errorf("%s: a tampered origin: %+v, %+v; want %s", enc, c, d, FailBadSignature)
		}
	}
}

// signedChallenge signs c's claims with the origin given, past the
// checks of SignChallenge.
func signedChallenge(t *testing.T, svc party, c *Challenge, enc Encoding, origin string) []byte {
	t.Helper()
	var b []byte
	var err error
	if enc == COSE {
		var payload []byte
		if payload, err = op.Marshal(challengeCBOR{Nonce: c.Nonce, IssuedAt: c.IssuedAt, Expires: c.Expires, Origin: origin}); err == nil {
			b, err = cose.Sign1(svc.s, []byte(c.Kid.String()), payload, aadChallenge)
		}
	} else {
		b, err = signJWS(svc.s, c.Kid, TypChallenge, challengeJWT{Iss: c.Service.String(), Net: c.Network, Origin: origin, Nonce: b64.EncodeToString(c.Nonce), Iat: c.IssuedAt, Exp: c.Expires})
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// challengeWithoutOrigin is c signed in the form before origins (no
// origin member at all).
func challengeWithoutOrigin(t *testing.T, svc party, c *Challenge, enc Encoding) []byte {
	t.Helper()
	var b []byte
	var err error
	if enc == COSE {
		var payload []byte
		if payload, err = op.Marshal(map[int]any{1: c.Nonce, 2: c.IssuedAt, 3: c.Expires}); err == nil {
			b, err = cose.Sign1(svc.s, []byte(c.Kid.String()), payload, aadChallenge)
		}
	} else {
		b, err = signJWS(svc.s, c.Kid, TypChallenge, map[string]any{"iss": c.Service.String(), "net": c.Network, "nonce": b64.EncodeToString(c.Nonce), "iat": c.IssuedAt, "exp": c.Expires})
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

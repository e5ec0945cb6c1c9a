package oauth

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/sdk"
)

// TestNewRefuses: a server needs a valid issuer, its parts, and a
// lifetime within bounds.
func TestNewRefuses(t *testing.T) {
	k, _, err := cose.GenerateKey(cose.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	ok := Config{Issuer: "https://id.example", Provider: did.New("local", []byte("p")), Key: k, KeyID: "oauth-1",
		Ledger: fakeLedger{}, Access: fakeAccess{}, Spent: authn.NewMemorySpentSet(16), Rand: rand.Reader}
	if s, err := New(ok); err != nil || s.TokenEndpoint() != "https://id.example/oauth/token" || s.lifetime != DefaultLifetime {
		t.Fatalf("the base config: %v", err)
	}
	for name, mod := range map[string]func(c *Config){
		"fail/http-issuer":    func(c *Config) { c.Issuer = "http://id.example" },
		"fail/issuer-path-/":  func(c *Config) { c.Issuer = "https://id.example/" },
		"fail/no-key":         func(c *Config) { c.Key = nil },
		"fail/bad-key-id":     func(c *Config) { c.KeyID = "a#b" },
		"fail/no-ledger":      func(c *Config) { c.Ledger = nil },
		"fail/long-lifetime":  func(c *Config) { c.Lifetime = MaxLifetime + 1 },
		"fail/negative-life":  func(c *Config) { c.Lifetime = -1 },
		"fail/no-randomness":  func(c *Config) { c.Rand = nil },
		"fail/no-spent-set":   func(c *Config) { c.Spent = nil },
		"fail/no-provider":    func(c *Config) { c.Provider = did.DID{} },
		"fail/issuer-query":   func(c *Config) { c.Issuer = "https://id.example?a=b" },
		"fail/issuer-userinf": func(c *Config) { c.Issuer = "https://u@id.example" },
	} {
		c := ok
		mod(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, iss := range []string{"https://id.operator-b.example", "https://id.example/tenant", "http://127.0.0.1:8080", "http://localhost:1"} {
		if err := CheckIssuer(iss); err != nil {
			t.Errorf("%s: %v", iss, err)
		}
	}
}

// TestScope: the scope parameter's syntax (RFC 6749 section 3.3) and
// bounds.
func TestScope(t *testing.T) {
	if s, e := parseScope("read openid print:color"); e != nil || len(s) != 3 {
		t.Fatalf("%v %v", s, e)
	}
	for name, in := range map[string]string{
		"fail/double-space": "a  b",
		"fail/leading":      " a",
		"fail/repeated":     "a a",
		"fail/quote":        `a"b`,
		"fail/backslash":    `a\b`,
		"fail/control":      "a\tb",
		"fail/non-ascii":    "caf\u00e9",
		"fail/too-long":     strings.Repeat("a", MaxScopeLen+1),
		"fail/too-many":     "a b c d e f g h i",
	} {
		if _, e := parseScope(in); e == nil || e.Code != ErrInvalidScope {
			t.Errorf("%s: %v", name, e)
		}
	}
}

// fakeLedger and fakeAccess stand for the ledger and the decider where a
// test decides nothing.
type fakeLedger struct{ Ledger }

type fakeAccess struct{}

func (fakeAccess) Access(context.Context, sdk.AccessRequest, int64) (authn.Decision, error) {
	return authn.Decision{}, nil
}

func (fakeAccess) Verify(context.Context, []byte, []byte, map[string]string, int64) (authn.Decision, error) {
	return authn.Decision{}, nil
}

// TestMetadataPathFor: RFC 8414 section 3 inserts the well-known suffix
// between the host and the issuer's path; an issuer without a path has
// no such second place.
func TestMetadataPathFor(t *testing.T) {
	k, _, err := cose.GenerateKey(cose.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	server := func(iss string, anonymous bool) *Server {
		s, err := New(Config{Issuer: iss, Provider: did.New("local", []byte("p")), Key: k, KeyID: "oauth-1",
			Ledger: fakeLedger{}, Access: fakeAccess{}, Spent: authn.NewMemorySpentSet(16), Rand: rand.Reader, AnonymousIntrospection: anonymous})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tenant := server("https://id.example/tenant/b", false)
	for path, want := range map[string]bool{
		"/.well-known/oauth-authorization-server/tenant/b":  true,
		"/.well-known/oauth-authorization-server/tenant":    false,
		"/.well-known/oauth-authorization-server":           false,
		"/.well-known/oauth-authorization-server/tenant/b/": false,
	} {
		if got := tenant.MetadataPathFor(path); got != want {
			t.Errorf("%s: %v", path, got)
		}
	}
	if server("https://id.example", false).MetadataPathFor("/.well-known/oauth-authorization-server/") {
		t.Error("an issuer without a path has its metadata at one place")
	}
	// Introspection without client authentication: refused unless the
	// operator opted in, and the metadata says which.
	req := &IntrospectRequest{Token: "x"}
	if _, e := tenant.IntrospectFor(t.Context(), req, 1); e == nil || e.Code != ErrInvalidClient || e.Status != 401 {
		t.Errorf("fail/anonymous: %v", e)
	}
	if m := tenant.Metadata().IntrospectionEndpointAuthMethodsSupported; len(m) != 1 || m[0] != "private_key_jwt" {
		t.Errorf("metadata: %v", m)
	}
	open := server("https://id.example", true)
	if out, e := open.IntrospectFor(t.Context(), req, 1); e != nil || out == nil || out.Active {
		t.Errorf("anonymous, opted in: %+v %v", out, e)
	}
	if m := open.Metadata().IntrospectionEndpointAuthMethodsSupported; len(m) != 2 || m[1] != "none" {
		t.Errorf("metadata, opted in: %v", m)
	}
}

// TestCheckAuthorization: an Authorization header is refused with the
// scheme it tried, whatever that scheme is; none is nothing to refuse.
func TestCheckAuthorization(t *testing.T) {
	if e := CheckAuthorization(""); e != nil {
		t.Fatal(e)
	}
	for hdr, scheme := range map[string]string{
		"Basic YTpi":            "Basic",
		"Bearer abc":            "Bearer",
		"DPoP abc":              "DPoP",
		"basic":                 "basic",
		"Bad\"Scheme x":         "Basic",
		strings.Repeat("A", 40): "Basic",
	} {
		e := CheckAuthorization(hdr)
		if e == nil || e.Code != ErrInvalidClient || e.Status != 401 || e.Scheme != scheme {
			t.Errorf("%q: %+v", hdr, e)
		}
	}
}

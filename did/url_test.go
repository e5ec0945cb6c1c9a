package did

import (
	"errors"
	"net/http"
	"testing"
)

func TestParseURL(t *testing.T) {
	base := New("local", []byte("x")).String()
	for _, c := range []struct {
		in                  string
		path, frag, service string
		ok                  bool
	}{
		{base, "", "", "", true},
		{base + "#k1", "", "k1", "", true},
		{base + "#k%31", "", "k1", "", true},
		{base + "?service=api&relativeRef=%2Fa%2Fb", "", "", "api", true},
		{base + "?service=api#intro", "", "intro", "api", true},
		{base + "/a/b", "/a/b", "", "", true},
		{base + "?service=a&service=b", "", "", "", false}, // ambiguous
		{base + "#", "", "", "", false},
		{base + "#a b", "", "", "", false},
		{base + "?x=%zz", "", "", "", false},
		{base + "?=v", "", "", "", false},
		{"did:bias:local:NOT#k1", "", "", "", false},
		{"did:web:example.com#k1", "", "", "", false},
	} {
		u, err := ParseURL(c.in)
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v", c.in, err)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrURLSyntax) {
				t.Errorf("%s: %v does not wrap ErrURLSyntax", c.in, err)
			}
			continue
		}
		if u.DID.String() != base || u.Path != c.path || u.Fragment != c.frag || u.Query[ParamService] != c.service {
			t.Errorf("%s: %+v", c.in, u)
		}
		if u.IsDID() != (c.in == base) {
			t.Errorf("%s: IsDID %v", c.in, u.IsDID())
		}
	}
	if _, err := ParseURL(base + "#" + string(make([]byte, MaxURL))); err == nil {
		t.Error("an unbounded DID URL parsed")
	}
}

func TestProblems(t *testing.T) {
	for kw, status := range map[string]int{
		ErrInvalidDID: 400, ErrInvalidDIDURL: 400, ErrInvalidOptions: 400, ErrNotFound: 404,
		ErrRepresentationUnsupported: 406, ErrMethodNotSupported: 501, ErrFeatureNotSupported: 501, ErrInternal: 500,
	} {
		p := NewProblem(kw, "d")
		if p.Keyword() != kw || p.Status() != status || p.Title == "" || p.Detail != "d" || p.Type[:len(ProblemTypeBase)] != ProblemTypeBase {
			t.Errorf("%s: %+v status %d", kw, p, p.Status())
		}
	}
	if p := (&Problem{Type: "https://example.com/other"}); p.Keyword() != "" || p.Status() != http.StatusInternalServerError {
		t.Errorf("a type outside the table: %q %d", p.Keyword(), p.Status())
	}
}

func TestServiceSelection(t *testing.T) {
	d := &Document{ID: "did:bias:n:x", Service: []Service{
		{ID: "did:bias:n:x#api", Type: "PrintService", ServiceEndpoint: "https://p.example/api/"},
		{ID: "did:bias:n:x#t", Type: "Telemetry", ServiceEndpoint: "coaps://t.example/t"},
		{ID: "did:bias:n:x#f", Type: "Telemetry", ServiceEndpoint: "https://f.example/#top"},
	}}
	for sel, n := range map[[2]string]int{{"api", ""}: 1, {"#api", ""}: 1, {"did:bias:n:x#api", ""}: 1, {"", "Telemetry"}: 2, {"t", "PrintService"}: 0, {"nope", ""}: 0} {
		if got := d.SelectServices(sel[0], sel[1]); len(got.Service) != n {
			t.Errorf("select %v: %d services", sel, len(got.Service))
		}
	}
	if len(d.Service) != 3 {
		t.Fatal("SelectServices changed the document")
	}
	for _, c := range []struct {
		svc       Service
		ref, frag string
		want      string
	}{
		{d.Service[0], "", "", "https://p.example/api/"},
		{d.Service[0], "v1/status?x=1", "", "https://p.example/api/v1/status?x=1"},
		{d.Service[0], "/doc", "intro", "https://p.example/doc#intro"},
		{d.Service[1], "", "k", "coaps://t.example/t#k"},
	} {
		got, err := ServiceURLs([]Service{c.svc}, c.ref, c.frag)
		if err != nil || len(got) != 1 || got[0] != c.want {
			t.Errorf("%s + %q #%s: %v %v, want %s", c.svc.ServiceEndpoint, c.ref, c.frag, got, err, c.want)
		}
	}
	if _, err := ServiceURLs(d.Service[2:], "", "x"); !errors.Is(err, ErrEndpoint) {
		t.Errorf("a fragment on an endpoint with one: %v", err)
	}
	if _, err := ServiceURLs(d.Service[:1], "https://evil.example/", ""); !errors.Is(err, ErrEndpoint) {
		t.Errorf("an absolute relativeRef: %v", err)
	}
	if v, ok := d.Fragment("t"); !ok || v.(Service).Type != "Telemetry" {
		t.Errorf("fragment t: %v %v", v, ok)
	}
	if _, ok := d.Fragment("nope"); ok {
		t.Error("fragment nope found")
	}
}

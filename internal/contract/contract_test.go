package contract

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// regInputs are the inputs of a device's registration.
func regInputs(aliases []string, attrs map[string]string, keyAlg string, ticket map[string]string) map[string]any {
	keys := []map[string]string{{"id": "k1", "alg": keyAlg}}
	var attrKeys []string
	for k := range attrs {
		attrKeys = append(attrKeys, k)
	}
	if ticket == nil {
		ticket = map[string]string{}
	}
	return map[string]any{
		"kind": "device", "provider": "did:bias:local:p", "keys": keys, "aliases": aliases, "attrs": attrs,
		"attr_keys": attrKeys, "endpoints": []map[string]string{}, "ticket": ticket, "has_ticket": len(ticket) > 0,
		"height": int64(10), "time": time.Unix(1_800_000_000, 0).UTC(),
	}
}

// The example contracts of docs/contracts.md.
var examples = map[string]string{
	"tac":       `aliases.exists(a, a.startsWith("urn:imei:35209900") || a.startsWith("urn:imei:49015420")) ? "validate" : "pending"`,
	"serial":    `has_ticket && "serial" in ticket && ticket["serial"] == attrs[?"serial"].orValue("") ? "validate" : "pending"`,
	"p256-only": `attrs[?"class"].orValue("") == "meter" && keys.exists(k, k["alg"] != "ES256") ? "reject: meters must use P-256 keys" : "pending"`,
}

func TestRegistrationExamples(t *testing.T) {
	cases := []struct {
		name, contract string
		in             map[string]any
		want           string
	}{
		{"tac/validate", "tac", regInputs([]string{"urn:imei:35209900-176148-1"}, nil, "EdDSA", nil), Validate},
		{"tac/pending", "tac", regInputs([]string{"urn:imei:12345678-176148-1"}, nil, "EdDSA", nil), Pending},
		{"serial/validate", "serial", regInputs(nil, map[string]string{"serial": "SN1"}, "EdDSA", map[string]string{"serial": "SN1"}), Validate},
		{"serial/pending-mismatch", "serial", regInputs(nil, map[string]string{"serial": "SN2"}, "EdDSA", map[string]string{"serial": "SN1"}), Pending},
		{"serial/pending-no-ticket", "serial", regInputs(nil, map[string]string{"serial": "SN1"}, "EdDSA", nil), Pending},
		{"p256/reject", "p256-only", regInputs(nil, map[string]string{"class": "meter"}, "EdDSA", nil), Reject},
		{"p256/pending", "p256-only", regInputs(nil, map[string]string{"class": "meter"}, "ES256", nil), Pending},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Compile(Registration, examples[c.contract])
			if err != nil {
				t.Fatal(err)
			}
			d := p.Eval(c.in)
			if d.Outcome != c.want {
				t.Fatalf("got %+v, want %s", d, c.want)
			}
			if c.want == Reject && d.Reason != "meters must use P-256 keys" {
				t.Fatalf("reason %q", d.Reason)
			}
		})
	}
}

func TestAccessExample(t *testing.T) {
	// MEC services of operators B and C accept cars of operator A, only in areas 1 and 2.
	p, err := Compile(Access, `device["provider"] == "did:bias:local:a" && request[?"area"].orValue("") in ["1", "2"]`)
	if err != nil {
		t.Fatal(err)
	}
	in := func(prov, area string) map[string]any {
		return map[string]any{
			"device": map[string]string{"did": "d", "provider": prov, "kind": "device"}, "device_attrs": map[string]string{},
			"service": map[string]string{"did": "s", "provider": "did:bias:local:b", "kind": "service"}, "service_attrs": map[string]string{},
			"request": map[string]string{"area": area}, "time": time.Unix(0, 0).UTC(),
		}
	}
	for _, c := range []struct {
		prov, area, want string
	}{{"did:bias:local:a", "1", "allow"}, {"did:bias:local:a", "3", "deny"}, {"did:bias:local:x", "1", "deny"}} {
		if d := p.Eval(in(c.prov, c.area)); d.Outcome != c.want {
			t.Errorf("%s in area %s: %+v, want %s", c.prov, c.area, d, c.want)
		}
	}
}

func TestCompileRejects(t *testing.T) {
	cases := []struct {
		name, kind, src string
		want            error
	}{
		{"fail/syntax", "registration", `"validate" +`, ErrCompile},
		{"fail/unknown-variable", "registration", `owner == "x" ? "validate" : "pending"`, ErrCompile},
		{"fail/wrong-type", "registration", `true`, ErrCompile},
		{"fail/access-wrong-type", "access", `"allow"`, ErrCompile},
		{"fail/empty", "registration", ``, ErrCompile},
		{"fail/too-long", "registration", `"validate"` + strings.Repeat(" ", MaxSource), ErrCompile},
		{"fail/unknown-kind", "governance", `"validate"`, ErrCompile},
		{"fail/map-iteration", "registration", `attrs.exists(k, k == "x") ? "validate" : "pending"`, ErrCompile},
		{"fail/cost", "registration", `aliases.all(a, aliases.all(b, aliases.all(c, aliases.all(d, a + b + c + d != "")))) ? "validate" : "pending"`, ErrCost},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Compile(Kind(c.kind), c.src); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestRuntimeErrorIsAReject(t *testing.T) {
	p, err := Compile(Registration, `attrs["missing"] == "x" ? "validate" : "pending"`)
	if err != nil {
		t.Fatal(err)
	}
	d := p.Eval(regInputs(nil, map[string]string{}, "EdDSA", nil))
	if d.Outcome != Reject || !strings.Contains(d.Reason, "contract error") {
		t.Fatalf("%+v", d)
	}
	if d := p.Eval(map[string]any{}); d.Outcome != Reject {
		t.Fatalf("missing inputs: %+v", d)
	}
}

func FuzzCompileAndEval(f *testing.F) {
	for _, src := range examples {
		f.Add(src, "urn:imei:35209900-176148-1", "SN1")
	}
	f.Add(`"reject: " + attrs["x"]`, "", "")
	f.Fuzz(func(t *testing.T, src, alias, serial string) {
		p, err := Compile(Registration, src)
		if err != nil {
			return
		}
		in := regInputs([]string{alias}, map[string]string{"serial": serial}, "EdDSA", map[string]string{"serial": serial})
		a, b := p.Eval(in), p.Eval(in)
		if a != b {
			t.Fatalf("two evaluations differ: %+v %+v", a, b)
		}
		if a.Outcome != Validate && a.Outcome != Pending && a.Outcome != Reject {
			t.Fatalf("outcome %q", a.Outcome)
		}
		if a.Cost > CostLimit {
			t.Fatalf("cost %d over the limit", a.Cost)
		}
	})
}

func BenchmarkEval(b *testing.B) {
	p, err := Compile(Registration, examples["tac"])
	if err != nil {
		b.Fatal(err)
	}
	in := regInputs([]string{"urn:imei:35209900-176148-1"}, map[string]string{"model": "x"}, "EdDSA", nil)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if d := p.Eval(in); d.Outcome != Validate {
			b.Fatal(d)
		}
	}
}

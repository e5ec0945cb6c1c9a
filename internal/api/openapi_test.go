package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/resolver"
	"github.com/bias-iot/bias/internal/version"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
	"github.com/bias-iot/bias/sdk"
)

// The OpenAPI document must describe what server.go serves: these tests
// fail when a route, a reason code or a view field is added, renamed or
// removed without updating openapi.yaml.

func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("openapi version %q, want 3.1.x", v)
	}
	return doc
}

// dig walks maps by key; nil if a step is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// resolve follows a local $ref ("#/a/b/c") if v is one.
func resolve(t *testing.T, doc map[string]any, v any) any {
	t.Helper()
	for range 8 {
		ref, ok := dig(v, "$ref").(string)
		if !ok {
			return v
		}
		target, ok := strings.CutPrefix(ref, "#/")
		if !ok {
			t.Fatalf("non-local $ref %q", ref)
		}
		v = dig(doc, strings.Split(target, "/")...)
		if v == nil {
			t.Fatalf("$ref %q does not resolve", ref)
		}
	}
	return v
}

func serverSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("server.go")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type routeSpec struct{ method, path string }

// routes extracts the route table of Handler() from the source.
func routes(t *testing.T) []routeSpec {
	t.Helper()
	re := regexp.MustCompile(`route\("([A-Z]+) (/[^"]*)"`)
	var out []routeSpec
	for _, m := range re.FindAllStringSubmatch(serverSource(t), -1) {
		// A trailing {name...} matches the rest of the path: OpenAPI
		// writes it {name}.
		out = append(out, routeSpec{m[1], strings.Replace(m[2], "...}", "}", 1)})
	}
	if len(out) < 5 {
		t.Fatalf("found only %d routes in server.go; did the route() helper change?", len(out))
	}
	return out
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	paths, _ := doc["paths"].(map[string]any)
	if paths == nil {
		t.Fatal("no paths")
	}
	served := map[routeSpec]bool{}
	paramRe := regexp.MustCompile(`\{([^}]+)\}`)
	for _, r := range routes(t) {
		served[r] = true
		item := resolve(t, doc, paths[r.path])
		oper, _ := resolve(t, doc, dig(item, strings.ToLower(r.method))).(map[string]any)
		if oper == nil {
			t.Errorf("%s %s is not documented", r.method, r.path)
			continue
		}
		// Path parameters, declared on the operation or the path item.
		declared := map[string]bool{}
		for _, list := range []any{dig(item, "parameters"), oper["parameters"]} {
			ps, _ := list.([]any)
			for _, p := range ps {
				p := resolve(t, doc, p)
				if dig(p, "in") == "path" {
					name, _ := dig(p, "name").(string)
					if dig(p, "required") != true {
						t.Errorf("%s %s: path parameter %q is not required", r.method, r.path, name)
					}
					declared[name] = true
				}
			}
		}
		for _, m := range paramRe.FindAllStringSubmatch(r.path, -1) {
			if !declared[m[1]] {
				t.Errorf("%s %s: path parameter {%s} is not declared", r.method, r.path, m[1])
			}
			delete(declared, m[1])
		}
		for name := range declared {
			t.Errorf("%s %s: declares path parameter %q that the path lacks", r.method, r.path, name)
		}
		checkResponses(t, doc, r, oper)
	}
	// Nothing documented that is not served.
	for path, item := range paths {
		for _, m := range httpMethods {
			if dig(item, m) != nil && !served[routeSpec{strings.ToUpper(m), path}] {
				t.Errorf("%s %s is documented but not served", strings.ToUpper(m), path)
			}
		}
	}
}

// checkResponses requires a 200 and an ErrorBody for every error status.
func checkResponses(t *testing.T, doc map[string]any, r routeSpec, oper map[string]any) {
	t.Helper()
	resps, _ := oper["responses"].(map[string]any)
	if resps["200"] == nil && (r.method != http.MethodOptions || resps["204"] == nil) {
		t.Errorf("%s %s: no 200 response (204 for a CORS preflight)", r.method, r.path)
	}
	for code, resp := range resps {
		n, err := strconv.Atoi(code)
		if err != nil || n < 100 || n > 599 {
			t.Errorf("%s %s: response %q is not a status code", r.method, r.path, code)
			continue
		}
		if n < 400 {
			continue
		}
		// The resolution routes (/1.0/) answer errors as resolution
		// results, as the DID Resolution spec has them (500 too); the rest as
		// ErrorBody.
		want, ctype := "#/components/schemas/ErrorBody", "application/json"
		if strings.HasPrefix(r.path, "/1.0/") {
			want, ctype = "#/components/schemas/ResolutionResult", "application/did-resolution"
		}
		// The OAuth endpoints answer refusals in RFC 6749's form (a 404 of
		// a node that is no authorization server, and a ledger that does
		// not answer introspection, in the API's).
		if ref, _ := dig(resolve(t, doc, resp), "content", ctype, "schema", "$ref").(string); strings.HasPrefix(r.path, "/oauth/") && ref == "#/components/schemas/OAuthError" {
			continue
		}
		// The OCSP responder answers refusals as OCSP responses (RFC 6960).
		if strings.HasPrefix(r.path, "/v1/x509/ocsp/") && dig(resolve(t, doc, resp), "content", "application/ocsp-response") != nil {
			continue
		}
		ref, _ := dig(resolve(t, doc, resp), "content", ctype, "schema", "$ref").(string)
		if ref != want {
			t.Errorf("%s %s: response %s is not a %s", r.method, r.path, code, want)
		}
	}
}

func TestOpenAPIRefsResolve(t *testing.T) {
	doc := loadOpenAPI(t)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if _, ok := v["$ref"]; ok {
				resolve(t, doc, v)
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
}

func TestOpenAPIDocumentsEveryReason(t *testing.T) {
	doc := loadOpenAPI(t)
	schema := dig(doc, "components", "schemas", "Reason")
	raw, _ := dig(schema, "enum").([]any)
	enum := map[string]bool{}
	for _, v := range raw {
		s, _ := v.(string)
		enum[s] = true
	}
	statuses, _ := dig(schema, "x-reason-status").(map[string]any)
	status := func(r string) (int, bool) {
		n, ok := statuses[r].(int)
		return n, ok
	}
	known := map[string]bool{}

	// Every operation reason, with statusOf's status.
	for _, r := range op.Reasons() {
		known[string(r)] = true
		if !enum[string(r)] {
			t.Errorf("reason %q is not in the Reason enum", r)
		}
		want := statusOf(r)
		if got, ok := status(string(r)); !ok || got != want {
			t.Errorf("x-reason-status[%q] = %v, want %d", r, statuses[string(r)], want)
		}
	}

	// Every reason the API produces itself, with its status.
	for _, x := range Reasons() {
		r := string(x.Reason)
		known[r] = true
		if !enum[r] {
			t.Errorf("API reason %q is not in the Reason enum", r)
		}
		if got, ok := status(r); !ok || got != x.Status {
			t.Errorf("x-reason-status[%q] = %v, want %d", r, statuses[r], x.Status)
		}
	}

	// "http" is the SDK's reason for a non-ErrorBody error response.
	client, err := os.ReadFile("../../sdk/client.go")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(client), `Reason: "http"`) {
		known["http"] = true
	}

	// Nothing documented that nobody produces.
	for r := range enum {
		if !known[r] {
			t.Errorf("Reason enum holds %q, which nothing produces", r)
		}
	}
	for r := range statuses {
		if !enum[r] {
			t.Errorf("x-reason-status holds %q, which is not in the enum", r)
		}
	}
}

// TestOpenAPIDocumentsEveryAuthnReason: the reasons of an authentication
// decision are documented, in their order (an append-only list).
func TestOpenAPIDocumentsEveryAuthnReason(t *testing.T) {
	raw, _ := dig(loadOpenAPI(t), "components", "schemas", "AuthnDecision", "properties", "reason", "enum").([]any)
	var got []string
	for _, v := range raw {
		s, _ := v.(string)
		got = append(got, s)
	}
	var want []string
	for _, r := range authn.Reasons() {
		want = append(want, string(r))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("AuthnDecision.reason enum %v, want authn.Reasons() %v", got, want)
	}
}

// jsonFields returns the JSON names of a struct's fields and which are
// always present (no omitempty).
func jsonFields(typ reflect.Type) (names, required []string) {
	for f := range typ.Fields() {
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
		if !slices.Contains(strings.Split(opts, ","), "omitempty") {
			required = append(required, name)
		}
	}
	sort.Strings(names)
	sort.Strings(required)
	return names, required
}

func schemaFields(t *testing.T, doc map[string]any, name string) (props, required []string) {
	t.Helper()
	s := dig(doc, "components", "schemas", name)
	if s == nil {
		t.Fatalf("no schema %s", name)
	}
	pm, _ := dig(s, "properties").(map[string]any)
	for k := range pm {
		props = append(props, k)
	}
	req, _ := dig(s, "required").([]any)
	for _, r := range req {
		required = append(required, r.(string))
	}
	sort.Strings(props)
	sort.Strings(required)
	return props, required
}

func TestOpenAPIViewSchemas(t *testing.T) {
	doc := loadOpenAPI(t)
	for name, v := range map[string]any{
		"ErrorBody":     sdk.ErrorBody{},
		"SubmitResult":  sdk.SubmitResult{},
		"KeyView":       sdk.KeyView{},
		"EntityView":    sdk.EntityView{},
		"ProofView":     sdk.ProofView{},
		"ProviderView":  sdk.ProviderView{},
		"GovEvent":      record.GovEvent{},
		"StatusView":    sdk.StatusView{},
		"ValidatorView": sdk.ValidatorView{},
		"HeaderView":    sdk.HeaderView{},
		"Endpoint":      op.Endpoint{},
	} {
		names, required := jsonFields(reflect.TypeOf(v))
		props, req := schemaFields(t, doc, name)
		if !slices.Equal(names, props) {
			t.Errorf("schema %s has properties %v; the Go view has %v", name, props, names)
		}
		if !slices.Equal(required, req) {
			t.Errorf("schema %s requires %v; the Go view always sends %v", name, req, required)
		}
	}
}

// cborFields returns the integer keys of a keyasint struct, with each
// field's JSON name.
func cborFields(typ reflect.Type) map[string]string {
	out := map[string]string{}
	for f := range typ.Fields() {
		key, _, _ := strings.Cut(f.Tag.Get("cbor"), ",")
		if key == "" || !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out[key] = name
	}
	return out
}

func TestOpenAPIPayloadSchemas(t *testing.T) {
	doc := loadOpenAPI(t)
	for name, v := range map[string]any{
		"OpPayload":     op.Payload{},
		"OpKey":         op.Key{},
		"OpEndpoint":    op.Endpoint{},
		"OpDocument":    op.Document{},
		"OpRegister":    op.Register{},
		"OpUpdate":      op.Update{},
		"OpStatus":      op.Status{},
		"OpEnroll":      op.Enroll{},
		"OpEnrollEntry": op.EnrollEntry{},
		"OpTicket":      op.Ticket{},
		"OpGov":         op.Gov{},
		"OpProposal":    op.Proposal{},
		"OpAdmit":       op.Admit{},
		"OpValidator":   op.Validator{},
		"OpParams":      op.Params{},
		// Privacy (docs/privacy.md).
		"OpAgreementKey":    op.AgreementKey{},
		"OpPairwise":        op.Pairwise{},
		"OpPairwiseEntry":   op.PairwiseEntry{},
		"OpPairwiseOpening": op.PairwiseOpening{},
	} {
		want := cborFields(reflect.TypeOf(v))
		props, _ := dig(doc, "components", "schemas", name, "properties").(map[string]any)
		if props == nil {
			t.Errorf("no schema %s", name)
			continue
		}
		got := map[string]string{}
		for k, p := range props {
			title, _ := dig(p, "title").(string)
			got[k] = title
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("schema %s has keys %v; op has %v", name, got, want)
		}
	}
	types, _ := dig(doc, "components", "schemas", "OperationType", "enum").([]any)
	var docTypes []string
	for _, v := range types {
		docTypes = append(docTypes, v.(string))
	}
	for _, typ := range []string{op.TypeRegister, op.TypeUpdate, op.TypeDeactivate, op.TypeValidate, op.TypeReject, op.TypeRevoke, op.TypeEnroll, op.TypePropose, op.TypeVote} {
		if !slices.Contains(docTypes, typ) {
			t.Errorf("operation type %q is not in the OperationType enum", typ)
		}
	}
	limits := dig(doc, "paths", "/v1/operations", "post", "requestBody", "content", "application/cose", "x-limits")
	if dig(limits, "maxOpBytes") != op.MaxOpBytes || dig(limits, "maxEnrollBytes") != op.MaxEnrollBytes || dig(limits, "maxEnrollItems") != op.MaxEnrollItems {
		t.Errorf("x-limits %v differ from op's limits", limits)
	}
}

// statusLedger answers Status and nothing else.
type statusLedger struct{ ledger.Ledger }

func (statusLedger) Status(context.Context) (*ledger.Status, error) {
	return &ledger.Status{Network: "local", NodeID: "n0", Height: 7, AppHash: []byte{1}, Time: time.Unix(1, 0)}, nil
}

func TestOpenAPIServed(t *testing.T) {
	doc := loadOpenAPI(t)
	srv := httptest.NewServer(New(Config{Ledger: statusLedger{}, Resolver: resolver.New(statusLedger{}, "local"), Log: slog.New(slog.DiscardHandler)}).Handler())
	defer srv.Close()
	get := func(path string) (*http.Response, []byte) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}

	resp, b := get("/v1/openapi.yaml")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/yaml" {
		t.Errorf("GET /v1/openapi.yaml: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
	}
	// It is the document, with info.version this build's version.
	var served map[string]any
	if err := yaml.Unmarshal(b, &served); err != nil {
		t.Fatalf("the served document: %v", err)
	}
	if v := dig(served, "info", "version"); v != version.Get().Version {
		t.Errorf("served info.version %v, want the build's %q", v, version.Get().Version)
	}
	served["info"].(map[string]any)["version"] = dig(doc, "info", "version")
	if !reflect.DeepEqual(served, doc) {
		t.Error("the served document differs from openapi.yaml beyond info.version")
	}
	if id := resp.Header.Get("X-Request-Id"); !regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`).MatchString(id) {
		t.Errorf("GET /v1/openapi.yaml: X-Request-Id %q", id)
	}

	// The JSON of /healthz (a map in server.go) matches its schema.
	resp, b = get("/healthz")
	var health map[string]any
	if err := json.Unmarshal(b, &health); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz: %d %s", resp.StatusCode, b)
	}
	var keys []string
	for k := range health {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if props, _ := schemaFields(t, doc, "Health"); !slices.Equal(keys, props) {
		t.Errorf("/healthz sends %v; the Health schema has %v", keys, props)
	}

	// An unknown route is an ErrorBody with reason not-found.
	resp, b = get("/v1/nothing")
	var eb sdk.ErrorBody
	if err := json.Unmarshal(b, &eb); err != nil || resp.StatusCode != http.StatusNotFound || eb.Reason != "not-found" {
		t.Errorf("GET /v1/nothing: %d %s", resp.StatusCode, b)
	}
}

// TestMethodNotAllowed: a known path with another method is 405 with
// Allow, in the error format; an unknown path is 404.
func TestMethodNotAllowed(t *testing.T) {
	srv := httptest.NewServer(New(Config{Ledger: statusLedger{}, Resolver: resolver.New(statusLedger{}, "local"), Log: slog.New(slog.DiscardHandler)}).Handler())
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/v1/status", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var eb struct{ Reason string }
	err = json.NewDecoder(resp.Body).Decode(&eb)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("DELETE /v1/status: decoding the error body: %v", err)
	}
	if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(resp.Header.Get("Allow"), "GET") || eb.Reason != "method-not-allowed" {
		t.Fatalf("DELETE /v1/status: %d %q %q", resp.StatusCode, resp.Header.Get("Allow"), eb.Reason)
	}
	resp, err = http.Get(srv.URL + "/nowhere")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown path: %d", resp.StatusCode)
	}
}

// TestOpenAPIStamp: stampOpenAPI sets info.version to any version string
// (quoted, so that YAML reads it back as the same string) and changes no
// other line.
func TestOpenAPIStamp(t *testing.T) {
	for _, v := range []string{"v1.2.3", "devel", "v0.0.0-20261201170000-abcdef123456", `odd "quoted": #not-a-comment`, "1", "ünïcode\n"} {
		got := stampOpenAPI(openAPI, v)
		var doc map[string]any
		if err := yaml.Unmarshal(got, &doc); err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if s, ok := dig(doc, "info", "version").(string); !ok || s != v {
			t.Errorf("%q: info.version %#v", v, dig(doc, "info", "version"))
		}
		a, b := strings.Split(string(openAPI), "\n"), strings.Split(string(got), "\n")
		if len(a) != len(b) {
			t.Fatalf("%q: %d lines, want %d", v, len(b), len(a))
		}
		changed := 0
		for i := range a {
			if a[i] != b[i] {
				changed++
			}
		}
		if changed != 1 {
			t.Errorf("%q: %d lines changed, want 1", v, changed)
		}
	}
	if got := stampOpenAPI([]byte("openapi: 3.1.0\n"), "v1"); string(got) != "openapi: 3.1.0\n" {
		t.Errorf("a document without info: %q", got)
	}
}

// TestOpenAPIRequestIdEveryResponse: every response the document
// describes (of every operation, and of components.responses) lists the
// X-Request-Id header that observe sets on every response.
func TestOpenAPIRequestIdEveryResponse(t *testing.T) {
	doc := loadOpenAPI(t)
	if dig(doc, "components", "headers", "RequestId", "schema", "pattern") == nil {
		t.Fatal("components.headers.RequestId has no schema pattern")
	}
	check := func(where string, r any) {
		r = resolve(t, doc, r)
		h := resolve(t, doc, dig(r, "headers", RequestIDHeader))
		if h == nil || !reflect.DeepEqual(h, dig(doc, "components", "headers", "RequestId")) {
			t.Errorf("%s: no %s response header", where, RequestIDHeader)
		}
	}
	n := 0
	paths, _ := doc["paths"].(map[string]any)
	for p, item := range paths {
		for _, m := range httpMethods {
			oper, _ := dig(resolve(t, doc, item), m).(map[string]any)
			rs, _ := oper["responses"].(map[string]any)
			for code, r := range rs {
				check(m+" "+p+" "+code, r)
				n++
			}
		}
	}
	comps, _ := dig(doc, "components", "responses").(map[string]any)
	for name, r := range comps {
		check("components.responses."+name, r)
	}
	if n < 100 {
		t.Errorf("only %d responses found", n)
	}
}

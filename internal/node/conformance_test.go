package node_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/api"
	"github.com/bias-iot/bias/internal/jsonldcheck"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
)

// answer is one HTTP answer of the resolver.
type answer struct {
	status     int
	ctype, loc string
	cors       string
	body       []byte
	m          map[string]any // the body as JSON, nil if it is not
}

// fetchRaw GETs a path (already encoded) without following redirects.
func fetchRaw(t *testing.T, h *nodetest.Harness, path, accept string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.Node.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), loc: resp.Header.Get("Location"), cors: resp.Header.Get("Access-Control-Allow-Origin"), body: b}
	_ = json.Unmarshal(b, &a.m)
	// Every JSON-LD answer expands and canonicalizes in safe mode, with
	// only the embedded contexts: the body, or the document or content a
	// result says is JSON-LD.
	ld := func(what string, v []byte) {
		t.Helper()
		if err := jsonldcheck.Check(v); err != nil {
			t.Errorf("%s: %s: not JSON-LD in safe mode: %v\n%s", path, what, err, v)
		}
	}
	switch a.ctype {
	case did.MediaTypeLDJSON, "application/ld+json", did.MediaTypeDID, did.MediaTypeResolutionLD:
		ld("the body, "+a.ctype, b)
	}
	for meta, content := range map[string]string{"didResolutionMetadata": "didDocument", "dereferencingMetadata": "contentStream"} {
		if ct, _ := obj(a.m[meta])["contentType"].(string); strings.HasSuffix(ct, "ld+json") && a.m[content] != nil {
			v, _ := json.Marshal(a.m[content])
			ld(content, v)
		}
	}
	if a.status != http.StatusNoContent && !slices.Contains(resp.Header.Values("Vary"), "Accept") {
		t.Errorf("%s: no Vary: Accept", path)
	}
	return a
}

// identifiers is the resolution path of a DID or DID URL, encoded as DID
// Resolution's HTTP binding has it (RFC 3986 section 2.1).
func identifiers(didURL string) string { return "/1.0/identifiers/" + url.PathEscape(didURL) }

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }

// problemOf is the error object of a result of either form.
func problemOf(m map[string]any) map[string]any {
	if md := obj(m["didResolutionMetadata"]); md != nil {
		return obj(md["error"])
	}
	return obj(obj(m["dereferencingMetadata"])["error"])
}

// datetime is DID Resolution's datetime: UTC, no sub-second digits.
var datetime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

// checkMetadata checks a metadata structure against DID Core section
// 7.3: every value a string, map, list, boolean or null, never a number;
// the times in the datetime form; deactivated a boolean.
func checkMetadata(t *testing.T, what string, md map[string]any) {
	t.Helper()
	for k, v := range md {
		switch v.(type) {
		case string, bool, map[string]any, []any, nil:
		default:
			t.Errorf("%s.%s is a %T (%v)", what, k, v, v)
		}
		if k == "created" || k == "updated" || k == "nextUpdate" {
			if s, _ := v.(string); !datetime.MatchString(s) {
				t.Errorf("%s.%s = %v: not a DID Resolution datetime", what, k, v)
			}
		}
		if k == "deactivated" {
			if _, ok := v.(bool); !ok {
				t.Errorf("%s.deactivated is not a boolean", what)
			}
		}
	}
}

// TestResolverConformance is written from W3C DID Resolution v1.0 (the
// HTTP(S) binding, the resolution and dereferencing algorithms, the error
// table) and DID Core section 7.3: a named case for each error row, each
// media type, each DID URL form bias dereferences, and versionTime's
// edges.
func TestResolverConformance(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	s := nodetest.NewKey(t, cose.AlgEdDSA)
	p := h.RegisterPayload(op.KindDevice, h.Provider.DID, s)
	p.Register.Doc.Endpoints = []op.Endpoint{
		{ID: "telemetry", Type: "TelemetryService", URI: "coaps://dev.example/t"},
		{ID: "api", Type: "PrintService", URI: "https://dev.example/api/"},
		{ID: "iri", Type: "https://schema.example/ns#Camera", URI: "https://dev.example/cam"},
		{ID: "odd", Type: "Telemetry.v2~x_y-z", URI: "urn:example:telemetry"},
	}
	tx, id := h.SignRegister(s, p)
	h.MustSubmit(tx)
	dev := id.String()
	v1 := h.Entity(id)
	// Version 1 alone in its second: later versions in a later one. (A
	// block carries its predecessor's commit time, refreshed only after a
	// pause longer than cometledger's MaxTimeLag: one more block after this
	// short pause carries the later time.)
	time.Sleep(time.Until(v1.Created.Truncate(time.Second).Add(1100 * time.Millisecond)))
	h.Register(op.KindDevice, h.Provider.DID, cose.AlgEdDSA)

	// Versions 2 and 3 in one second (retried until two are): the time
	// finds the later, versionId tells them apart.
	var v2, v3 time.Time
	var last uint64
	keys := []cose.Signer{s}
	update := func(v uint64) time.Time {
		k := nodetest.NewKey(t, cose.AlgES256)
		// Version v holds key "k<v>" (version 1: k1), signed by the last.
		h.MustSubmit(h.Sign(keys[len(keys)-1], id.WithFragment("k"+itoa(v-1)), op.Payload{Type: op.TypeUpdate, Update: &op.Update{
			DID: dev, Version: v - 1, Doc: op.Document{Keys: []op.Key{op.KeyFrom("k"+itoa(v), k.Public())}, Endpoints: p.Register.Doc.Endpoints},
		}}))
		keys = append(keys, k)
		return h.Entity(id).Updated
	}
	for v := uint64(2); ; v += 2 {
		if v > 8 {
			t.Fatal("no two versions made in one second")
		}
		v2, v3 = update(v), update(v+1)
		if v2.Truncate(time.Second).Equal(v3.Truncate(time.Second)) {
			t.Logf("versions %d and %d at %s and %s", v, v+1, v2.Format(time.RFC3339Nano), v3.Format(time.RFC3339Nano))
			testOneSecond(t, h, dev, v, v3)
			last = v + 1
			break
		}
	}
	cur := h.Entity(id)
	kLast := "k" + itoa(last)

	gone := h.Register(op.KindDevice, h.Provider.DID, cose.AlgEdDSA)
	if _, err := h.Submit(h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeDeactivate, Status: &op.Status{DID: gone.DID.String(), Version: 1}})); err != nil {
		t.Fatal(err)
	}
	other := did.New(h.Network, []byte("nobody")).String()

	t.Run("errors", func(t *testing.T) {
		for _, c := range []struct {
			name, path, accept string
			status             int
			typ                string
			deref              bool
		}{
			{"invalidDid/syntax", identifiers("did:bias:local:NOT-BASE32"), "", 400, "INVALID_DID", false},
			{"invalidDid/method-case", identifiers("did:Web:example.com"), "", 400, "INVALID_DID", false},
			{"invalidDid/not-a-did", identifiers("urn:uuid:1234"), "", 400, "INVALID_DID", false},
			{"invalidDidUrl/duplicate-parameter", identifiers(dev + "?service=api&service=telemetry"), "", 400, "INVALID_DID_URL", true},
			{"invalidDidUrl/relativeRef-alone", identifiers(dev + "?relativeRef=%2Fx"), "", 400, "INVALID_DID_URL", true},
			{"invalidDidUrl/bad-character", identifiers(dev + "#a b"), "", 400, "INVALID_DID_URL", true},
			{"invalidDidUrl/empty-fragment", identifiers(dev + "#"), "", 400, "INVALID_DID_URL", true},
			{"invalidOptions/versionId", identifiers(dev) + "?versionId=abc", "", 400, "INVALID_OPTIONS", false},
			{"invalidOptions/versionId-zero", identifiers(dev) + "?versionId=0", "", 400, "INVALID_OPTIONS", false},
			{"invalidOptions/versionTime", identifiers(dev) + "?versionTime=yesterday", "", 400, "INVALID_OPTIONS", false},
			{"invalidOptions/both", identifiers(dev) + "?versionId=1&versionTime=2026-01-01T00:00:00Z", "", 400, "INVALID_OPTIONS", false},
			{"invalidOptions/twice", identifiers(dev) + "?versionId=1&versionId=2", "", 400, "INVALID_OPTIONS", false},
			{"invalidOptions/noCache", identifiers(dev) + "?noCache=maybe", "", 400, "INVALID_OPTIONS", false},
			{"invalidOptions/conflict", identifiers(dev+"?versionId=1") + "?versionId=2", "", 400, "INVALID_OPTIONS", true},
			{"notFound/did", identifiers(other), "", 404, "NOT_FOUND", false},
			{"notFound/other-network", identifiers(did.New("elsewhere", []byte("x")).String()), "", 404, "NOT_FOUND", false},
			{"notFound/version", identifiers(dev) + "?versionId=99", "", 404, "NOT_FOUND", false},
			{"notFound/fragment", identifiers(dev + "#nope"), "", 404, "NOT_FOUND", true},
			{"notFound/service", identifiers(dev + "?service=nope"), "", 404, "NOT_FOUND", true},
			{"notFound/serviceType", identifiers(dev+"?serviceType=Nope") + "", did.MediaTypeURIList, 404, "NOT_FOUND", true},
			{"notFound/path", identifiers(dev + "/some/path"), "", 404, "NOT_FOUND", true},
			{"notFound/path-unencoded", "/1.0/identifiers/" + dev + "/some/path", "", 404, "NOT_FOUND", true},
			{"representationNotSupported/html", identifiers(dev), "text/html", 406, "REPRESENTATION_NOT_SUPPORTED", false},
			{"representationNotSupported/uri-list-of-a-document", identifiers(dev), did.MediaTypeURIList, 406, "REPRESENTATION_NOT_SUPPORTED", false},
			{"representationNotSupported/result-of-a-fragment", identifiers(dev + "#k1"), did.MediaTypeResolution, 406, "REPRESENTATION_NOT_SUPPORTED", true},
			{"methodNotSupported/example", identifiers("did:example:123"), "", 501, "METHOD_NOT_SUPPORTED", false},
			{"methodNotSupported/did-url", identifiers("did:web:example.com#key-1"), "", 501, "METHOD_NOT_SUPPORTED", true},
			{"featureNotSupported/option", identifiers(dev) + "?transformKeys=jwk", "", 501, "FEATURE_NOT_SUPPORTED", false},
			{"featureNotSupported/did-parameter", identifiers(dev + "?hl=zQm"), "", 501, "FEATURE_NOT_SUPPORTED", true},
			{"invalidOptions/bad-escape", identifiers(dev) + "?versionTime=2000-01-01T00:00:00Z%", "", 400, "INVALID_OPTIONS", false},
			{"invalidOptions/bad-escape-unknown", identifiers(dev) + "?transformKeys=%zz", "", 400, "INVALID_OPTIONS", false},
			{"invalidOptions/empty", identifiers(dev) + "?service=", "", 400, "INVALID_OPTIONS", false},
			{"invalidOptions/versionId-leading-zero", identifiers(dev) + "?versionId=01", "", 400, "INVALID_OPTIONS", false},
			{"invalidDidUrl/empty-parameter", identifiers(dev + "?service="), "", 400, "INVALID_DID_URL", true},
			{"invalidDidUrl/relativeRef-network-path", identifiers(dev + "?service=api&relativeRef=%2F%2Fevil.example%2Fx"), did.MediaTypeURIList, 400, "INVALID_DID_URL", true},
			{"invalidDidUrl/relativeRef-opaque-endpoint", identifiers(dev + "?service=odd&relativeRef=%2Fx"), did.MediaTypeURIList, 400, "INVALID_DID_URL", true},
			{"notFound/service-with-semicolon", identifiers(dev) + "?service=api;x", "", 404, "NOT_FOUND", true},
			{"notFound/version-did-url", identifiers(dev + "?versionId=99"), "", 404, "NOT_FOUND", true},
			{"representationNotSupported/refused-by-q0", identifiers(dev + "#k1"), "application/did-url-dereferencing;q=0, application/did+json;q=0, application/did+ld+json;q=0, */*", 406, "REPRESENTATION_NOT_SUPPORTED", true},
		} {
			t.Run(c.name, func(t *testing.T) {
				a := fetchRaw(t, h, c.path, c.accept)
				want := did.MediaTypeResolution
				if c.deref {
					want = did.MediaTypeDereferencing
				}
				pr := problemOf(a.m)
				if a.status != c.status || a.ctype != want || pr["type"] != did.ProblemTypeBase+c.typ || pr["title"] == "" || a.cors != "*" {
					t.Fatalf("%s: got %d %s %s", c.path, a.status, a.ctype, a.body)
				}
				// The failure's other members: no document, empty metadata.
				if c.deref {
					if a.m["contentStream"] != nil || len(obj(a.m["contentMetadata"])) != 0 {
						t.Fatalf("content in a failure: %s", a.body)
					}
				} else if a.m["didDocument"] != nil || len(obj(a.m["didDocumentMetadata"])) != 0 {
					t.Fatalf("document in a failure: %s", a.body)
				}
			})
		}
		t.Run("deactivated", func(t *testing.T) {
			for _, accept := range []string{"", did.MediaTypeJSON, did.MediaTypeLDJSON} {
				a := fetchRaw(t, h, identifiers(gone.DID.String()), accept)
				md := obj(a.m["didDocumentMetadata"])
				if a.status != http.StatusGone || a.ctype != did.MediaTypeResolution || a.m["didDocument"] != nil || md["deactivated"] != true || md["versionId"] != "2" {
					t.Fatalf("Accept %q: %d %s %s", accept, a.status, a.ctype, a.body)
				}
				checkMetadata(t, "didDocumentMetadata", md)
			}
			a := fetchRaw(t, h, identifiers(gone.DID.String()+"#k1"), "")
			if a.status != http.StatusGone || a.ctype != did.MediaTypeDereferencing || a.m["contentStream"] != nil || obj(a.m["contentMetadata"])["deactivated"] != true {
				t.Fatalf("a fragment of a deactivated DID: %d %s %s", a.status, a.ctype, a.body)
			}
		})
	})

	t.Run("media-types", func(t *testing.T) {
		docLD := func(t *testing.T, a answer, ctype string) {
			t.Helper()
			if a.status != 200 || a.ctype != ctype || a.m["id"] != dev || a.m["@context"] == nil {
				t.Fatalf("%s: %d %s %s", ctype, a.status, a.ctype, a.body)
			}
		}
		result := func(t *testing.T, a answer, ctype string) {
			t.Helper()
			doc := obj(a.m["didDocument"])
			rm := obj(a.m["didResolutionMetadata"])
			if a.status != 200 || a.ctype != ctype || doc["id"] != dev || doc["@context"] == nil || rm["contentType"] != did.MediaTypeLDJSON || rm["error"] != nil {
				t.Fatalf("%s: %d %s %s", ctype, a.status, a.ctype, a.body)
			}
			checkMetadata(t, "didResolutionMetadata", rm)
			checkMetadata(t, "didDocumentMetadata", obj(a.m["didDocumentMetadata"]))
		}
		path := identifiers(dev)
		t.Run("did-resolution", func(t *testing.T) {
			a := fetchRaw(t, h, path, did.MediaTypeResolution)
			result(t, a, did.MediaTypeResolution)
			if a.m["@context"] != nil {
				t.Fatal("@context outside the JSON-LD form")
			}
		})
		t.Run("none", func(t *testing.T) { result(t, fetchRaw(t, h, path, ""), did.MediaTypeResolution) })
		t.Run("any", func(t *testing.T) { result(t, fetchRaw(t, h, path, "*/*"), did.MediaTypeResolution) })
		t.Run("q-values", func(t *testing.T) {
			result(t, fetchRaw(t, h, path, "text/html, application/did+json;q=0.5, application/did-resolution;q=0.9"), did.MediaTypeResolution)
		})
		t.Run("ld+json-resolution-profile", func(t *testing.T) {
			a := fetchRaw(t, h, path, `application/ld+json;profile="https://w3id.org/did-resolution"`)
			result(t, a, did.MediaTypeResolutionLD)
			if a.m["@context"] == nil {
				t.Fatal("no @context in the JSON-LD form of the result")
			}
		})
		t.Run("did+json", func(t *testing.T) {
			a := fetchRaw(t, h, path, did.MediaTypeJSON)
			if a.status != 200 || a.ctype != did.MediaTypeJSON || a.m["id"] != dev || a.m["@context"] != nil || a.m["didDocument"] != nil {
				t.Fatalf("%d %s %s", a.status, a.ctype, a.body)
			}
		})
		t.Run("did+ld+json", func(t *testing.T) { docLD(t, fetchRaw(t, h, path, did.MediaTypeLDJSON), did.MediaTypeLDJSON) })
		t.Run("ld+json", func(t *testing.T) { docLD(t, fetchRaw(t, h, path, "application/ld+json"), "application/ld+json") })
		t.Run("did", func(t *testing.T) { docLD(t, fetchRaw(t, h, path, did.MediaTypeDID), did.MediaTypeDID) })
		t.Run("did-url-dereferencing", func(t *testing.T) {
			a := fetchRaw(t, h, path, did.MediaTypeDereferencing)
			if a.status != 200 || a.ctype != did.MediaTypeDereferencing || obj(a.m["contentStream"])["id"] != dev ||
				obj(a.m["dereferencingMetadata"])["contentType"] != did.MediaTypeLDJSON || obj(a.m["contentMetadata"])["versionId"] == nil {
				t.Fatalf("%d %s %s", a.status, a.ctype, a.body)
			}
			checkMetadata(t, "contentMetadata", obj(a.m["contentMetadata"]))
		})
		t.Run("q0-refuses-the-default", func(t *testing.T) {
			// The wildcard does not bring back what q=0 refused.
			a := fetchRaw(t, h, path, "application/did-resolution;q=0, */*")
			if a.status != 200 || a.ctype == did.MediaTypeResolution {
				t.Fatalf("%d %s", a.status, a.ctype)
			}
		})
		t.Run("unparseable-accept", func(t *testing.T) {
			result(t, fetchRaw(t, h, path, "garbage;;;"), did.MediaTypeResolution)
		})
		t.Run("profile-list", func(t *testing.T) {
			result(t, fetchRaw(t, h, path, `application/ld+json;profile="https://w3id.org/did-resolution http://www.w3.org/ns/json-ld#compacted"`), did.MediaTypeResolutionLD)
		})
		t.Run("unsupported", func(t *testing.T) {
			if a := fetchRaw(t, h, path, "image/png"); a.status != 406 {
				t.Fatalf("%d %s", a.status, a.body)
			}
		})
	})

	t.Run("dereferencing", func(t *testing.T) {
		t.Run("fragment/verification-method", func(t *testing.T) {
			a := fetchRaw(t, h, identifiers(dev+"#"+kLast), "")
			c := obj(a.m["contentStream"])
			if a.status != 200 || a.ctype != did.MediaTypeDereferencing || c["id"] != dev+"#"+kLast || c["type"] != did.TypeMultikey || c["@context"] == nil ||
				obj(a.m["dereferencingMetadata"])["contentType"] != "application/ld+json" ||
				obj(a.m["contentMetadata"])["versionId"] == nil {
				t.Fatalf("%d %s %s", a.status, a.ctype, a.body)
			}
		})
		t.Run("fragment/did+json", func(t *testing.T) {
			a := fetchRaw(t, h, identifiers(dev+"#"+kLast+"-jwk"), did.MediaTypeJSON)
			if a.status != 200 || a.ctype != "application/json" || a.m["id"] != dev+"#"+kLast+"-jwk" || a.m["publicKeyJwk"] == nil || a.m["@context"] != nil {
				t.Fatalf("%d %s %s", a.status, a.ctype, a.body)
			}
		})
		t.Run("fragment/service", func(t *testing.T) {
			a := fetchRaw(t, h, identifiers(dev+"#api"), did.MediaTypeLDJSON)
			if a.status != 200 || a.ctype != "application/ld+json" || a.m["id"] != dev+"#api" || a.m["serviceEndpoint"] != "https://dev.example/api/" || a.m["@context"] == nil {
				t.Fatalf("%d %s %s", a.status, a.ctype, a.body)
			}
		})
		t.Run("fragment/with-versionId", func(t *testing.T) {
			// k1 is only in version 1.
			if a := fetchRaw(t, h, identifiers(dev+"#k1"), did.MediaTypeJSON); a.status != 404 {
				t.Fatalf("k1 of the current version: %d %s", a.status, a.body)
			}
			for _, path := range []string{identifiers(dev + "?versionId=1#k1"), identifiers(dev+"#k1") + "?versionId=1"} {
				a := fetchRaw(t, h, path, did.MediaTypeJSON)
				if a.status != 200 || a.m["id"] != dev+"#k1" {
					t.Fatalf("%s: %d %s", path, a.status, a.body)
				}
			}
		})
		t.Run("service/uri-list", func(t *testing.T) {
			a := fetchRaw(t, h, identifiers(dev+"?service=api"), did.MediaTypeURIList)
			if a.status != http.StatusSeeOther || a.loc != "https://dev.example/api/" || len(a.body) != 0 {
				t.Fatalf("%d %q %s", a.status, a.loc, a.body)
			}
		})
		t.Run("service/relativeRef", func(t *testing.T) {
			a := fetchRaw(t, h, identifiers(dev+"?service=api&relativeRef="+url.QueryEscape("v1/status?x=1")), did.MediaTypeURIList)
			if a.status != http.StatusSeeOther || a.loc != "https://dev.example/api/v1/status?x=1" {
				t.Fatalf("%d %q %s", a.status, a.loc, a.body)
			}
		})
		t.Run("service/relativeRef-fragment", func(t *testing.T) {
			a := fetchRaw(t, h, identifiers(dev+"?service=api&relativeRef=%2Fdoc#intro"), did.MediaTypeURIList)
			if a.status != http.StatusSeeOther || a.loc != "https://dev.example/doc#intro" {
				t.Fatalf("%d %q %s", a.status, a.loc, a.body)
			}
		})
		t.Run("service/unencoded", func(t *testing.T) {
			// A client that did not encode its DID URL: the parameters
			// arrive as the request's query.
			a := fetchRaw(t, h, "/1.0/identifiers/"+dev+"?service=telemetry", did.MediaTypeURIList)
			if a.status != http.StatusSeeOther || a.loc != "coaps://dev.example/t" {
				t.Fatalf("%d %q %s", a.status, a.loc, a.body)
			}
		})
		t.Run("service/text-wildcard", func(t *testing.T) {
			a := fetchRaw(t, h, identifiers(dev+"?service=api"), "text/*")
			if a.status != http.StatusSeeOther || a.loc != "https://dev.example/api/" {
				t.Fatalf("%d %q %s", a.status, a.loc, a.body)
			}
		})
		t.Run("service/iri-type", func(t *testing.T) {
			a := fetchRaw(t, h, identifiers(dev+"?serviceType="+url.QueryEscape("https://schema.example/ns#Camera")), did.MediaTypeURIList)
			if a.status != http.StatusSeeOther || a.loc != "https://dev.example/cam" {
				t.Fatalf("%d %q %s", a.status, a.loc, a.body)
			}
		})
		t.Run("service/serviceType", func(t *testing.T) {
			a := fetchRaw(t, h, identifiers(dev+"?serviceType=PrintService"), did.MediaTypeURIList)
			if a.status != http.StatusSeeOther || a.loc != "https://dev.example/api/" {
				t.Fatalf("%d %q %s", a.status, a.loc, a.body)
			}
		})
		t.Run("service/document", func(t *testing.T) {
			// Without text/uri-list: the document with the selected
			// services only.
			for _, accept := range []string{"", did.MediaTypeJSON} {
				a := fetchRaw(t, h, identifiers(dev+"?service=api"), accept)
				doc := a.m
				if accept == "" {
					doc = obj(a.m["contentStream"])
				}
				svcs, _ := doc["service"].([]any)
				if a.status != 200 || len(svcs) != 1 || obj(svcs[0])["id"] != dev+"#api" {
					t.Fatalf("Accept %q: %d %s", accept, a.status, a.body)
				}
			}
		})
		t.Run("service/with-versionTime", func(t *testing.T) {
			at := v1.Created.UTC().Format(time.RFC3339)
			a := fetchRaw(t, h, identifiers(dev+"?service=api&versionTime="+at), did.MediaTypeURIList)
			if a.status != http.StatusSeeOther || a.loc != "https://dev.example/api/" {
				t.Fatalf("%d %q %s", a.status, a.loc, a.body)
			}
		})
	})

	t.Run("versionTime", func(t *testing.T) {
		version := func(t *testing.T, at string) (int, string) {
			t.Helper()
			a := fetchRaw(t, h, identifiers(dev)+"?versionTime="+url.QueryEscape(at), did.MediaTypeResolution)
			return a.status, obj(a.m["didDocumentMetadata"])["versionId"].(string)
		}
		t.Run("far-past", func(t *testing.T) {
			a := fetchRaw(t, h, identifiers(dev)+"?versionTime=1600-01-01T00:00:00Z", "")
			if a.status != 404 {
				t.Fatalf("%d %s", a.status, a.body)
			}
		})
		t.Run("far-future", func(t *testing.T) {
			if code, v := version(t, "2999-01-01T00:00:00Z"); code != 200 || v != itoa(cur.Version) {
				t.Fatalf("%d version %s, want %d", code, v, cur.Version)
			}
		})
		t.Run("exactly-created", func(t *testing.T) {
			a := fetchRaw(t, h, identifiers(dev), "")
			created := obj(a.m["didDocumentMetadata"])["created"].(string)
			if code, v := version(t, created); code != 200 || v != "1" {
				t.Fatalf("at %s: %d version %s", created, code, v)
			}
		})
		t.Run("before-created", func(t *testing.T) {
			at := v1.Created.Truncate(time.Second).Add(-time.Second).UTC().Format(time.RFC3339)
			if a := fetchRaw(t, h, identifiers(dev)+"?versionTime="+at, ""); a.status != 404 {
				t.Fatalf("%d %s", a.status, a.body)
			}
		})
		t.Run("lower-case-and-raw-plus", func(t *testing.T) {
			// RFC 3339 allows "t" and "z"; a "+" in the query is a plus
			// (RFC 3986), not a space.
			at := strings.ToLower(v1.Created.UTC().Format(time.RFC3339))
			if code, v := version(t, at); code != 200 || v != "1" {
				t.Fatalf("at %s: %d version %s", at, code, v)
			}
			raw := v1.Created.In(time.FixedZone("", 3600)).Format(time.RFC3339)
			a := fetchRaw(t, h, identifiers(dev)+"?versionTime="+raw, did.MediaTypeResolution)
			if a.status != 200 || obj(a.m["didDocumentMetadata"])["versionId"] != "1" {
				t.Fatalf("raw %s: %d %s", raw, a.status, a.body)
			}
		})
		t.Run("leap-second", func(t *testing.T) {
			if code, v := version(t, "2998-12-31T23:59:60Z"); code != 200 || v != itoa(cur.Version) {
				t.Fatalf("%d version %s", code, v)
			}
		})
		t.Run("offset", func(t *testing.T) {
			at := v1.Created.In(time.FixedZone("", 5*3600+1800)).Format(time.RFC3339)
			if code, v := version(t, at); code != 200 || v != "1" {
				t.Fatalf("at %s: %d version %s", at, code, v)
			}
		})
	})

	t.Run("cors-preflight", func(t *testing.T) {
		// The JSON-LD profile's Accept is not CORS-safelisted: a browser
		// asks first.
		req, _ := http.NewRequest(http.MethodOptions, h.Node.URL()+identifiers(dev), nil)
		req.Header.Set("Origin", "https://wallet.example")
		req.Header.Set("Access-Control-Request-Method", "GET")
		req.Header.Set("Access-Control-Request-Headers", "accept")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "GET") || !strings.EqualFold(resp.Header.Get("Access-Control-Allow-Headers"), "accept") {
			t.Fatalf("%d %v", resp.StatusCode, resp.Header)
		}
	})

	t.Run("relationships-only-when-validated", func(t *testing.T) {
		// A pending (or revoked, rejected) entity's document lists its
		// keys and authorizes none: a verifier reading DID Core alone
		// refuses it too.
		a := fetchRaw(t, h, identifiers(dev), did.MediaTypeJSON)
		if vms, _ := a.m["verificationMethod"].([]any); len(vms) == 0 || a.m["authentication"] != nil || a.m["assertionMethod"] != nil {
			t.Fatalf("pending: %s", a.body)
		}
		ok := h.RegisterValidated(op.KindDevice, cose.AlgEdDSA)
		a = fetchRaw(t, h, identifiers(ok.DID.String()), did.MediaTypeJSON)
		if auth, _ := a.m["authentication"].([]any); len(auth) != 2 || a.m["assertionMethod"] == nil {
			t.Fatalf("validated: %s", a.body)
		}
	})

	t.Run("registration-refuses-types-that-are-no-IRI", func(t *testing.T) {
		for _, typ := range []string{"Type With Space", "@id", "_:b0", "a#b"} {
			s := nodetest.NewKey(t, cose.AlgEdDSA)
			p := h.RegisterPayload(op.KindDevice, h.Provider.DID, s)
			p.Register.Doc.Endpoints = []op.Endpoint{{ID: "x", Type: typ, URI: "https://x.example"}}
			tx, _ := h.SignRegister(s, p)
			if _, err := h.Submit(tx); !isReason(err, op.ReasonInvalidField) {
				t.Errorf("type %q: %v", typ, err)
			}
		}
	})

	t.Run("provider", func(t *testing.T) {
		// A document's controller resolves, with the provider's admin keys.
		a := fetchRaw(t, h, identifiers(dev), did.MediaTypeJSON)
		ctl, _ := a.m["controller"].(string)
		if ctl != h.Provider.DID.String() {
			t.Fatalf("controller %q", ctl)
		}
		a = fetchRaw(t, h, identifiers(ctl), "")
		doc, md := obj(a.m["didDocument"]), obj(a.m["didDocumentMetadata"])
		vms, _ := doc["verificationMethod"].([]any)
		if a.status != 200 || doc["id"] != ctl || len(vms) == 0 || obj(vms[0])["id"] != h.Provider.Kid.String() || md["kind"] != "provider" || md["created"] == nil {
			t.Fatalf("provider: %d %s", a.status, a.body)
		}
		checkMetadata(t, "didDocumentMetadata", md)
		a = fetchRaw(t, h, identifiers(h.Provider.Kid.String()), did.MediaTypeJSON)
		if a.status != 200 || a.m["id"] != h.Provider.Kid.String() {
			t.Fatalf("provider key: %d %s", a.status, a.body)
		}
		if a := fetchRaw(t, h, identifiers(ctl)+"?versionId=2", ""); a.status != 404 {
			t.Fatalf("provider version 2: %d %s", a.status, a.body)
		}
	})

	// Last, as it stops the node's ledger under its API: a failure of the
	// node, not of the request, in either result form, without its cause.
	t.Run("errors/internalError", func(t *testing.T) {
		if err := h.Node.Ledger().(io.Closer).Close(); err != nil {
			t.Fatal(err)
		}
		for path, ctype := range map[string]string{identifiers(dev): did.MediaTypeResolution, identifiers(dev + "#k1"): did.MediaTypeDereferencing} {
			a := fetchRaw(t, h, path, "")
			if pr := problemOf(a.m); a.status != 500 || a.ctype != ctype || pr["type"] != did.ProblemTypeBase+"INTERNAL_ERROR" || pr["detail"] != api.InternalResolutionDetail || strings.Contains(string(a.body), "closed") {
				t.Fatalf("%s: %d %s %s", path, a.status, a.ctype, a.body)
			}
		}
	})
}

// testOneSecond: two versions made in one second: versionTime of that
// second finds the later; versionId finds each.
func testOneSecond(t *testing.T, h *nodetest.Harness, dev string, first uint64, at time.Time) {
	t.Helper()
	sec := at.UTC().Format(time.RFC3339)
	a := fetchRaw(t, h, identifiers(dev)+"?versionTime="+sec, did.MediaTypeResolution)
	md := obj(a.m["didDocumentMetadata"])
	if a.status != 200 || md["versionId"] != itoa(first+1) {
		t.Fatalf("versionTime %s: %d %s", sec, a.status, a.body)
	}
	a = fetchRaw(t, h, identifiers(dev)+"?versionId="+itoa(first), did.MediaTypeResolution)
	md = obj(a.m["didDocumentMetadata"])
	vms, _ := obj(a.m["didDocument"])["verificationMethod"].([]any)
	if a.status != 200 || md["versionId"] != itoa(first) || md["nextVersionId"] != itoa(first+1) || len(vms) == 0 ||
		!strings.HasSuffix(obj(vms[0])["id"].(string), "#k"+itoa(first)) {
		t.Fatalf("versionId %d: %d %s", first, a.status, a.body)
	}
}

package api_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/access"
	"github.com/bias-iot/bias/internal/api"
	"github.com/bias-iot/bias/internal/registry/registrytest"
	"github.com/bias-iot/bias/internal/resolver"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/proof"
	"github.com/bias-iot/bias/sdk"
)

const network = "local"

// apiServer is the API over an in-memory ledger (memledger) that drives
// the real registry application: handler tests without consensus.
type apiServer struct {
	c     *sdk.Client
	admin cose.Signer
	kid   did.DID // the provider's admin key
}

func newAPI(t *testing.T) *apiServer { return newAPIWith(t, nil) }

// newAPIWith is newAPI with a change to the API's configuration.
func newAPIWith(t *testing.T, configure func(*api.Config)) *apiServer {
	t.Helper()
	admin, _, err := cose.GenerateKey(cose.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	c := registrytest.New(t, admin, time.Now().UTC())
	l, app := c.Ledger, c.App
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	res := resolver.New(l, network)
	acc := access.New(res, app.Programs(), authn.NewMemorySpentSet(1024))
	cfg := api.Config{Ledger: l, Resolver: res, Access: acc, Precheck: app, Log: log}
	if configure != nil {
		configure(&cfg)
	}
	srv := httptest.NewServer(api.New(cfg).Handler())
	t.Cleanup(srv.Close)
	return &apiServer{c: sdk.NewClient(srv.URL), admin: admin, kid: c.Kid}
}

type entity struct {
	id  did.DID
	key cose.Signer
}

// register registers an entity of kind and has the provider validate it.
func (a *apiServer) register(t *testing.T, kind string, attrs ...op.Attr) entity {
	t.Helper()
	s, _, err := cose.GenerateKey(cose.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	tx, id, err := op.SignRegister(s, "k1", op.Payload{Network: network, Register: &op.Register{Kind: kind, Provider: a.kid.Base().String(),
		Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}, Attrs: attrs}}})
	if err != nil {
		t.Fatal(err)
	}
	a.submit(t, tx)
	a.submit(t, a.sign(t, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: id.String(), Version: 1}}))
	return entity{id, s}
}

// deployCameras deploys the provider's access contract "cams", which
// admits devices of class camera.
func (a *apiServer) deployCameras(t *testing.T) {
	t.Helper()
	a.submit(t, a.sign(t, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{Provider: a.kid.Base().String(), Name: "cams", Kind: op.ContractAccess,
		Source: `device_attrs[?"class"].orValue("") == "camera"`}}))
}

func (a *apiServer) sign(t *testing.T, p op.Payload) []byte {
	t.Helper()
	p.Network = network
	tx, err := op.Sign(a.admin, a.kid, p)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func (a *apiServer) submit(t *testing.T, tx []byte) *sdk.SubmitResult {
	t.Helper()
	res, err := a.c.Submit(t.Context(), tx)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestEntityReads: the entity routes answer from the resolver, with
// proofs that verify against the header the view names.
func TestEntityReads(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	dev := a.register(t, op.KindDevice, op.Attr{K: "model", V: "cam-1"})
	e, err := a.c.EntityProof(t.Context(), dev.id.String(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != op.StatusValidated || e.Version != 2 || e.Attributes["model"] != "cam-1" || e.Proof == nil {
		t.Fatalf("entity: %+v", e)
	}
	h, err := a.c.Header(t.Context(), e.Proof.AppHashHeight)
	if err != nil {
		t.Fatal(err)
	}
	if h.AppHash != e.Proof.AppHash {
		t.Fatalf("proof names app hash %s, header %d has %s", e.Proof.AppHash, h.Height, h.AppHash)
	}
	if err := proof.Verify(mustHex(t, h.AppHash), e.Proof.Key, e.Proof.Value, e.Proof.Proof); err != nil {
		t.Fatalf("proof: %v", err)
	}
	if v1, err := a.c.EntityVersion(t.Context(), dev.id.String(), 1); err != nil || v1.Status != op.StatusPending {
		t.Fatalf("version 1: %+v %v", v1, err)
	}
	for name, c := range map[string]struct {
		path   string
		status int
		reason string
	}{
		"fail/unknown-entity":  {"/v1/entities/" + did.New(network, []byte("nobody")).String(), 404, string(op.ReasonUnknownEntity)},
		"fail/no-such-version": {"/v1/entities/" + dev.id.String() + "/versions/9", 404, string(op.ReasonUnknownEntity)},
		"fail/bad-version":     {"/v1/entities/" + dev.id.String() + "/versions/0", 400, string(op.ReasonInvalidField)},
		"fail/other-network":   {"/v1/entities/" + did.New("elsewhere", []byte("x")).String(), 400, string(op.ReasonWrongNetwork)},
		"fail/invalid-did":     {"/v1/entities/did:bias:local:NOPE", 400, string(api.ReasonInvalidDID)},
		"fail/height-not-held": {"/v1/entities/" + dev.id.String() + "?height=999999", 400, string(op.ReasonInvalidField)},
		"fail/unknown-route":   {"/v1/nothing", 404, string(api.ReasonNotFound)},
	} {
		t.Run(name, func(t *testing.T) {
			status, reason := get(t, a.c.URL+c.path)
			if status != c.status || reason != c.reason {
				t.Fatalf("GET %s: %d %s, want %d %s", c.path, status, reason, c.status, c.reason)
			}
		})
	}
	// A 404 asked with proof=true carries the proof of absence.
	_, err = a.c.EntityProof(t.Context(), did.New(network, []byte("nobody")).String(), 0)
	var ae *sdk.APIError
	if !errors.As(err, &ae) || ae.Proof == nil || ae.Proof.Value != nil {
		t.Fatalf("no proof of absence: %v", err)
	}
}

// TestResolutionRoutes: DID resolution and identification come from the
// resolver, in the DID Resolution shapes.
func TestResolutionRoutes(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	dev := a.register(t, op.KindDevice)
	res, err := a.c.Resolve(t.Context(), dev.id.String(), did.Options{})
	if err != nil || res.Document.ID != dev.id.String() || res.DocumentMetadata.Status != op.StatusValidated || res.DocumentMetadata.VersionID != "2" {
		t.Fatalf("resolve: %+v %v", res, err)
	}
	_, err = a.c.Identify(t.Context(), "urn:imei:490154203237518")
	var re *sdk.ResolutionError
	if !errors.As(err, &re) || re.Status != 404 || re.Keyword != did.ErrNotFound {
		t.Fatalf("identify an unheld IMEI: %v", err)
	}
	_, err = a.c.Resolve(t.Context(), dev.id.String(), did.Options{VersionID: 9})
	if !errors.As(err, &re) || re.Status != 404 {
		t.Fatalf("resolve version 9: %v", err)
	}
}

// TestContractRoutes: deploy, read with a proof, list, dry-run, and the
// refusals of each.
func TestContractRoutes(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	prov := a.kid.Base().String()
	a.deployCameras(t)
	c, err := a.c.ContractProof(t.Context(), prov, "cams")
	if err != nil || c.Version != 1 || c.Kind != op.ContractAccess || c.Proof == nil || c.Proof.Value == nil {
		t.Fatalf("contract: %+v %v", c, err)
	}
	list, err := a.c.Contracts(t.Context(), prov)
	if err != nil || len(list) != 1 || list[0].Name != "cams" {
		t.Fatalf("contracts: %+v %v", list, err)
	}
	out, err := a.c.DryRun(t.Context(), sdk.DryRunRequest{Provider: prov, Name: "cams", Inputs: json.RawMessage(`{"device_attrs": {"class": "camera"}}`)})
	if err != nil || out.Outcome != "allow" || out.Contract != prov+"/cams@1" {
		t.Fatalf("dry run: %+v %v", out, err)
	}
	for name, c := range map[string]struct {
		req    sdk.DryRunRequest
		status int
		reason string
	}{
		"fail/bad-contract":     {sdk.DryRunRequest{Kind: "access", Source: "1 +", Inputs: json.RawMessage(`{}`)}, 422, string(op.ReasonBadContract)},
		"fail/bad-inputs":       {sdk.DryRunRequest{Kind: "access", Source: "true", Inputs: json.RawMessage(`{"nope": 1}`)}, 400, string(op.ReasonInvalidField)},
		"fail/no-such-contract": {sdk.DryRunRequest{Provider: prov, Name: "none", Inputs: json.RawMessage(`{}`)}, 404, string(api.ReasonNotFound)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := a.c.DryRun(t.Context(), c.req)
			var ae *sdk.APIError
			if !errors.As(err, &ae) || ae.Status != c.status || ae.Reason != c.reason {
				t.Fatalf("got %v, want %d %s", err, c.status, c.reason)
			}
		})
	}
	_, err = a.c.ContractProof(t.Context(), prov, "none")
	var ae *sdk.APIError
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Proof == nil {
		t.Fatalf("a missing contract without a proof of absence: %v", err)
	}
}

// TestVerifyRoute: a node decides a challenge and its proof, with the
// service's access contract; the same pair again is a replay.
func TestVerifyRoute(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	prov := a.kid.Base().String()
	a.deployCameras(t)
	cam := a.register(t, op.KindDevice, op.Attr{K: "class", V: "camera"})
	meter := a.register(t, op.KindDevice, op.Attr{K: "class", V: "meter"})
	svc := a.register(t, op.KindService)
	a.submit(t, a.sign(t, op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: svc.id.String(), Version: 2,
		Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", svc.key.Public())}, Access: []string{prov + "/cams"}}}}))
	service := &sdk.Service{Signer: svc.key, Kid: svc.id.WithFragment("k1"), View: sdk.View{C: a.c}, Encoding: authn.COSE, URL: "coaps://cams.example"}
	pair := func(dev entity) ([]byte, []byte) {
		ch, err := service.Challenge()
		if err != nil {
			t.Fatal(err)
		}
		pr, err := (&sdk.Device{Signer: dev.key, Kid: dev.id.WithFragment("k1"), View: sdk.View{C: a.c}}).Answer(t.Context(), service.URL, ch)
		if err != nil {
			t.Fatal(err)
		}
		return ch, pr
	}
	ch, pr := pair(cam)
	if d, err := a.c.Verify(t.Context(), ch, pr); err != nil || !d.OK || len(d.Contract) != 1 || d.Contract[0] != prov+"/cams@1" {
		t.Fatalf("camera: %+v %v", d, err)
	}
	if d, err := a.c.Verify(t.Context(), ch, pr); err != nil || d.Reason != authn.FailReplayedNonce {
		t.Fatalf("the same pair again: %+v %v", d, err)
	}
	ch, pr = pair(meter)
	if d, err := a.c.Verify(t.Context(), ch, pr); err != nil || d.Reason != authn.FailContractDenied {
		t.Fatalf("meter: %+v %v", d, err)
	}
	// The text form is base64url without padding; standard base64 is not it.
	resp, err := http.Post(a.c.URL+"/v1/authn/verify", "application/json",
		strings.NewReader(`{"challenge": "a+b/", "proof": "a+b/"}`))
	if err != nil {
		t.Fatal(err)
	}
	var d authn.Decision
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || resp.StatusCode != 200 || d.Reason != authn.FailMalformed {
		t.Fatalf("standard base64: %d %+v %v", resp.StatusCode, d, err)
	}
	resp.Body.Close()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var eb sdk.ErrorBody
	if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil && resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d, not an ErrorBody: %v", url, resp.StatusCode, err)
	}
	return resp.StatusCode, eb.Reason
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFakeDecisionsNotAttributed (issue 18, finding 12): a proof that
// does not verify, sent in a device's name, is refused and kept in the
// node's decision stream without the device (or service) it names, so
// that nobody can write refusals into a device's audit trail; a genuine
// decision is the device's.
func TestFakeDecisionsNotAttributed(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	cam := a.register(t, op.KindDevice)
	svc := a.register(t, op.KindService)
	service := &sdk.Service{Signer: svc.key, Kid: svc.id.WithFragment("k1"), View: sdk.View{C: a.c}, Encoding: authn.COSE, URL: "coaps://cams.example"}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	mine, err := a.c.Decisions(ctx, cam.id.String(), "")
	if err != nil {
		t.Fatal(err)
	}
	all, err := a.c.Decisions(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	answer := func(signer cose.Signer) ([]byte, []byte) {
		ch, err := service.Challenge()
		if err != nil {
			t.Fatal(err)
		}
		pr, err := (&sdk.Device{Signer: signer, Kid: cam.id.WithFragment("k1"), View: sdk.View{C: a.c}}).Answer(t.Context(), service.URL, ch)
		if err != nil {
			t.Fatal(err)
		}
		return ch, pr
	}
	forger, _, err := cose.GenerateKey(cose.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	ch, pr := answer(forger)
	if d, err := a.c.Verify(t.Context(), ch, pr); err != nil || d.Reason != authn.FailBadSignature {
		t.Fatalf("the forged proof: %+v %v", d, err)
	}
	ch, pr = answer(cam.key)
	if d, err := a.c.Verify(t.Context(), ch, pr); err != nil || !d.OK {
		t.Fatalf("the device's proof: %+v %v", d, err)
	}
	next := func(ch <-chan sdk.DecisionEvent) authn.Decision {
		select {
		case ev := <-ch:
			return ev.Decision
		case <-time.After(10 * time.Second):
			t.Fatal("no decision streamed")
		}
		return authn.Decision{}
	}
	if d := next(mine); !d.OK || d.Device != cam.id.String() {
		t.Fatalf("the device's stream holds %+v first, want its own decision", d)
	}
	if d := next(all); d.Reason != authn.FailBadSignature || d.Device != "" || d.Service != "" {
		t.Fatalf("the forged refusal is streamed as %+v, want it without device or service", d)
	}
	if d := next(all); !d.OK || d.Device != cam.id.String() {
		t.Fatalf("then %+v", d)
	}
}

// TestReencodedOperationAnswersApplied (issue 18, finding 15): an
// operation is what its signer signed, not its bytes. When a relay's
// re-encoding of it (without its COSE tag, or signed again) lands first,
// the sender is answered with the applied result, not told it was refused.
func TestReencodedOperationAnswersApplied(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	// A registration signed twice with ES256 (two encodings of one operation).
	s, _, err := cose.GenerateKey(cose.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	p := op.Payload{Network: network, Register: &op.Register{Kind: op.KindDevice, Provider: a.kid.Base().String(),
		Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}}}}
	relayed, id, err := op.SignRegister(s, "k1", p)
	if err != nil {
		t.Fatal(err)
	}
	mine, _, err := op.SignRegister(s, "k1", p)
	if err != nil || bytes.Equal(mine, relayed) {
		t.Fatalf("two ES256 signatures alike, or %v", err)
	}
	first := a.submit(t, relayed)
	got, err := a.c.Submit(t.Context(), mine)
	if err != nil || got.Status != "committed" || got.DID != id.String() || got.Version != 1 || got.Height != first.Height {
		t.Fatalf("the sender's registration after a relay's: %+v %v (the relay's: %+v)", got, err, first)
	}
	// A validation without its COSE tag, landed first.
	validate := a.sign(t, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: id.String(), Version: 1}})
	if validate[0] != 0xd2 {
		t.Fatalf("not a tagged COSE_Sign1: %x", validate[:1])
	}
	first = a.submit(t, validate[1:])
	got, err = a.c.Submit(t.Context(), validate)
	if err != nil || got.Version != 2 || got.EntityStatus != op.StatusValidated || got.Height != first.Height {
		t.Fatalf("the sender's validation after a relay's: %+v %v", got, err)
	}
	// An operation that applied no version of an entity stays a replay.
	deploy := a.sign(t, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{Provider: a.kid.Base().String(), Name: "x", Kind: op.ContractRegistration, Source: `"pending"`}})
	a.submit(t, deploy)
	_, err = a.c.Submit(t.Context(), deploy)
	var ae *sdk.APIError
	if !errors.As(err, &ae) || ae.Reason != string(op.ReasonReplayed) || ae.Status != 409 {
		t.Fatalf("a contract deployment again: %v", err)
	}
}

// TestResolutionDefectsFixed: some of issue 10's defects, over the API:
// metadata values are strings (height), a DID of another method is 501
// methodNotSupported, plain application/ld+json gets the JSON-LD
// document, and answers carry CORS's Access-Control-Allow-Origin.
func TestResolutionDefectsFixed(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	dev := a.register(t, op.KindDevice)
	fetch := func(path, accept string) (int, http.Header, map[string]any) {
		req, err := http.NewRequest(http.MethodGet, a.c.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header, m
	}
	_, hdr, m := fetch("/1.0/identifiers/"+dev.id.String(), "")
	md, _ := m["didDocumentMetadata"].(map[string]any)
	if _, ok := md["height"].(string); !ok || hdr.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("metadata height %T %v, CORS %q", md["height"], md["height"], hdr.Get("Access-Control-Allow-Origin"))
	}
	code, _, m := fetch("/1.0/identifiers/did:example:123", "")
	rm, _ := m["didResolutionMetadata"].(map[string]any)
	if e, _ := rm["error"].(map[string]any); code != http.StatusNotImplemented || e["type"] != "https://www.w3.org/ns/did#METHOD_NOT_SUPPORTED" {
		t.Fatalf("another method: %d %v", code, m)
	}
	code, hdr, m = fetch("/1.0/identifiers/"+dev.id.String(), "application/ld+json")
	if code != 200 || hdr.Get("Content-Type") != "application/ld+json" || m["@context"] == nil || m["id"] != dev.id.String() {
		t.Fatalf("plain ld+json: %d %s %v", code, hdr.Get("Content-Type"), m)
	}
}

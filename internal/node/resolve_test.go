package node_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// registerWith registers a device with aliases under the default provider.
func registerWith(t *testing.T, h *nodetest.Harness, aliases ...string) nodetest.Entity {
	t.Helper()
	s := nodetest.NewKey(t, cose.AlgEdDSA)
	p := h.RegisterPayload(op.KindDevice, h.Provider.DID, s)
	p.Register.Doc.Aliases = aliases
	p.Register.Doc.Endpoints = []op.Endpoint{{ID: "telemetry", Type: "TelemetryService", URI: "coaps://dev.example/t"}}
	tx, id := h.SignRegister(s, p)
	h.MustSubmit(tx)
	return nodetest.Entity{Signer: s, KeyID: "k1", DID: id}
}

func decide(t *testing.T, h *nodetest.Harness, typ string, id did.DID, v uint64) error {
	t.Helper()
	_, err := h.Submit(h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: typ, Status: &op.Status{DID: id.String(), Version: v}}))
	return err
}

// get fetches a node URL.
func get(t *testing.T, h *nodetest.Harness, path string) (int, string, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.Node.URL()+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// TestResolution resolves and identifies an entity through its life, on
// each ledger engine.
func TestResolution(t *testing.T) {
	t.Parallel()
	eachEngine(t, testResolution)
}

func testResolution(t *testing.T, h *nodetest.Harness) {
	r := sdk.NewClient(h.Node.URL())
	dev := registerWith(t, h, "urn:imei:490154203237518")

	// Pending: resolves, with its status; not identifiable yet.
	res, err := r.Resolve(t.Context(), dev.DID.String(), did.Options{})
	if err != nil {
		t.Fatal(err)
	}
	md := res.DocumentMetadata
	if md.Status != op.StatusPending || md.VersionID != "1" || md.Provider != h.Provider.DID.String() || md.Created == "" || md.Updated != "" {
		t.Fatalf("pending metadata: %+v", md)
	}
	doc := res.Document
	if doc.ID != dev.DID.String() || doc.Controller != h.Provider.DID.String() || len(doc.VerificationMethod) != 2 ||
		doc.Service[0].ServiceEndpoint != "coaps://dev.example/t" || doc.AlsoKnownAs[0] != "urn:imei:49015420-323751-8" {
		t.Fatalf("document: %+v", doc)
	}
	if _, err := r.Identify(t.Context(), "urn:imei:49015420-323751-8"); !isNotFound(err) {
		t.Fatalf("pending entity identified: %v", err)
	}

	if err := decide(t, h, op.TypeValidate, dev.DID, 1); err != nil {
		t.Fatal(err)
	}
	got, err := r.Identify(t.Context(), "URN:IMEI:49015420-323751-8")
	if err != nil || got.Document.ID != dev.DID.String() || got.Identifier.Canonical != "urn:imei:49015420-323751-8" || got.Identifier.Kind != "imei" || got.DocumentMetadata.Status != op.StatusValidated {
		t.Fatalf("identify by IMEI: %+v %v", got, err)
	}

	// Another device claims the same IMEI in another spelling: it may
	// register (pending), but its validation is refused.
	squatter := registerWith(t, h, "urn:imei:49015420-323751-8")
	if err := decide(t, h, op.TypeValidate, squatter.DID, 1); !isReason(err, op.ReasonAliasTaken) {
		t.Fatalf("duplicate claim: %v", err)
	}

	// Rotate the device's key: version 2; version 1 still resolves.
	k2 := nodetest.NewKey(t, cose.AlgES256)
	before := h.Entity(dev.DID)
	upd := op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: dev.DID.String(), Version: 2, Doc: op.Document{
		Keys: []op.Key{op.KeyFrom("k2", k2.Public())}, Aliases: []string{"urn:imei:490154203237518"},
	}}}
	// versionTime goes to the second, as the metadata shows times:
	// make version 3 in a later second than version 2.
	// (A block's time is its predecessor's commit time: one more block
	// after the pause carries the later time.)
	time.Sleep(time.Until(before.Updated.Truncate(time.Second).Add(1100 * time.Millisecond)))
	h.Register(op.KindDevice, h.Provider.DID, cose.AlgEdDSA)
	h.MustSubmit(h.Sign(dev.Signer, dev.DID.WithFragment("k1"), upd))
	after := h.Entity(dev.DID)
	v1, err := r.Resolve(t.Context(), dev.DID.String(), did.Options{VersionID: 1})
	if err != nil || v1.DocumentMetadata.VersionID != "1" || v1.DocumentMetadata.NextVersionID != "2" || v1.DocumentMetadata.VersionStatus != op.StatusPending ||
		v1.DocumentMetadata.Status != op.StatusValidated ||
		!strings.HasSuffix(v1.Document.VerificationMethod[0].ID, "#k1") {
		t.Fatalf("versionId=1: %+v %v", v1, err)
	}
	// The time version 2's metadata shows (to the second) finds version 2.
	shown, err := time.Parse(time.RFC3339, rfc3339Of(t, r, dev.DID.String(), 2))
	if err != nil {
		t.Fatal(err)
	}
	vt, err := r.Resolve(t.Context(), dev.DID.String(), did.Options{VersionTime: shown})
	if err != nil || vt.DocumentMetadata.VersionID != "2" {
		t.Fatalf("versionTime %s, version 2's updated time: %+v %v", shown, vt.DocumentMetadata, err)
	}
	// Far in the future: the current version; far in the past: none.
	if far, err := r.Resolve(t.Context(), dev.DID.String(), did.Options{VersionTime: time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil || far.DocumentMetadata.VersionID != "3" {
		t.Fatalf("versionTime 2999: %+v %v", far, err)
	}
	if _, err := r.Resolve(t.Context(), dev.DID.String(), did.Options{VersionTime: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)}); !isNotFound(err) {
		t.Fatalf("versionTime 1600: %v", err)
	}
	cur, err := r.Resolve(t.Context(), dev.DID.String(), did.Options{VersionTime: after.Updated})
	if err != nil || cur.DocumentMetadata.VersionID != "3" || !strings.HasSuffix(cur.Document.VerificationMethod[0].ID, "#k2") {
		t.Fatalf("versionTime at the update: %+v %v", cur.DocumentMetadata, err)
	}
	if _, err := r.Resolve(t.Context(), dev.DID.String(), did.Options{VersionTime: before.Created.Add(-time.Hour)}); !isNotFound(err) {
		t.Fatalf("versionTime before creation: %v", err)
	}
	if _, err := r.Resolve(t.Context(), dev.DID.String(), did.Options{VersionID: 99}); !isNotFound(err) {
		t.Fatalf("versionId beyond the current: %v", err)
	}

	// Revoked: resolves as revoked and releases its identifier, which the
	// other device can now hold.
	if err := decide(t, h, op.TypeRevoke, dev.DID, 3); err != nil {
		t.Fatal(err)
	}
	if res, err := r.Resolve(t.Context(), dev.DID.String(), did.Options{}); err != nil || res.DocumentMetadata.Status != op.StatusRevoked {
		t.Fatalf("revoked: %+v %v", res, err)
	}
	// An older version, validated in its time, is not presented as valid.
	if res, err := r.Resolve(t.Context(), dev.DID.String(), did.Options{VersionID: 3}); err != nil || res.DocumentMetadata.Status != op.StatusRevoked ||
		res.DocumentMetadata.VersionStatus != op.StatusValidated {
		t.Fatalf("version 3 of a revoked entity: %+v %v", res.DocumentMetadata, err)
	}
	if _, err := r.Identify(t.Context(), "urn:imei:490154203237518"); !isNotFound(err) {
		t.Fatalf("revoked entity still identified: %v", err)
	}
	if err := decide(t, h, op.TypeValidate, squatter.DID, 1); err != nil {
		t.Fatalf("claim after release: %v", err)
	}
	if got, err := r.Identify(t.Context(), "urn:imei:490154203237518"); err != nil || got.Document.ID != squatter.DID.String() {
		t.Fatalf("identify after release: %+v %v", got, err)
	}

	// Deactivated: 410, with the document metadata and no document.
	if _, err := h.Submit(h.Sign(h.Provider.Signer, h.Provider.Kid, op.Payload{Type: op.TypeDeactivate, Status: &op.Status{DID: dev.DID.String(), Version: 4}})); err != nil {
		t.Fatal(err)
	}
	res, err = r.Resolve(t.Context(), dev.DID.String(), did.Options{})
	var re *sdk.ResolutionError
	if !errors.As(err, &re) || re.Status != http.StatusGone || res == nil || !res.DocumentMetadata.Deactivated || res.DocumentMetadata.VersionID != "5" || res.Document != nil {
		t.Fatalf("deactivated: %+v %v", res, err)
	}
	// Deactivation is of the DID: its older versions answer 410 too.
	res, err = r.Resolve(t.Context(), dev.DID.String(), did.Options{VersionID: 1})
	if !errors.As(err, &re) || re.Status != http.StatusGone || res == nil || !res.DocumentMetadata.Deactivated || res.DocumentMetadata.VersionID != "1" ||
		res.DocumentMetadata.VersionStatus != op.StatusPending {
		t.Fatalf("version 1 of a deactivated DID: %+v %v", res, err)
	}
}

// TestIdentifyEachType identifies a device by each kind of legacy
// identifier, spelled otherwise than it was registered.
func TestIdentifyEachType(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	dev := registerWith(t, h,
		"urn:imei:35209900-176148-1",
		"tel:+1-202-555-0143",
		"urn:epc:id:sgtin:0614141.112345.400",
		"urn:oid:1.3.6.1.4.1.343",
		"urn:dev:mac:00-24-BE-FF-FE-80-4F-F1",
		"ip:2001:DB8::1",
	)
	if err := decide(t, h, op.TypeValidate, dev.DID, 1); err != nil {
		t.Fatal(err)
	}
	r := sdk.NewClient(h.Node.URL())
	for _, c := range []struct{ id, kind string }{
		{"urn:imei:352099001761481", "imei"},
		{"tel:+12025550143", "e164"},
		{"URN:EPC:ID:SGTIN:0614141.112345.400", "epc"},
		{"urn:oid:1.3.6.1.4.1.343", "oid"},
		{"urn:dev:mac:0024befffe804ff1", "dev"},
		{"2001:db8::1", "ip"},
	} {
		res, err := r.Identify(t.Context(), c.id)
		if err != nil || res.Document.ID != dev.DID.String() || res.Identifier.Kind != c.kind {
			t.Errorf("identify %s: %+v %v", c.id, res, err)
		}
	}
}

// isNotFound: err is the resolution error notFound (404).
func isNotFound(err error) bool {
	var re *sdk.ResolutionError
	return errors.As(err, &re) && re.Status == http.StatusNotFound && re.Keyword == did.ErrNotFound
}

func isReason(err error, r op.Reason) bool {
	var ae *sdk.APIError
	return errors.As(err, &ae) && ae.Reason == string(r)
}

// TestResolutionInternalError: when the node's ledger has stopped under
// its API (a failure of the node, not of the request), resolution and
// identification answer 500 in the resolution's error form, without the
// cause.
func TestResolutionInternalError(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	dev := registerWith(t, h)
	if err := h.Node.Ledger().(io.Closer).Close(); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/1.0/identifiers/" + dev.DID.String(), "/1.0/identify?id=" + url.QueryEscape("tel:+15550001")} {
		code, ctype, body := get(t, h, path)
		var res did.Result
		if err := json.Unmarshal(body, &res); err != nil {
			t.Fatalf("%s: body %s", path, body)
		}
		p := res.ResolutionMetadata.Error
		if code != 500 || ctype != did.MediaTypeResolution || p.Keyword() != did.ErrInternal ||
			p.Type != "https://www.w3.org/ns/did#INTERNAL_ERROR" || res.Document != nil || strings.Contains(string(body), "closed") {
			t.Fatalf("%s: %d %s %s", path, code, ctype, body)
		}
	}
}

// rfc3339Of is the updated time version v of id shows in its metadata.
func rfc3339Of(t *testing.T, r *sdk.Client, id string, v uint64) string {
	t.Helper()
	res, err := r.Resolve(t.Context(), id, did.Options{VersionID: v})
	if err != nil {
		t.Fatal(err)
	}
	if res.DocumentMetadata.Updated == "" {
		return res.DocumentMetadata.Created
	}
	return res.DocumentMetadata.Updated
}

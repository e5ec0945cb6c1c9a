package node_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// TestAccessContract is the seed's roaming case: operator B's MEC service
// binds B's access contract, which admits cars of operator A only in
// areas 1 and 2; the node decides with the contract and names it. On
// each ledger engine.
func TestAccessContract(t *testing.T) {
	t.Parallel()
	eachEngine(t, testAccessContract)
}

func testAccessContract(t *testing.T, h *nodetest.Harness) {
	provA, provB := h.Provider, h.Other
	src := `device["provider"] == "` + provA.DID.String() + `" && request[?"area"].orValue("") in ["1", "2"]`
	h.MustSubmit(h.Sign(provB.Signer, provB.Kid, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{
		Provider: provB.DID.String(), Name: "roaming", Kind: op.ContractAccess, Source: src}}))

	validate := func(p nodetest.Provider, e nodetest.Entity) {
		h.MustSubmit(h.Sign(p.Signer, p.Kid, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: e.DID.String(), Version: 1}}))
	}
	mec := h.Register(op.KindService, provB.DID, cose.AlgEdDSA)
	validate(provB, mec)
	car := h.Register(op.KindDevice, provA.DID, cose.AlgEdDSA)
	validate(provA, car)

	bind := func(signer nodetest.Provider, e nodetest.Entity, v uint64, refs ...string) error {
		_, err := h.Submit(h.Sign(signer.Signer, signer.Kid, op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: e.DID.String(), Version: v,
			Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", e.Signer.Public())}, Access: refs}}}))
		return err
	}
	if err := bind(provB, mec, 2, provB.DID.String()+"/nothing"); !isReason(err, op.ReasonInvalidField) {
		t.Fatalf("binding a contract that does not exist: %v", err)
	}
	if err := bind(provA, car, 2, provB.DID.String()+"/roaming"); !isReason(err, op.ReasonInvalidField) {
		t.Fatalf("a device binding an access contract: %v", err)
	}
	if err := bind(provB, mec, 2, provB.DID.String()+"/roaming"); err != nil {
		t.Fatal(err)
	}

	view := sdk.View{C: h.Client}
	svc := &sdk.Service{Signer: mec.Signer, Kid: mec.DID.WithFragment("k1"), View: view, URL: "coaps://mec.example"}
	dev := &sdk.Device{Signer: car.Signer, Kid: car.DID.WithFragment("k1"), View: view}
	auth := func(area string) authn.Decision {
		ch, _ := svc.Challenge()
		p, err := dev.Answer(t.Context(), svc.URL, ch)
		if err != nil {
			t.Fatal(err)
		}
		d, err := h.Client.VerifyIn(t.Context(), ch, p, map[string]string{"area": area})
		if err != nil {
			t.Fatal(err)
		}
		return *d
	}
	if d := auth("1"); !d.OK || !slices.Equal(d.Contract, []string{provB.DID.String() + "/roaming@1"}) {
		t.Fatalf("car of A in area 1: %+v", d)
	}
	if d := auth("3"); d.OK || d.Reason != authn.FailContractDenied || !slices.Equal(d.Contract, []string{provB.DID.String() + "/roaming@1"}) {
		t.Fatalf("car of A in area 3: %+v", d)
	}
	// B widens the areas: the next decision uses version 2.
	h.MustSubmit(h.Sign(provB.Signer, provB.Kid, op.Payload{Type: op.TypeContractUp, Contract: &op.Contract{
		Provider: provB.DID.String(), Name: "roaming", Version: 1, Source: `device["provider"] == "` + provA.DID.String() + `"`}}))
	if d := auth("3"); !d.OK || !slices.Equal(d.Contract, []string{provB.DID.String() + "/roaming@2"}) {
		t.Fatalf("after the update: %+v", d)
	}
}

// TestContractBinders: operator A's access contract admits services of
// other operators only if A lists them (binders). A service of B cannot
// bind it until A admits B; once A drops B, the node refuses B's service
// under it. A registration that names bindings waits for its provider,
// even when a registration contract would validate it.
func TestContractBinders(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	provA, provB := h.Provider, h.Other
	cams := provA.DID.String() + "/cams"
	deploy := func(typ string, version uint64, binders ...string) {
		c := &op.Contract{Provider: provA.DID.String(), Name: "cams", Source: `device_attrs[?"class"].orValue("") == "camera"`, Version: version, Binders: binders}
		if typ == op.TypeDeploy {
			c.Kind = op.ContractAccess
		}
		h.MustSubmit(h.Sign(provA.Signer, provA.Kid, op.Payload{Type: typ, Contract: c}))
	}
	deploy(op.TypeDeploy, 0)
	svc := h.Register(op.KindService, provB.DID, cose.AlgEdDSA)
	h.MustSubmit(h.Sign(provB.Signer, provB.Kid, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: svc.DID.String(), Version: 1}}))
	bind := func(v uint64) error {
		_, err := h.Submit(h.Sign(provB.Signer, provB.Kid, op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: svc.DID.String(), Version: v,
			Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", svc.Signer.Public())}, Access: []string{cams}}}}))
		return err
	}
	if err := bind(2); !isReason(err, op.ReasonUnauthorized) {
		t.Fatalf("B's service binding A's contract before A admits B: %v", err)
	}
	deploy(op.TypeContractUp, 1, provB.DID.String())
	if err := bind(2); err != nil {
		t.Fatalf("after A admits B: %v", err)
	}
	s := nodetest.NewKey(t, cose.AlgEdDSA)
	p := h.RegisterPayload(op.KindDevice, provA.DID, s)
	p.Register.Doc.Attrs = []op.Attr{{K: "class", V: "camera"}}
	tx, camID := h.SignRegister(s, p)
	h.MustSubmit(tx)
	h.MustSubmit(h.Sign(provA.Signer, provA.Kid, op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: camID.String(), Version: 1}}))
	access := func() *authn.Decision {
		d, err := h.Client.Access(t.Context(), sdk.AccessRequest{Device: camID.String(), Service: svc.DID.String()})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := access(); !d.OK || !slices.Equal(d.Contract, []string{cams + "@2"}) {
		t.Fatalf("B's admitted service: %+v", d)
	}
	// A's own service, bound to the contract, accepts a token that B's
	// service issued under it while A admits B.
	own := h.RegisterValidated(op.KindService, cose.AlgEdDSA)
	h.MustSubmit(h.Sign(provA.Signer, provA.Kid, op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: own.DID.String(), Version: 2,
		Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", own.Signer.Public())}, Access: []string{cams}}}}))
	issuedBy := func(issuer string) *authn.Decision {
		d, err := h.Client.Access(t.Context(), sdk.AccessRequest{Device: camID.String(), Service: own.DID.String(), Issuer: issuer, Audience: []string{issuer, cams}})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := issuedBy(svc.DID.String()); !d.OK {
		t.Fatalf("a token of B's admitted service: %+v", d)
	}
	// The same through the SDK: A's service, deciding at its node, takes
	// B's session tokens under the shared contract, and not by name.
	ownSvc := &sdk.Service{Signer: own.Signer, Kid: own.DID.WithFragment("k1"), View: sdk.View{C: h.Client}, Node: h.Client}
	protected := httptest.NewServer(ownSvc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.WriteString(w, "ok"); err != nil {
			t.Error(err)
		}
	})))
	t.Cleanup(protected.Close)
	ownSvc.URL = protected.URL
	token := func(d authn.Decision, aud ...did.DID) string {
		d.OK, d.Reason, d.Device, d.Kid = true, authn.OK, camID.String(), camID.WithFragment("k1").String()
		tok, err := authn.IssueToken(svc.Signer, svc.DID.WithFragment("k1"), d, aud, time.Now().Unix(), 300, []byte("jti-"+strings.Join(d.Contract, ",")))
		if err != nil {
			t.Fatal(err)
		}
		return string(tok)
	}
	bearer := func(tok string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, protected.URL, nil)
		presentToken(t, req, s, tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	underContract, byName := token(authn.Decision{Contract: []string{cams + "@2"}}), token(authn.Decision{}, own.DID)
	if code, body := bearer(underContract); code != 200 {
		t.Fatalf("B's token under the shared contract: %d %s", code, body)
	}
	if code, body := bearer(byName); code != 401 || !strings.Contains(body, string(authn.FailWrongService)) {
		t.Fatalf("B's token naming A's service: %d %s", code, body)
	}
	for name, c := range map[string]struct {
		device, service string
		want            authn.Reason
	}{
		"unknown device":      {did.New(h.Network, []byte("nobody")).String(), own.DID.String(), authn.FailUnknownDID},
		"a device as service": {camID.String(), camID.String(), authn.FailWrongKind},
	} {
		d, err := h.Client.Access(t.Context(), sdk.AccessRequest{Device: c.device, Service: c.service})
		if err != nil || d.OK || d.Reason != c.want {
			t.Errorf("%s: %+v %v", name, d, err)
		}
	}
	deploy(op.TypeContractUp, 2) // A drops B
	if d := access(); d.OK || d.Reason != authn.FailContractDenied || !strings.Contains(d.Detail, "does not admit") {
		t.Fatalf("B's service once A dropped B: %+v", d)
	}
	if d := issuedBy(svc.DID.String()); d.OK || d.Reason != authn.FailWrongService {
		t.Fatalf("a token of B's service once A dropped B: %+v", d)
	}
	if code, body := bearer(underContract); code != 401 || !strings.Contains(body, string(authn.FailWrongService)) {
		t.Fatalf("B's token under the contract once A dropped B: %d %s", code, body)
	}
	// B can still update its service (say, rotate its key) without
	// dropping the binding first; the binding just decides nothing.
	k2 := nodetest.NewKey(t, cose.AlgEdDSA)
	if _, err := h.Submit(h.Sign(provB.Signer, provB.Kid, op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: svc.DID.String(), Version: 3,
		Doc: op.Document{Keys: []op.Key{op.KeyFrom("k2", k2.Public())}, Access: []string{cams}}}})); err != nil {
		t.Fatalf("rotating the key of a service whose binding is no longer admitted: %v", err)
	}
	if d := access(); d.OK || d.Reason != authn.FailContractDenied {
		t.Fatalf("after the rotation: %+v", d)
	}

	// B's registration contract validates every service; one that names a
	// binding still waits for B.
	h.MustSubmit(h.Sign(provB.Signer, provB.Kid, op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{
		Provider: provB.DID.String(), Name: "all", Kind: op.ContractRegistration, Source: `"validate"`}}))
	deploy(op.TypeContractUp, 3, provB.DID.String())
	for _, access := range [][]string{nil, {cams}} {
		k := nodetest.NewKey(t, cose.AlgEdDSA)
		p := h.RegisterPayload(op.KindService, provB.DID, k)
		p.Register.Doc.Access = access
		tx, id := h.SignRegister(k, p)
		h.MustSubmit(tx)
		want := op.StatusValidated
		if access != nil {
			want = op.StatusPending
		}
		if e := h.Entity(id); e.Status != want {
			t.Fatalf("a service registering with access %v: %s (%s), want %s", access, e.Status, e.StatusReason, want)
		}
		if access == nil {
			continue
		}
		// Its own re-registration does not get it past its provider.
		h.MustSubmit(h.Sign(k, id.WithFragment("k1"), op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: id.String(), Version: 1,
			Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", k.Public())}, Access: access}}}))
		if e := h.Entity(id); e.Status != op.StatusPending {
			t.Fatalf("its re-registration: %s (%s)", e.Status, e.StatusReason)
		}
	}
}

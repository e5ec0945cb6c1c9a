package node_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/ledger/cometledger"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/lightclient"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// TestProvenView: a verifier that reads through an untrusted node checks
// each record's proof against a witness's header: a node that alters the
// record is caught; one that alters only its JSON view is ignored.
//
// On each ledger engine (on the EVM engine the header's root is one the
// witness computed, not one validators signed: docs/evm.md).
func TestProvenView(t *testing.T) {
	t.Parallel()
	eachEngine(t, testProvenView)
}

func testProvenView(t *testing.T, h *nodetest.Harness) {
	dev := h.Register(op.KindDevice, h.Provider.DID, cose.AlgEdDSA)
	if err := decide(t, h, op.TypeRevoke, dev.DID, 1); err != nil {
		t.Fatal(err)
	}
	honest := sdk.ProvenView{C: h.Client, Witness: h.Client}
	e, err := honest.Entity(t.Context(), dev.DID)
	if err != nil || e.Status != op.StatusRevoked || len(e.Keys) != 1 {
		t.Fatalf("honest node: %+v %v", e, err)
	}

	// A lying node in front of the real one rewrites the answer.
	lie := func(rewrite func(v map[string]any)) *sdk.Client { return liar(t, h, "/v1/entities/", rewrite) }
	viewOnly := lie(func(v map[string]any) { v["status"] = op.StatusValidated })
	if e, err := (sdk.ProvenView{C: viewOnly, Witness: h.Client}).Entity(t.Context(), dev.DID); err != nil || e.Status != op.StatusRevoked {
		t.Fatalf("a lie in the JSON view was believed: %+v %v", e, err)
	}
	tampered := lie(func(v map[string]any) {
		p := v["proof"].(map[string]any)
		val, _ := base64.StdEncoding.DecodeString(p["value"].(string))
		val[len(val)/2] ^= 1
		p["value"] = base64.StdEncoding.EncodeToString(val)
	})
	if _, err := (sdk.ProvenView{C: tampered, Witness: h.Client}).Entity(t.Context(), dev.DID); !errors.Is(err, sdk.ErrProof) {
		t.Fatalf("a tampered record was believed: %v", err)
	}
}

// liar is a node in front of h's that rewrites the JSON answers of the
// paths under prefix.
func liar(t *testing.T, h *nodetest.Harness, prefix string, rewrite func(v map[string]any)) *sdk.Client {
	target, _ := url.Parse(h.Node.URL())
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		if !strings.HasPrefix(resp.Request.URL.Path, prefix) {
			return nil
		}
		b, _ := io.ReadAll(resp.Body)
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Errorf("liar: %s: %v", resp.Request.URL.Path, err)
			return err
		}
		rewrite(v)
		nb, _ := json.Marshal(v)
		resp.Body = io.NopCloser(strings.NewReader(string(nb)))
		resp.ContentLength = int64(len(nb))
		resp.Header.Del("Content-Length")
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return sdk.NewClient(srv.URL)
}

// TestLightClient: a verifier that trusts only the validator set of the
// genesis file reads through one node and checks each record's proof
// against a header that the validators signed. The header hash, the
// validator set hash and the vote sign bytes that lightclient builds
// without CometBFT agree with the real chain; a node that alters the
// record, the header or a signature is caught, and so is a header signed
// by a set other than the trusted one.
func TestLightClient(t *testing.T) {
	t.Parallel()
	h := nodetest.Start(t)
	gb, err := os.ReadFile(cometledger.GenesisFile(h.Home))
	if err != nil {
		t.Fatal(err)
	}
	g, err := lightclient.ParseGenesis(gb)
	if err != nil || g.ChainID != h.Network {
		t.Fatalf("genesis: %+v %v", g, err)
	}
	dev := h.Register(op.KindDevice, h.Provider.DID, cose.AlgEdDSA)
	pendingAt := h.Entity(dev.DID).Height
	if err := decide(t, h, op.TypeRevoke, dev.DID, 1); err != nil {
		t.Fatal(err)
	}
	view := sdk.ProvenView{C: h.Client, Validators: g.Validators}
	e, err := view.Entity(t.Context(), dev.DID)
	if err != nil || e.Status != op.StatusRevoked || len(e.Keys) != 1 {
		t.Fatalf("through the node, trusting the validators: %+v %v", e, err)
	}

	// A node that answers from an older state (before the revocation),
	// with genuine proofs and headers: a view that has seen a newer state,
	// or knows a floor, refuses it.
	target, _ := url.Parse(h.Node.URL())
	rp := httputil.NewSingleHostReverseProxy(target)
	director := rp.Director
	rp.Director = func(r *http.Request) {
		director(r)
		if strings.HasPrefix(r.URL.Path, "/v1/entities/") {
			q := r.URL.Query()
			q.Set("height", strconv.FormatInt(pendingAt, 10))
			r.URL.RawQuery = q.Encode()
		}
	}
	past := httptest.NewServer(rp)
	t.Cleanup(past.Close)
	old := sdk.NewClient(past.URL)
	if e, err := (sdk.ProvenView{C: old, Validators: g.Validators}).Entity(t.Context(), dev.DID); err != nil || e.Status != op.StatusPending {
		t.Fatalf("the old state, with nothing to compare: %+v %v", e, err)
	}
	seen := sdk.NewHeaderCache(8)
	if _, err := (sdk.ProvenView{C: h.Client, Validators: g.Validators, Headers: seen}).Entity(t.Context(), dev.DID); err != nil {
		t.Fatal(err)
	}
	if e, err := (sdk.ProvenView{C: old, Validators: g.Validators, Headers: seen}).Entity(t.Context(), dev.DID); !errors.Is(err, sdk.ErrProof) {
		t.Fatalf("the old state after a newer one: %+v %v", e, err)
	}
	if e, err := (sdk.ProvenView{C: old, Validators: g.Validators, MinHeight: pendingAt + 2}).Entity(t.Context(), dev.DID); !errors.Is(err, sdk.ErrProof) {
		t.Fatalf("the old state below the floor: %+v %v", e, err)
	}

	// Absence is proven too: an unknown DID is unknown only with a proof.
	nobody := did.New(h.Network, []byte("nobody"))
	if e, err := view.Entity(t.Context(), nobody); err != nil || e != nil {
		t.Fatalf("an unknown DID: %+v %v", e, err)
	}
	if e, err := (sdk.ProvenView{C: h.Client, Witness: h.Client}).Entity(t.Context(), nobody); err != nil || e != nil {
		t.Fatalf("an unknown DID, witness: %+v %v", e, err)
	}
	_, err = h.Client.EntityProof(t.Context(), nobody.String(), 0)
	var absent *sdk.APIError
	if !errors.As(err, &absent) || absent.Status != 404 || absent.Proof == nil || absent.Proof.Value != nil {
		t.Fatalf("404 with a proof of absence: %+v", err)
	}
	// A node that hides the device answers 404: without a proof, or with
	// the (real) proof of another DID's absence.
	hide := func(p *sdk.ProofView) *sdk.Client {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			if err := json.NewEncoder(w).Encode(sdk.ErrorBody{Reason: string(op.ReasonUnknownEntity), Message: "not registered", Proof: p}); err != nil {
				t.Error(err)
			}
		}))
		t.Cleanup(srv.Close)
		return sdk.NewClient(srv.URL)
	}
	for name, c := range map[string]*sdk.Client{"no proof": hide(nil), "another DID's absence": hide(absent.Proof)} {
		if e, err := (sdk.ProvenView{C: c, Validators: g.Validators}).Entity(t.Context(), dev.DID); !errors.Is(err, sdk.ErrProof) {
			t.Errorf("a node hiding the device (%s): %+v %v", name, e, err)
		}
	}

	// With a header cache, reads at the same height check its header once.
	// A block may be made between the reads (the node refreshes the block
	// time after an idle spell), so the rule is: no height fetched twice.
	var mu sync.Mutex
	fetched := map[string]int{}
	counting := liar(t, h, "/v1/blocks/", func(v map[string]any) {
		mu.Lock()
		defer mu.Unlock()
		b, _ := json.Marshal(v["header"])
		fetched[string(b)]++
	})
	cached := sdk.ProvenView{C: counting, Validators: g.Validators, Headers: sdk.NewHeaderCache(8)}
	for range 3 {
		if e, err := cached.Entity(t.Context(), dev.DID); err != nil || e.Status != op.StatusRevoked {
			t.Fatalf("cached view: %+v %v", e, err)
		}
	}
	mu.Lock()
	if len(fetched) == 0 {
		t.Fatal("no signed header fetched")
	}
	for hd, n := range fetched {
		if n != 1 {
			t.Fatalf("one signed header fetched %d times for three reads: %s", n, hd)
		}
	}
	mu.Unlock()

	// Every block so far verifies, and each header's hash is the id the
	// next block names as its last.
	st, err := h.Client.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var prev *lightclient.SignedHeader
	for height := int64(1); height <= st.Height; height++ {
		sh, err := h.Client.SignedHeader(t.Context(), height)
		if err != nil {
			t.Fatal(err)
		}
		if err := lightclient.Verify(h.Network, sh, g.Validators); err != nil {
			t.Fatalf("block %d: %v", height, err)
		}
		if prev != nil && !bytes.Equal(sh.Header.LastBlockID.Hash, prev.Header.Hash()) {
			t.Fatalf("block %d names %X as its last, lightclient hashes block %d to %X", height, sh.Header.LastBlockID.Hash, height-1, prev.Header.Hash())
		}
		prev = sh
	}
	if _, err := h.Client.SignedHeader(t.Context(), st.Height+100); err == nil {
		t.Fatal("a signed header of a block not made yet")
	}

	other, _, _ := ed25519.GenerateKey(nil)
	stranger, err := lightclient.NewValidatorSet([]lightclient.Validator{{PubKey: other, Power: 10}})
	if err != nil {
		t.Fatal(err)
	}
	flip := func(v map[string]any, path ...string) {
		for _, k := range path[:len(path)-1] {
			v = v[k].(map[string]any)
		}
		b, _ := base64.StdEncoding.DecodeString(v[path[len(path)-1]].(string))
		b[0] ^= 1
		v[path[len(path)-1]] = base64.StdEncoding.EncodeToString(b)
	}
	for name, v := range map[string]sdk.ProvenView{
		"record altered":   {C: liar(t, h, "/v1/entities/", func(v map[string]any) { flip(v, "proof", "value") }), Validators: g.Validators},
		"app hash altered": {C: liar(t, h, "/v1/blocks/", func(v map[string]any) { flip(v, "header", "appHash") }), Validators: g.Validators},
		"signature altered": {C: liar(t, h, "/v1/blocks/", func(v map[string]any) {
			sig := v["commit"].(map[string]any)["signatures"].([]any)[0].(map[string]any)
			flip(sig, "signature")
		}), Validators: g.Validators},
		"another validator set": {C: h.Client, Validators: stranger},
	} {
		if _, err := v.Entity(t.Context(), dev.DID); !errors.Is(err, sdk.ErrProof) || !strings.Contains(err.Error(), "not verified") && name != "record altered" {
			t.Errorf("%s: %v", name, err)
		}
	}
}

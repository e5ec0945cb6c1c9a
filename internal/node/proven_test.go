package node_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/internal/node/nodetest"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// TestProvenView: a verifier that reads through an untrusted node checks
// each record's proof against a witness's header: a node that alters the
// record is caught; one that alters only its JSON view is ignored.
func TestProvenView(t *testing.T) {
	h := nodetest.Start(t)
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
	lie := func(rewrite func(v map[string]any)) *sdk.Client {
		target, _ := url.Parse(h.Node.URL())
		rp := httputil.NewSingleHostReverseProxy(target)
		rp.ModifyResponse = func(resp *http.Response) error {
			if !strings.HasPrefix(resp.Request.URL.Path, "/v1/entities/") {
				return nil
			}
			b, _ := io.ReadAll(resp.Body)
			var v map[string]any
			json.Unmarshal(b, &v)
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

// Use case I.1 of the seed: one registration, many services. Camera A of
// operator A registers once; a printing service S1 (operator B) and a
// sharing service S2 (operator C) accept it through operator A's access
// contract; the camera authenticates to S1 and then uses S2 with the
// session token S1 issued, without a new challenge.
//
//	go run .
package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/bias-iot/bias/examples/exnet"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) { fmt.Printf("• "+format+"\n", args...) }

func run() error {
	step("starting four operators' validators (A, B, C, D) on loopback")
	n, err := exnet.Start(0)
	if err != nil {
		return err
	}
	defer n.Stop()
	A, B, C := n.Ops[0], n.Ops[1], n.Ops[2]

	// Operator A's contracts: its cameras are validated on registration;
	// services that bind "cameras" accept them.
	if err := n.Deploy(A, "cameras-only", op.ContractRegistration, `attrs[?"class"].orValue("") == "camera" ? "validate" : "pending"`); err != nil {
		return err
	}
	// A admits services of B and C (printing, sharing) to bind it.
	if err := n.Deploy(A, "cameras", op.ContractAccess, `device["provider"] == "`+A.Provider.String()+`" && device_attrs[?"class"].orValue("") == "camera"`, B, C); err != nil {
		return err
	}
	step("operator A deployed its registration contract and the access contract \"cameras\"")

	bind := []string{A.Provider.String() + "/cameras"}
	s1, err := B.Register(op.KindService, op.Document{Access: bind, Attrs: []op.Attr{{K: "name", V: "printing"}}})
	if err != nil {
		return err
	}
	s2, err := C.Register(op.KindService, op.Document{Access: bind, Attrs: []op.Attr{{K: "name", V: "sharing"}}})
	if err != nil {
		return err
	}
	if err := B.Validate(s1); err != nil {
		return err
	}
	if err := C.Validate(s2); err != nil {
		return err
	}
	step("printing service S1 (operator B) and sharing service S2 (operator C) registered, validated by their operators, bound to A's contract")

	cam, err := A.Register(op.KindDevice, op.Document{Attrs: []op.Attr{{K: "class", V: "camera"}}})
	if err != nil {
		return err
	}
	step("camera %s registered: %s by A's contract in the same block", cam.DID, cam.Status)

	// S1 decides at its operator's node (B), which runs the bound access
	// contract, and issues a session token whose audience is that
	// contract. S2, bound to the same contract, accepts it.
	serve := func(name string, e *exnet.Entity, node *sdk.Client) *httptest.Server {
		svc := &sdk.Service{Signer: e.Key, Kid: e.DID.WithFragment("k1"), View: sdk.View{C: node}, Node: node,
			TokenTTL: 10 * time.Minute}
		srv := httptest.NewServer(svc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			d, _ := sdk.DecisionFrom(r.Context())
			how := "its own challenge and the camera's proof"
			if strings.HasPrefix(r.Header.Get("Authorization"), "DPoP ") {
				how = "the session token, with the camera's DPoP proof"
			}
			fmt.Fprintf(w, "%s: hello %s (contract %s), by %s", name, d.Device, d.Contract, how)
		})))
		svc.URL = srv.URL // the origin its challenges name, and the URL of the camera's DPoP proofs
		return srv
	}
	for _, e := range []*exnet.Entity{s1, s2, cam} {
		if err := exnet.WaitFor(B.Node, e, op.StatusValidated); err != nil {
			return err
		}
		if err := exnet.WaitFor(C.Node, e, op.StatusValidated); err != nil {
			return err
		}
	}
	printing := serve("printing", s1, B.Node)
	defer printing.Close()
	sharing := serve("sharing", s2, C.Node)
	defer sharing.Close()

	tr := &sdk.Transport{Device: &sdk.Device{Signer: cam.Key, Kid: cam.DID.WithFragment("k1"), View: sdk.View{C: A.Node}}}
	client := &http.Client{Transport: tr}
	for _, svc := range []struct{ name, url string }{{"S1 printing", printing.URL}, {"S2 sharing", sharing.URL}} {
		t0 := time.Now()
		resp, err := client.Get(svc.url)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		step("camera → %s: HTTP %d %q in %v", svc.name, resp.StatusCode, body, time.Since(t0).Round(time.Millisecond))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s refused the camera", svc.name)
		}
		if svc.name == "S2 sharing" && !strings.Contains(string(body), "session token") {
			return fmt.Errorf("%s did not take S1's session token", svc.name)
		}
	}
	fmt.Println("one registration served two services of two other operators")
	return nil
}

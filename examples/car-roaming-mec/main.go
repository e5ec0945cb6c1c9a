// Use case I.2 of the seed: a car of operator A drives through areas 1-4
// served by MEC (edge) nodes of operators A, B and C. Each MEC node
// authenticates the car from its own replica, with one local exchange and
// no call to operator A; access depends on the area (B's and C's access
// contracts). Then A revokes the car: every MEC node refuses it from the
// block that commits the revocation.
//
//	go run .
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/bias-iot/bias/authn"
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

func run() error {
	fmt.Println("• starting four operators' validators and three MEC full nodes on loopback")
	n, err := exnet.Start(3)
	if err != nil {
		return err
	}
	defer n.Stop()
	ctx := context.Background()
	A, B, C := n.Ops[0], n.Ops[1], n.Ops[2]
	carsOfA := `device["provider"] == "` + A.Provider.String() + `" && device_attrs[?"class"].orValue("") == "car"`
	// B admits A's cars in areas 2 and 3, C in area 4; A's own MEC service everywhere.
	for _, c := range []struct {
		o    *exnet.Operator
		rule string
	}{{A, carsOfA}, {B, carsOfA + ` && request[?"area"].orValue("") in ["2", "3"]`}, {C, carsOfA + ` && request[?"area"].orValue("") == "4"`}} {
		if err := n.Deploy(c.o, "roaming", op.ContractAccess, c.rule); err != nil {
			return err
		}
	}
	type mec struct {
		name string
		op   *exnet.Operator
		svc  *exnet.Entity
		edge *sdk.Client
	}
	var mecs []mec
	for i, o := range []*exnet.Operator{A, B, C} {
		s, err := o.Register(op.KindService, op.Document{Access: []string{o.Provider.String() + "/roaming"}})
		if err != nil {
			return err
		}
		if err := o.Validate(s); err != nil {
			return err
		}
		mecs = append(mecs, mec{name: "MEC of operator " + o.Name, op: o, svc: s, edge: n.Edges[i]})
	}
	car, err := A.Register(op.KindDevice, op.Document{Attrs: []op.Attr{{K: "class", V: "car"}}})
	if err != nil {
		return err
	}
	if err := A.Validate(car); err != nil {
		return err
	}
	for _, m := range mecs {
		if err := exnet.WaitFor(m.edge, car, op.StatusValidated); err != nil {
			return err
		}
		if err := exnet.WaitFor(m.edge, m.svc, op.StatusValidated); err != nil {
			return err
		}
	}
	fmt.Printf("• car %s of operator A validated; MEC services of A, B, C registered and bound to their operators' contracts\n", car.DID)

	// One hop: the MEC service challenges, the car answers after checking the
	// service on the same edge node (and that the challenge names the MEC it
	// reached: here a CoAP endpoint of the operator), the edge node decides
	// from its replica.
	hop := func(m mec, area string) (authn.Decision, time.Duration) {
		t0 := time.Now()
		at := "coaps://mec." + strings.ToLower(m.op.Name) + ".example"
		svc := &sdk.Service{Signer: m.svc.Key, Kid: m.svc.DID.WithFragment("k1"), View: sdk.View{C: m.edge}, URL: at}
		dev := &sdk.Device{Signer: car.Key, Kid: car.DID.WithFragment("k1"), View: sdk.View{C: m.edge}}
		ch, err := svc.Challenge()
		if err != nil {
			return authn.Decision{Reason: authn.FailUnavailable, Detail: err.Error()}, 0
		}
		proof, err := dev.Answer(ctx, at, ch)
		if err != nil {
			return authn.Decision{Reason: authn.FailRevoked, Detail: err.Error()}, time.Since(t0)
		}
		d, err := m.edge.VerifyIn(ctx, ch, proof, map[string]string{"area": area})
		if err != nil {
			return authn.Decision{Reason: authn.FailUnavailable, Detail: err.Error()}, 0
		}
		return *d, time.Since(t0)
	}
	route := []struct {
		area string
		m    mec
	}{{"1", mecs[0]}, {"2", mecs[1]}, {"3", mecs[1]}, {"4", mecs[2]}, {"1", mecs[1]}}
	for _, r := range route {
		d, took := hop(r.m, r.area)
		verdict := "admitted"
		if !d.OK {
			verdict = "refused: " + string(d.Reason)
		}
		fmt.Printf("• area %s, %s: %s, verified at its own edge node in %v (contract %s)\n", r.area, r.m.name, verdict, took.Round(time.Microsecond), d.Contract)
	}

	v, _ := A.Node.Entity(ctx, car.DID.String())
	res, err := A.Submit(op.Payload{Type: op.TypeRevoke, Status: &op.Status{DID: car.DID.String(), Version: v.Version, Reason: "stolen"}})
	if err != nil {
		return err
	}
	fmt.Printf("• operator A revokes the car (committed at height %d)\n", res.Height)
	t0 := time.Now()
	for _, m := range mecs[1:] {
		for {
			if d, _ := hop(m, "2"); d.Reason == authn.FailRevoked {
				fmt.Printf("• %s refuses the car %v after the revocation committed at A's node\n", m.name, time.Since(t0).Round(time.Millisecond))
				break
			}
			if time.Since(t0) > 20*time.Second {
				return fmt.Errorf("%s still admits the revoked car", m.name)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

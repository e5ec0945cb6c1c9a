package contract_test

import (
	"errors"
	"fmt"

	"github.com/bias-iot/bias/internal/contract"
)

// A registration contract is compiled once, when it is deployed, and
// evaluated on each registration's inputs. It never panics: a runtime
// error (here, a missing attribute) is a reject, with the reason.
func ExampleCompile() {
	p, err := contract.Compile(contract.Registration, `attrs["model"] == "cam-1" ? "validate" : "pending"`)
	if err != nil {
		panic(err)
	}
	for _, in := range []string{
		`{"kind": "device", "attrs": {"model": "cam-1"}}`,
		`{"kind": "device", "attrs": {"model": "cam-2"}}`,
		`{"kind": "device"}`,
	} {
		inputs, err := contract.InputsFromJSON(contract.Registration, []byte(in))
		if err != nil {
			panic(err)
		}
		d := p.Eval(inputs)
		fmt.Printf("%s %q\n", d.Outcome, d.Reason)
	}
	// Output:
	// validate ""
	// pending ""
	// reject "contract error: no such key: model"
}

// An access contract returns a bool: whether an authenticated device may
// use a service, here only in the areas a request names.
func ExampleProgram_Eval_access() {
	p, err := contract.Compile(contract.Access, `device["kind"] == "device" && request[?"area"].orValue("") in ["1", "2"]`)
	if err != nil {
		panic(err)
	}
	for _, area := range []string{"1", "3"} {
		inputs, err := contract.InputsFromJSON(contract.Access, []byte(`{"device": {"kind": "device"}, "request": {"area": "`+area+`"}}`))
		if err != nil {
			panic(err)
		}
		fmt.Println(area, p.Eval(inputs).Outcome)
	}
	// Output:
	// 1 allow
	// 3 deny
}

// A contract that cannot run on every node alike is refused at deploy.
func ExampleCompile_refused() {
	for _, src := range []string{
		`attrs.exists(k, k == "x") ? "validate" : "pending"`, // iterates a map
		`true`, // a registration contract returns a string
	} {
		_, err := contract.Compile(contract.Registration, src)
		fmt.Println(errors.Is(err, contract.ErrCompile))
	}
	// Output:
	// true
	// true
}

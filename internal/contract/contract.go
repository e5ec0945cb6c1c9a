// Package contract compiles and evaluates providers' smart contracts:
// programs in CEL (Common Expression Language), deterministic,
// non-Turing-complete and cost-bounded, stored on the ledger and run
// identically by every node.
//
// A registration contract decides on a provider's registrations and
// returns "validate", "pending" or "reject" (optionally "reject: reason").
// An access contract decides whether an authenticated device may use a
// service and returns a bool.
//
//	p, err := contract.Compile(contract.Registration, `attrs["model"] == "cam-1" ? "validate" : "pending"`)
//	inputs, err := contract.InputsFromJSON(contract.Registration, []byte(`{"kind": "device", "attrs": {"model": "cam-1"}}`))
//	d := p.Eval(inputs) // d.Outcome "validate"; never panics: a runtime error is a reject
//
// The examples of Compile and Program.Eval run it.
//
// Time is an input (there is no clock in CEL), the static cost estimate
// of every contract is bounded at compile time by declared input sizes,
// the actual cost of every evaluation by a limit, and iterating a map
// (whose order is not fixed) is refused at compile time.
package contract

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
)

// Kind is what a contract decides.
type Kind string

// The kinds.
const (
	Registration Kind = "registration"
	Access       Kind = "access"
)

// Limits.
const (
	MaxSource = 4096
	// MaxEstimatedCost bounds the static estimate of a contract's cost.
	MaxEstimatedCost = 100_000
	// CostLimit bounds the actual cost of one evaluation.
	CostLimit = 100_000
	// Input bounds that make the static estimate finite.
	maxListItems  = 16
	maxMapEntries = 16
	maxStringLen  = 256
)

// Errors callers branch on.
var (
	ErrCompile = errors.New("contract does not compile")
	ErrCost    = errors.New("contract cost exceeds the limit")
)

// Outcomes of a registration contract.
const (
	Validate = "validate"
	Pending  = "pending"
	Reject   = "reject"
)

var (
	strMap  = cel.MapType(cel.StringType, cel.StringType)
	strList = cel.ListType(cel.StringType)
	mapList = cel.ListType(strMap)
)

// Variables declares each kind's inputs (documented in docs/contracts.md).
var Variables = map[Kind][]cel.EnvOption{
	Registration: {
		cel.Variable("kind", cel.StringType),     // device or service
		cel.Variable("provider", cel.StringType), // the provider's DID
		cel.Variable("keys", mapList),            // [{id, alg}]
		cel.Variable("aliases", strList),         // canonical legacy identifiers
		cel.Variable("attrs", strMap),            // public attributes
		cel.Variable("attr_keys", strList),       // their keys, sorted
		cel.Variable("endpoints", mapList),       // [{id, type, uri}]
		cel.Variable("ticket", strMap),           // verified ticket claims ({} without a ticket)
		cel.Variable("has_ticket", cel.BoolType), // whether a ticket came
		cel.Variable("height", cel.IntType),      // block height
		cel.Variable("time", cel.TimestampType),  // block time
	},
	Access: {
		cel.Variable("device", cel.MapType(cel.StringType, cel.DynType)), // {did, provider, kind, disclosed: {name: value}}
		cel.Variable("device_attrs", strMap),                             // the device's public attributes
		cel.Variable("service", strMap),                                  // {did, provider, kind}
		cel.Variable("service_attrs", strMap),                            // the service's public attributes
		cel.Variable("request", strMap),                                  // what the service passes: operation, area...
		cel.Variable("time", cel.TimestampType),                          // verification time
	},
}

var envs = map[Kind]*cel.Env{}

func init() {
	for k, vars := range Variables {
		// Optional types give contracts attrs[?"key"].orValue("") for
		// attributes that may be absent.
		env, err := cel.NewEnv(append([]cel.EnvOption{cel.OptionalTypes()}, vars...)...)
		if err != nil {
			panic(err)
		}
		envs[k] = env
	}
}

// Program is a compiled contract.
type Program struct {
	Kind          Kind
	Source        string
	EstimatedCost uint64
	prg           cel.Program
	observe       func(Kind, Decision) // see Cache.Observe
}

// Compile parses, type-checks and cost-checks a contract.
func Compile(kind Kind, src string) (*Program, error) {
	env, ok := envs[kind]
	if !ok {
		return nil, fmt.Errorf("%w: unknown kind %q", ErrCompile, kind)
	}
	if len(src) == 0 || len(src) > MaxSource {
		return nil, fmt.Errorf("%w: source must be 1 to %d bytes", ErrCompile, MaxSource)
	}
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, fmt.Errorf("%w: %s", ErrCompile, firstLine(iss.Err().Error()))
	}
	want := cel.StringType
	if kind == Access {
		want = cel.BoolType
	}
	if !ast.OutputType().IsExactType(want) {
		return nil, fmt.Errorf("%w: a %s contract returns %s, not %s", ErrCompile, kind, want, ast.OutputType())
	}
	if err := noMapIteration(ast); err != nil {
		return nil, err
	}
	est, err := env.EstimateCost(ast, sizes{})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCompile, err)
	}
	if est.Max > MaxEstimatedCost {
		return nil, fmt.Errorf("%w: estimated cost up to %d, limit %d", ErrCost, est.Max, MaxEstimatedCost)
	}
	prg, err := env.Program(ast, cel.CostLimit(CostLimit))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCompile, err)
	}
	return &Program{Kind: kind, Source: src, EstimatedCost: est.Max, prg: prg}, nil
}

// noMapIteration refuses comprehensions over maps: their order is not
// fixed, so map(), filter() or a short-circuit could differ between nodes.
func noMapIteration(a *cel.Ast) error {
	native := a.NativeRep()
	var bad error
	celast.PostOrderVisit(native.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() != celast.ComprehensionKind || bad != nil {
			return
		}
		if t := native.GetType(e.AsComprehension().IterRange().ID()); t != nil && t.Kind() == types.MapKind {
			bad = fmt.Errorf("%w: iterating a map is not deterministic; iterate a sorted list (attr_keys)", ErrCompile)
		}
	}))
	return bad
}

// sizes bounds the inputs for the cost estimator.
type sizes struct{}

func (sizes) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	if len(n.Path()) == 0 {
		return nil
	}
	switch n.Type().Kind() {
	case types.ListKind:
		return &cost.SizeEstimate{Min: 0, Max: maxListItems}
	case types.MapKind:
		return &cost.SizeEstimate{Min: 0, Max: maxMapEntries}
	case types.StringKind:
		return &cost.SizeEstimate{Min: 0, Max: maxStringLen}
	}
	return nil
}

func (sizes) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

// Decision is a contract's answer.
type Decision struct {
	Outcome string `cbor:"1,keyasint" json:"outcome"` // validate, pending, reject; allow or deny for access
	Reason  string `cbor:"2,keyasint,omitempty" json:"reason,omitempty"`
	Cost    uint64 `cbor:"3,keyasint" json:"cost"`
}

// Eval runs the program on inputs. A runtime error or a cost overrun is
// a "reject" (or "deny") with the reason, never a panic: every node
// reaches the same decision.
func (p *Program) Eval(inputs map[string]any) Decision {
	d := p.eval(inputs)
	if p.observe != nil {
		p.observe(p.Kind, d)
	}
	return d
}

func (p *Program) eval(inputs map[string]any) Decision {
	fail := Reject
	if p.Kind == Access {
		fail = "deny"
	}
	out, det, err := p.prg.Eval(inputs)
	var c uint64
	if det != nil && det.ActualCost() != nil {
		c = *det.ActualCost()
	}
	if err != nil {
		return Decision{Outcome: fail, Reason: "contract error: " + firstLine(err.Error()), Cost: c}
	}
	switch v := out.Value().(type) {
	case bool:
		if v {
			return Decision{Outcome: "allow", Cost: c}
		}
		return Decision{Outcome: "deny", Reason: "the access contract said no", Cost: c}
	case string:
		word, reason, _ := strings.Cut(v, ":")
		switch strings.TrimSpace(word) {
		case Validate, Pending:
			return Decision{Outcome: strings.TrimSpace(word), Cost: c}
		case Reject:
			return Decision{Outcome: Reject, Reason: bound(strings.TrimSpace(reason)), Cost: c}
		}
		return Decision{Outcome: Reject, Reason: bound("contract returned " + v), Cost: c}
	}
	return Decision{Outcome: fail, Reason: "contract returned a value of the wrong type", Cost: c}
}

func bound(s string) string {
	if len(s) > 200 {
		return s[:200]
	}
	return s
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return bound(s)
}

// Timestamp converts a block time (Unix ns) to the CEL input.
func Timestamp(ns int64) time.Time { return time.Unix(0, ns).UTC() }

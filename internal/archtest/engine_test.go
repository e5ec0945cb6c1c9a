package archtest

import (
	"slices"
	"strings"
	"testing"
)

// abci is CometBFT's application interface, which only the CometBFT
// engine speaks.
const abci = "github.com/cometbft/cometbft/abci"

// speaksABCI are the packages that may import abci (with their tests and
// subpackages): the engine's adapter, the node that assembles it, the
// command, and the tests that start CometBFT.
var speaksABCI = []string{"internal/ledger/cometledger", "internal/node", "cmd", "tests"}

// neutral are the packages of the engine-neutral core: neither they nor
// anything they link (tests aside) imports CometBFT, and their tests
// import none of it either.
var neutral = []string{"internal/registry", "internal/registry/registrytest", "internal/ledger", "internal/ledger/core", "internal/ledger/memledger"}

func under(path string, roots []string) bool {
	rel := strings.TrimPrefix(path, module+"/")
	return slices.ContainsFunc(roots, func(r string) bool { return rel == r || strings.HasPrefix(rel, r+"/") })
}

// TestOnlyCometledgerSpeaksABCI: CometBFT's ABCI types stay inside the
// CometBFT engine; everything else sees core's and the ledger interface's.
func TestOnlyCometledgerSpeaksABCI(t *testing.T) {
	seen := false
	for _, p := range packages(t, "e2e") {
		for _, imp := range slices.Concat(p.Imports, p.TestImports, p.XTestImports) {
			if imp != abci && !strings.HasPrefix(imp, abci+"/") {
				continue
			}
			if strings.HasPrefix(p.ImportPath, module+"/internal/ledger/cometledger") {
				seen = true
			}
			if !under(p.ImportPath, speaksABCI) {
				t.Errorf("%s imports %s: only cometledger adapts the registry (core.App) to ABCI", p.ImportPath, imp)
			}
		}
	}
	if !seen {
		t.Error("no import of abci seen in cometledger: the rule looks at nothing")
	}
}

// TestCoreIsEngineNeutral: the registry, the core types and the
// in-memory engine link no CometBFT package, and their tests import none.
func TestCoreIsEngineNeutral(t *testing.T) {
	for _, p := range neutral {
		for _, dep := range deps(t, p) {
			if strings.HasPrefix(dep, "github.com/cometbft/") {
				t.Errorf("%s depends on %s: the core is engine-neutral", p, dep)
			}
		}
	}
	for _, p := range packages(t, "e2e") {
		if !slices.Contains(neutral, strings.TrimPrefix(p.ImportPath, module+"/")) {
			continue
		}
		for _, imp := range slices.Concat(p.TestImports, p.XTestImports) {
			if strings.HasPrefix(imp, "github.com/cometbft/") {
				t.Errorf("a test of %s imports %s: the core is engine-neutral", p.ImportPath, imp)
			}
		}
	}
}

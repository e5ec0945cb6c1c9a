package archtest

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/bias-iot/bias"

// public are the packages a device or service links without the node.
var public = []string{"did", "legacyid", "authn", "cose", "op", "proof", "keyfile", "lightclient", "evmproof", "record", "sdk", "sdk/evmsdk"}

// deps lists the packages that pkg (a directory under the module) links,
// test files excluded.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", module+"/"+pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

func TestPublicPackagesStayLight(t *testing.T) {
	for _, p := range public {
		for _, dep := range deps(t, p) {
			if strings.HasPrefix(dep, module+"/internal/") || strings.Contains(dep, "cometbft") || strings.Contains(dep, "cosmos/iavl") {
				t.Errorf("public package %s depends on %s", p, dep)
			}
		}
	}
}

// TestDeviceSDKLinksNoEVM: only the EVM engine's proof packages link
// go-ethereum; a device that never checks an EVM proof does not.
func TestDeviceSDKLinksNoEVM(t *testing.T) {
	for _, p := range public {
		if p == "evmproof" || p == "sdk/evmsdk" {
			continue
		}
		for _, dep := range deps(t, p) {
			if strings.Contains(dep, "go-ethereum") {
				t.Errorf("public package %s depends on %s", p, dep)
			}
		}
	}
}

type pkg struct {
	ImportPath                         string
	Dir                                string
	GoFiles                            []string
	Imports, TestImports, XTestImports []string
}

// packages lists every package of the module, built with the tags.
func packages(t *testing.T, tags string) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-tags", tags, "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var ps []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			return ps
		} else if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
}

func TestEveryPackageHasADocComment(t *testing.T) {
	for _, p := range packages(t, "") {
		docs := 0
		for _, f := range p.GoFiles {
			af, err := parser.ParseFile(token.NewFileSet(), filepath.Join(p.Dir, f), nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if af.Doc != nil {
				docs++
			}
		}
		if docs != 1 {
			t.Errorf("%s has %d package doc comments, want 1", p.ImportPath, docs)
		}
	}
}

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
var public = []string{"did", "legacyid", "authn", "cose", "op", "proof", "keyfile", "lightclient", "record", "sdk"}

func TestPublicPackagesStayLight(t *testing.T) {
	for _, p := range public {
		out, err := exec.Command("go", "list", "-deps", module+"/"+p).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", p, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, module+"/internal/") || strings.Contains(dep, "cometbft") || strings.Contains(dep, "cosmos/iavl") {
				t.Errorf("public package %s depends on %s", p, dep)
			}
		}
	}
}

type pkg struct {
	ImportPath string
	Dir        string
	GoFiles    []string
}

func TestEveryPackageHasADocComment(t *testing.T) {
	cmd := exec.Command("go", "list", "-json", module+"/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
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

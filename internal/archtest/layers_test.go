package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// imports lists the packages that pkg (a directory under the module)
// imports directly, test files excluded.
func imports(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, module+"/"+pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestLayers: the HTTP layer only decodes, calls and renders; the CLI is a
// client of the node like any other.
func TestLayers(t *testing.T) {
	for _, rule := range []struct{ pkg, banned, why string }{
		{"internal/api", "internal/contract", "contracts are compiled and run by internal/access and the registry"},
		{"internal/api", "internal/registry", "the API reads the state through internal/resolver"},
		{"internal/api", "internal/state", "the API reads the state through internal/resolver"},
		{"internal/cli", "internal/api", "the CLI is a client of the node's API (sdk.Client)"},
		{"internal/cli", "internal/resolver", "the CLI is a client of the node's API (sdk.Client)"},
	} {
		for _, imp := range imports(t, rule.pkg) {
			if imp == module+"/"+rule.banned || strings.HasPrefix(imp, module+"/"+rule.banned+"/") {
				t.Errorf("%s imports %s: %s", rule.pkg, imp, rule.why)
			}
		}
	}
}

// TestAPIReadsNoStateKeys: no file of internal/api builds a state key
// (record.*Key, record.*Prefix) or a raw ledger query: reads go through
// internal/resolver.
func TestAPIReadsNoStateKeys(t *testing.T) {
	dir := filepath.Join("..", "api")
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		for name, f := range p.Files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			local := map[string]string{} // import name -> path
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				n := filepath.Base(path)
				if imp.Name != nil {
					n = imp.Name.Name
				}
				local[n] = path
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.SelectorExpr:
					x, ok := n.X.(*ast.Ident)
					if !ok {
						return true
					}
					sel := n.Sel.Name
					switch local[x.Name] {
					case module + "/record":
						if strings.HasSuffix(sel, "Key") || strings.HasSuffix(sel, "Prefix") || strings.HasPrefix(sel, "Query") {
							t.Errorf("%s: internal/api reads state itself (record.%s)", fset.Position(n.Pos()), sel)
						}
					case module + "/internal/ledger":
						if sel == "Query" {
							t.Errorf("%s: internal/api queries the ledger itself (ledger.Query)", fset.Position(n.Pos()))
						}
					}
				case *ast.CallExpr:
					if s, ok := n.Fun.(*ast.SelectorExpr); ok && s.Sel.Name == "Query" && len(n.Args) == 2 {
						t.Errorf("%s: internal/api calls Query on the ledger itself", fset.Position(n.Pos()))
					}
				}
				return true
			})
		}
	}
}

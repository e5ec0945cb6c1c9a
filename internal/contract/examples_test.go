package contract

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestShippedExamples compiles every contract in examples/contracts with
// its kind (access when its name says so) and within the cost limits.
func TestShippedExamples(t *testing.T) {
	files, _ := filepath.Glob("../../examples/contracts/*.cel")
	if len(files) < 5 {
		t.Fatalf("found %d examples", len(files))
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		kind := Registration
		if strings.Contains(f, "roaming") || strings.Contains(f, "sign-on") {
			kind = Access
		}
		p, err := Compile(kind, string(src))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		t.Logf("%s: %s, estimated cost up to %d", filepath.Base(f), kind, p.EstimatedCost)
	}
}

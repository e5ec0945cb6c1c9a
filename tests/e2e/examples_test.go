//go:build e2e

package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestExamples runs each example as a user would (go run .) and checks
// that it reaches its end.
func TestExamples(t *testing.T) {
	for dir, last := range map[string]string{
		"camera-printing-sharing": "one registration served two services",
		"car-roaming-mec":         "MEC of operator C refuses the car",
	} {
		t.Run(dir, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "go", "run", ".")
			cmd.Dir = "../../examples/" + dir
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), last) {
				t.Fatalf("%v\n%s", err, out)
			}
			t.Logf("%s", out)
		})
	}
}

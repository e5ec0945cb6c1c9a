package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestNodeCacheMB: --cache-mb and BIAS_CACHE_MB reach the node's
// configuration, which refuses a budget below the least.
func TestNodeCacheMB(t *testing.T) {
	t.Parallel()
	home := filepath.Join(t.TempDir(), "home")
	if r := runCLI(t, "node", "--home", home, "--http", "127.0.0.1:0", "--p2p", "tcp://127.0.0.1:0", "--cache-mb", "10"); r.code == 0 ||
		!strings.Contains(r.stderr, "cacheMB: 10 is outside 64") {
		t.Fatalf("--cache-mb 10: %s", r)
	}
	if r := runCLIEnv(t, map[string]string{"BIAS_CACHE_MB": "63"}, "node", "--home", home, "--http", "127.0.0.1:0", "--p2p", "tcp://127.0.0.1:0"); r.code == 0 ||
		!strings.Contains(r.stderr, "cacheMB: 63 is outside 64") {
		t.Fatalf("BIAS_CACHE_MB=63: %s", r)
	}
}

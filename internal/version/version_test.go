package version

import (
	"runtime"
	"strings"
	"testing"
)

// TestGet: without stamping, the versions come from the toolchain and the
// build information; a stamp wins over them.
func TestGet(t *testing.T) {
	in := Get()
	if in.Go != runtime.Version() || in.CometBFT == "" || in.Version == "" {
		t.Fatalf("Get() = %+v", in)
	}
	version, commit = "v9.8.7", "0123456789abcdef0123"
	defer func() { version, commit = "", "" }()
	in = Get()
	if in.Version != "v9.8.7" || in.Commit != "0123456789abcdef0123" || in.Modified {
		t.Fatalf("stamped: %+v", in)
	}
	if s := in.String(); !strings.HasPrefix(s, "bias v9.8.7 (commit 0123456789ab) go") || !strings.HasSuffix(s, "cometbft "+in.CometBFT) {
		t.Fatalf("String() = %q", s)
	}
}

// Package version tells which build of bias runs: its module version and
// commit, stamped at build time with
//
//	go build -ldflags "-X github.com/bias-iot/bias/internal/version.version=v1.2.3 -X github.com/bias-iot/bias/internal/version.commit=abc123"
//
// (scripts/release.sh does), or else read from the build information Go
// records (debug.ReadBuildInfo: the module version of `go install`, the
// VCS revision of a build in a git checkout); and the Go and CometBFT
// versions it was built with.
package version

import (
	"runtime"
	"runtime/debug"

	cmtversion "github.com/cometbft/cometbft/version"
)

// Set by -ldflags -X at build time; empty otherwise.
var (
	version string
	commit  string
)

// Info is a build's versions (GET /v1/version, bias version).
type Info struct {
	// Version is the module version ("v1.2.3"), "devel" when unknown.
	Version string `json:"version"`
	// Commit is the VCS revision, "" when unknown; Modified tells a
	// build from a working tree with uncommitted changes.
	Commit   string `json:"commit,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	// Go is the Go toolchain ("go1.26.0"); CometBFT the consensus engine.
	Go       string `json:"go"`
	CometBFT string `json:"cometbft"`
}

// Get returns this build's versions.
func Get() Info {
	in := Info{Version: version, Commit: commit, Go: runtime.Version(), CometBFT: cmtversion.TMCoreSemVer}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return in.withDefaults()
	}
	if in.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		in.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if in.Commit == "" {
				in.Commit = s.Value
			}
		case "vcs.modified":
			in.Modified = commit == "" && s.Value == "true"
		}
	}
	return in.withDefaults()
}

func (in Info) withDefaults() Info {
	if in.Version == "" {
		in.Version = "devel"
	}
	return in
}

// String is the one-line form: "bias v1.2.3 (commit abc123) go1.26.0 cometbft 0.38.26".
func (in Info) String() string {
	s := "bias " + in.Version
	if in.Commit != "" {
		c := in.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		if in.Modified {
			c += "+modified"
		}
		s += " (commit " + c + ")"
	}
	return s + " " + in.Go + " cometbft " + in.CometBFT
}

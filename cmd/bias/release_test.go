//go:build release

package main

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bias-iot/bias/internal/version"
)

// TestReleaseScript runs scripts/release.sh: it builds static binaries for
// linux/amd64 and linux/arm64 with their checksums, and the amd64 one
// reports the version and commit it was stamped with. Two cold cross
// builds take minutes, hence the build tag:
//
//	go test -tags release -timeout 40m ./cmd/bias
func TestReleaseScript(t *testing.T) {
	out := t.TempDir()
	const ver, commit = "v0.0.0-test.1", "0123456789abcdef0123456789abcdef01234567"
	cmd := exec.CommandContext(t.Context(), filepath.Join("..", "..", "scripts", "release.sh"))
	cmd.Env = append(os.Environ(), "VERSION="+ver, "COMMIT="+commit, "OUT="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, b)
	}
	sums, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	for arch, machine := range map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64} {
		name := "bias-" + ver + "-linux-" + arch
		path := filepath.Join(out, name)
		f, err := elf.Open(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if f.Machine != machine {
			t.Errorf("%s is for %v", name, f.Machine)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s has a dynamic loader: not static", name)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(b)
		if !bytes.Contains(sums, []byte(hex.EncodeToString(h[:])+"  "+name+"\n")) {
			t.Errorf("SHA256SUMS does not hold %s's checksum:\n%s", name, sums)
		}
	}
	b, err := exec.CommandContext(t.Context(), filepath.Join(out, "bias-"+ver+"-linux-amd64"), "version", "--output", "json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Client version.Info }
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if v.Client.Version != ver || v.Client.Commit != commit || v.Client.Modified || !strings.HasPrefix(v.Client.Go, "go") || v.Client.CometBFT == "" {
		t.Errorf("the released binary reports %+v", v.Client)
	}
}

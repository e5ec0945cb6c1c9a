package cli

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bias-iot/bias/internal/ca"
)

// TestX509Commands: bias x509 ca | issue | show | crl | publish against a
// real node: the published CA chains the issued certificate, show names
// the DID, the CRL lists the certificate after its device's revocation,
// publish is idempotent, and refusals are errors with the reason.
func TestX509Commands(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key, _ := f.newKey("dev.key")
	id := field(t, f.must("register", "--key", key, "--provider", f.provider), "did")
	f.must("provider", "validate", id, "--key", f.admin)

	var caPEM string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if r := f.bias("x509", "ca", f.provider); r.code == 0 {
			caPEM = r.stdout
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the CA was not published")
		}
	}
	out, caOut := f.path("dev.pem"), f.path("ca.pem")
	if got := f.must("x509", "issue", id, "--key", key, "--provider", f.provider, "--out", out, "--ca-out", caOut, "--lifetime", "1h"); !strings.Contains(got, id) {
		t.Fatalf("issue printed %q", got)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	cab, _ := os.ReadFile(caOut)
	if string(cab) != caPEM {
		t.Error("--ca-out is not the published CA")
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(caPEM))
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("chain: %v", err)
	}
	if got := field(t, f.must("x509", "show", out), "did"); got != id {
		t.Errorf("show: did %q", got)
	}
	if e := f.fail("x509", "issue", id, "--key", key, "--provider", f.provider, "--out", out, "--lifetime", "48h"); !strings.Contains(e, "x509-lifetime") {
		t.Errorf("a longer lifetime: %s", e)
	}
	other, _ := f.newKey("other.key")
	if e := f.fail("x509", "issue", id, "--key", other, "--provider", f.provider, "--out", out); !strings.Contains(e, "not a current key") && !strings.Contains(e, "neither a key") {
		t.Errorf("another key: %s", e)
	}

	f.must("provider", "revoke", id, "--key", f.admin, "--reason", "compromised")
	crl := f.path("crl.pem")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		f.must("x509", "crl", f.provider, "--out", crl)
		b, _ := os.ReadFile(crl)
		blk, _ := pem.Decode(b)
		l, err := x509.ParseRevocationList(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.RevokedCertificateEntries) == 1 && l.RevokedCertificateEntries[0].SerialNumber.Cmp(cert.SerialNumber) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the CRL does not list the revoked certificate")
		}
	}
	if got := f.must("x509", "publish", f.provider, "--key", f.admin, "--cert", ca.CertPath(f.h.Home)); !strings.Contains(got, "nothing to change") {
		t.Errorf("publish of the published CA: %q", got)
	}
	// A second CA of the provider (another node's, or a rotation) is
	// published beside the first.
	home := t.TempDir()
	if _, err := ca.Ensure(home, f.provider, "second"); err != nil {
		t.Fatal(err)
	}
	f.must("x509", "publish", f.provider, "--key", f.admin, "--cert", ca.CertPath(home))
	if n := strings.Count(f.must("x509", "ca", f.provider), "BEGIN CERTIFICATE"); n != 2 {
		t.Errorf("%d CA certificates published, want 2", n)
	}
	// The end of the rotation: the first is withdrawn.
	f.must("x509", "publish", f.provider, "--key", f.admin, "--cert", ca.CertPath(f.h.Home), "--remove")
	second, _ := os.ReadFile(ca.CertPath(home))
	if got := f.must("x509", "ca", f.provider); got != string(second) {
		t.Errorf("after --remove the provider publishes:\n%s", got)
	}
}

package ca

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// TestIndexDurable: what Add and Revoke acknowledged is there after a
// reopen; a torn last line (a crash while appending) is dropped; expired
// certificates are dropped when the file is compacted.
func TestIndexDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issued.jsonl")
	now := time.Unix(1_800_000_000, 0)
	x, err := OpenIndex(path, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []Issued{
		{Serial: "01", DID: "did:bias:local:a", KeyID: "k1", NotAfter: now.Unix() + 100},
		{Serial: "02", DID: "did:bias:local:a", KeyID: "k1", NotAfter: now.Unix() + 100},
		{Serial: "03", DID: "did:bias:local:b", KeyID: "k1", NotAfter: now.Unix() + 10},
	} {
		if err := x.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := x.Revoke("02", now.Unix(), 9); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ok, _ := x.Revoke("02", now.Unix(), 9); ok {
		t.Error("revoked twice")
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"issue":{"serial":"04","did":"did:bi`) // torn
	_ = f.Close()

	x, err = OpenIndex(path, now.Add(50*time.Second))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { _ = x.Close() })
	if _, ok := x.Get("04"); ok {
		t.Error("the torn line was read")
	}
	if _, ok := x.Get("03"); ok {
		t.Error("an expired certificate was kept")
	}
	if c, ok := x.Get("02"); !ok || c.Revoked != now.Unix() || c.Reason != 9 {
		t.Errorf("revocation lost: %+v", c)
	}
	if live := x.Live("did:bias:local:a", now.Add(50*time.Second).Unix()); len(live) != 1 || live[0].Serial != "01" {
		t.Errorf("live: %+v", live)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("index mode %v", fi.Mode().Perm())
	}
}

// fakeView is a ledger of one entity.
type fakeView struct{ e *record.Entity }

func (v fakeView) EntityRecord(context.Context, string) (*record.Entity, error) { return v.e, nil }

// TestCRLNumberGrows: a restarted authority signs CRLs with higher
// numbers than the last one it wrote, even within the same second.
func TestCRLNumberGrows(t *testing.T) {
	home := t.TempDir()
	prov := did.New("local", []byte("p")).String()
	c, err := Ensure(home, prov, "p")
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(KeyPath(home)); fi.Mode().Perm() != 0o600 {
		t.Errorf("CA key mode %v", fi.Mode().Perm())
	}
	now := time.Unix(1_800_000_000, 0)
	cfg := Config{CA: c, View: fakeView{&record.Entity{Status: op.StatusValidated}}, Network: "local", Dir: t.TempDir(), Now: func() time.Time { return now }}
	var last int64
	for range 3 {
		a, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.refreshCRL(t.Context(), true); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(cfg.Dir, "crl.pem"))
		blk, _ := pem.Decode(b)
		l, err := x509.ParseRevocationList(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.CheckSignatureFrom(c.Cert); err != nil {
			t.Fatal(err)
		}
		if l.Number.Int64() <= last {
			t.Fatalf("CRL number %d after %d", l.Number.Int64(), last)
		}
		last = l.Number.Int64()
		_ = a.Close()
	}
	// Ensure loads what it made.
	again, err := Ensure(home, prov, "p")
	if err != nil || string(again.DER) != string(c.DER) {
		t.Fatalf("reload: %v", err)
	}
	if _, err := Load(home, did.New("local", []byte("q")).String()); err == nil {
		t.Error("loaded a CA for another provider")
	}
}

// TestLiveExpires: an expired certificate is not live, whether or not a
// CRL pruned it yet (a device's limit counts only what still stands).
func TestLiveExpires(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	x, err := OpenIndex(filepath.Join(t.TempDir(), "issued.jsonl"), now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Close() })
	if err := x.Add(Issued{Serial: "01", DID: "did:bias:local:a", NotAfter: now.Unix() + 10}); err != nil {
		t.Fatal(err)
	}
	if n := len(x.Live("did:bias:local:a", now.Unix())); n != 1 {
		t.Fatalf("live before expiry: %d", n)
	}
	if n := len(x.Live("did:bias:local:a", now.Unix()+10)); n != 0 {
		t.Fatalf("live at expiry: %d", n)
	}
}

// TestVerdictAliases: a certificate stands only while the device holds
// each legacy identifier it names.
func TestVerdictAliases(t *testing.T) {
	e := &record.Entity{DID: "did:bias:local:a", Status: op.StatusValidated,
		Doc: op.Document{Keys: []op.Key{{ID: "k1", Alg: -8, Pub: make([]byte, 32)}}, Aliases: []string{"urn:imei:49015420-323751-8"}}}
	c := Issued{DID: e.DID, KeyID: "k1", Alg: -8, Pub: make([]byte, 32), Aliases: []string{"urn:imei:49015420-323751-8"}}
	if ok, _ := verdict(e, c); !ok {
		t.Fatal("refused while the alias is held")
	}
	e.Doc.Aliases = nil
	if ok, reason := verdict(e, c); ok || reason != reasonSuperseded {
		t.Fatalf("alias dropped: %v %d", ok, reason)
	}
}

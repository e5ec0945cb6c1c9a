package cli

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestContractCommands(t *testing.T) {
	f := newFixture(t)
	src := f.path("tac.cel")
	if err := os.WriteFile(src, []byte(`aliases.exists(a, a.startsWith("urn:imei:35209900")) ? "validate" : "pending"`), 0o600); err != nil {
		t.Fatal(err)
	}
	inputs := f.path("device.json")
	if err := os.WriteFile(inputs, []byte(`{"kind":"device","aliases":["urn:imei:35209900-176148-1"],"time":"2026-11-25T10:00:00Z"}`), 0o600); err != nil {
		t.Fatal(err)
	}

	// Try it before deploying.
	var dr struct{ Outcome, Contract string }
	if err := json.Unmarshal([]byte(f.must("contract", "dry-run", "--kind", "registration", "--file", src, "--inputs", inputs)), &dr); err != nil {
		t.Fatal(err)
	}
	if dr.Outcome != "validate" {
		t.Fatalf("dry run: %+v", dr)
	}
	if out := f.must("contract", "deploy", "--key", f.admin, "--provider", f.provider, "--name", "tac", "--kind", "registration", "--file", src); !strings.Contains(out, "version 1") {
		t.Fatalf("deploy: %s", out)
	}
	key, _ := f.newKey("cam.key")
	id := field(t, f.must("register", "--key", key, "--provider", f.provider, "--alias", "urn:imei:35209900-176148-1"), "did")
	if v := f.show(id); v.Status != "validated" || v.Decision == nil || !strings.HasSuffix(v.Decision.Contract, "/tac@1") {
		t.Fatalf("registration decided by the contract: %+v", v)
	}
	if err := json.Unmarshal([]byte(f.must("contract", "dry-run", "--provider", f.provider, "--name", "tac", "--inputs", inputs)), &dr); err != nil {
		t.Fatal(err)
	}
	if dr.Outcome != "validate" || !strings.HasSuffix(dr.Contract, "/tac@1") {
		t.Fatalf("dry run of the deployed contract: %+v", dr)
	}
	if err := os.WriteFile(src, []byte(`"pending"`), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := f.must("contract", "update", "--key", f.admin, "--provider", f.provider, "--name", "tac", "--file", src); !strings.Contains(out, "version 2") {
		t.Fatalf("update: %s", out)
	}
	if out := f.must("contract", "show", f.provider, "tac", "--version", "1"); !strings.Contains(out, "35209900") {
		t.Fatalf("show --version 1: %s", out)
	}
	if out := f.must("contract", "list", f.provider); !strings.Contains(out, `"version": 2`) {
		t.Fatalf("list: %s", out)
	}
	bad := f.path("bad.cel")
	if err := os.WriteFile(bad, []byte(`"validate" +`), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := f.fail("contract", "deploy", "--key", f.admin, "--provider", f.provider, "--name", "bad", "--file", bad); !strings.Contains(out, "bad-contract") {
		t.Fatalf("bad contract: %s", out)
	}

	// An access contract, bound to a service.
	acc := f.path("open.cel")
	if err := os.WriteFile(acc, []byte(`device["kind"] == "device"`), 0o600); err != nil {
		t.Fatal(err)
	}
	f.must("contract", "deploy", "--key", f.admin, "--provider", f.provider, "--name", "open", "--kind", "access", "--file", acc)
	svcKey, _ := f.newKey("svc.key")
	svc := field(t, f.must("register", "--kind", "service", "--key", svcKey, "--provider", f.provider), "did")
	f.must("contract", "bind", svc, "--key", f.admin, "--contract", f.provider+"/open")
	if v := f.show(svc); len(v.Access) != 1 || v.Access[0] != f.provider+"/open" {
		t.Fatalf("bound: %+v", v.Access)
	}
	if out := f.fail("contract", "bind", svc, "--key", f.admin, "--contract", f.provider+"/missing"); !strings.Contains(out, "invalid-field") {
		t.Fatalf("binding a missing contract: %s", out)
	}

	// --binder admits another provider's services; an update without it
	// keeps the list, one with it replaces the list.
	other := f.h.Other.DID.String()
	binders := func() []any {
		var c map[string]any
		if err := json.Unmarshal([]byte(f.must("contract", "show", f.provider, "shared")), &c); err != nil {
			t.Fatal(err)
		}
		b, _ := c["binders"].([]any)
		return b
	}
	f.must("contract", "deploy", "--key", f.admin, "--provider", f.provider, "--name", "shared", "--kind", "access", "--file", acc, "--binder", other)
	if b := binders(); len(b) != 1 || b[0] != other {
		t.Fatalf("binders after deploy: %v", b)
	}
	f.must("contract", "update", "--key", f.admin, "--provider", f.provider, "--name", "shared", "--file", acc)
	if b := binders(); len(b) != 1 || b[0] != other {
		t.Fatalf("binders after an update without --binder: %v", b)
	}
	if out := f.fail("contract", "update", "--key", f.admin, "--provider", f.provider, "--name", "shared", "--file", acc, "--binder", f.provider); !strings.Contains(out, "invalid-field") {
		t.Fatalf("the owner as a binder: %s", out)
	}
	f.must("contract", "update", "--key", f.admin, "--provider", f.provider, "--name", "shared", "--file", acc, "--no-binders")
	if b := binders(); len(b) != 0 {
		t.Fatalf("binders after --no-binders: %v", b)
	}
}

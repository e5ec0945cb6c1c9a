package cli

import "testing"

// TestUpdateHelpExamples runs bias update --help's two examples: the
// device's own attribute change, and the provider's new alias.
func TestUpdateHelpExamples(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key, _ := f.newKey("cam.key")
	id := field(t, f.must("register", "--key", key, "--provider", f.provider), "did")
	f.must("provider", "validate", id, "--key", f.admin)
	f.must("update", id, "--key", key, "--attr", "fw=2.1")
	f.must("update", id, "--key", f.admin, "--alias", "urn:imei:490154203237518")
	if v := f.show(id); len(v.Aliases) != 1 || v.Attributes["fw"] != "2.1" {
		t.Fatalf("after the examples: %+v", v)
	}
}

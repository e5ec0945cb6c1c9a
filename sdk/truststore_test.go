package sdk_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bias-iot/bias/lightclient"
	"github.com/bias-iot/bias/sdk"
)

// TestTrustFile: the newest trusted header survives a new TrustFile on
// the same path, an older one does not replace it, and a file that is not
// the store's is an error.
func TestTrustFile(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte("header"))
	tr := func(height int64) *lightclient.Trusted {
		return &lightclient.Trusted{ChainID: "c", Height: height, Time: time.Unix(1_800_000_000, 5).UTC(), Hash: h[:], AppHash: []byte("root"),
			Validators: []lightclient.Validator{{PubKey: pub, Power: 10}}, NextValidatorsHash: h[:]}
	}
	path := filepath.Join(t.TempDir(), "trusted.json")
	if got, err := (&sdk.TrustFile{Path: path}).Load("c"); got != nil || err != nil {
		t.Fatalf("an absent file: %+v %v", got, err)
	}
	if err := (&sdk.TrustFile{Path: path}).Save(tr(9)); err != nil {
		t.Fatal(err)
	}
	if err := (&sdk.TrustFile{Path: path}).Save(tr(7)); err != nil {
		t.Fatal(err)
	}
	got, err := (&sdk.TrustFile{Path: path}).Load("c")
	if err != nil || got.Height != 9 || !got.Time.Equal(tr(9).Time) || !bytes.Equal(got.Validators[0].PubKey, pub) {
		t.Fatalf("%+v %v", got, err)
	}
	if other, err := (&sdk.TrustFile{Path: path}).Load("d"); other != nil || err != nil {
		t.Fatalf("another chain: %+v %v", other, err)
	}
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (&sdk.TrustFile{Path: path}).Load("c"); err == nil {
		t.Fatal("a broken file loaded")
	}
}

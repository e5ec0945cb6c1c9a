package registry

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/op"
)

// bigEnrollment is a bulk enrollment of 2000 devices for provider p,
// signed by s under p's admin kid (s is p's key, or a forger's).
func bigEnrollment(t testing.TB, p provider, s cose.Signer) []byte {
	t.Helper()
	items := make([]op.EnrollEntry, 2000)
	for i := range items {
		k, _, err := cose.GenerateKey(cose.AlgEdDSA)
		if err != nil {
			t.Fatal(err)
		}
		items[i] = op.EnrollEntry{Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", k.Public())},
			Attrs: []op.Attr{{K: "model", V: "meter-1"}, {K: "serial", V: string(rune('A'+i%26)) + "-0000000000000000000000"}}}}
	}
	tx, err := op.Sign(s, p.kid, op.Payload{Type: op.TypeEnroll, Network: network, Enroll: &op.Enroll{Provider: p.kid.Base().String(), Items: items}})
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestForgedEnrollmentCheckedFirst (issue 18, finding 8): an operation
// larger than a single entity's has its signature checked, against the
// provider's admin key, before its payload is decoded: a forged batch
// whose payload is not even CBOR is refused as a bad signature (it was
// decoded first and refused as malformed), in the API's check, in CheckTx
// and in FinalizeBlock alike; a genuine batch applies.
func TestForgedEnrollmentCheckedFirst(t *testing.T) {
	appState, ps := genesis(t, 1)
	c := newChain(t, appState)
	forger, _, err := cose.GenerateKey(cose.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	junk, err := cose.Sign1(forger, []byte(ps[0].kid.String()), bytes.Repeat([]byte{0xff}, op.MaxEnrollBytes-1024), nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, tx := range map[string][]byte{"junk-payload": junk, "shaped-batch": bigEnrollment(t, ps[0], forger)} {
		t.Run(name, func(t *testing.T) {
			var oe *op.Error
			if err := c.app.Precheck(tx); !errors.As(err, &oe) || oe.Reason != op.ReasonBadSignature {
				t.Fatalf("Precheck: %v, want bad-signature", err)
			}
			if r := c.checkTx(tx); r.Reason != string(op.ReasonBadSignature) {
				t.Fatalf("CheckTx: %s %s", r.Reason, r.Log)
			}
			res, _ := c.block(tx)
			if res[0].Reason != string(op.ReasonBadSignature) {
				t.Fatalf("FinalizeBlock: %s %s", res[0].Reason, res[0].Log)
			}
		})
	}
	res, _ := c.block(bigEnrollment(t, ps[0], ps[0].signer))
	if res[0].Code != 0 {
		t.Fatalf("the provider's batch: %s %s", res[0].Reason, res[0].Log)
	}
}

// BenchmarkForgedEnrollment: what a forged 2000-device enrollment costs a
// node before it is refused, against what a genuine one costs to check
// (decode, validate, verify), measured in the same run.
func BenchmarkForgedEnrollment(b *testing.B) {
	appState, ps := genesis(b, 1)
	app := newChain(b, appState).app
	forger, _, err := cose.GenerateKey(cose.AlgEdDSA)
	if err != nil {
		b.Fatal(err)
	}
	forged := bigEnrollment(b, ps[0], forger)
	genuine := bigEnrollment(b, ps[0], ps[0].signer)
	b.ReportMetric(float64(len(forged))/1024, "KiB")
	time0 := time.Now()
	const genuineRuns = 5
	for range genuineRuns {
		app.ops = newOpCache(1<<16, 256<<20) // no cache: check it whole each time
		if err := app.Precheck(genuine); err != nil {
			b.Fatal(err)
		}
	}
	perGenuine := time.Since(time0) / genuineRuns
	b.ResetTimer()
	for range b.N {
		if err := app.Precheck(forged); err == nil {
			b.Fatal("a forged batch passed")
		}
	}
	b.StopTimer()
	perForged := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(perGenuine.Microseconds()), "µs-genuine")
	b.ReportMetric(float64(perForged)/float64(perGenuine), "ratio-forged-to-genuine")
}

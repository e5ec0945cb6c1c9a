package seal_test

import (
	"crypto/ecdh"
	"crypto/rand"
	"fmt"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/seal"
)

// A provider seals a network secret to its device's X25519 key-agreement
// key; the device opens it, trusting the provider's admin key that the
// ledger lists (here, the one it knows).
func Example() {
	admin, _, _ := cose.GenerateKey(cose.AlgEdDSA)
	adminKid := did.New("local", []byte("provider")).WithFragment("admin-1")
	devPriv, _ := ecdh.X25519().GenerateKey(rand.Reader)
	devKey, _ := op.AgreementKeyFrom("ka1", devPriv.PublicKey())
	devKid := did.New("local", []byte("device")).WithFragment("ka1")

	env, err := seal.Seal(admin, adminKid, seal.Recipient{Key: devKid, Pub: devKey}, []byte("psk=9f2c"), seal.Options{Type: "text/plain"})
	if err != nil {
		panic(err)
	}
	got, err := seal.Open(env, devKid, devPriv, func(kid did.DID) (cose.PublicKey, error) {
		if kid != adminKid {
			return cose.PublicKey{}, fmt.Errorf("%s is not my provider's admin key", kid)
		}
		return admin.Public(), nil
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s from %s\n", got.Plaintext, got.Kid.Fragment)
	// Output: psk=9f2c from admin-1
}

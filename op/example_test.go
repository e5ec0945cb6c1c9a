package op_test

import (
	"errors"
	"fmt"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
)

// A device registers itself: it signs its inception with one of its new
// keys; a node decodes the operation, checks its form, and checks the
// signature with the key the payload carries (proof of possession).
func ExampleSignRegister() {
	key, _, err := cose.GenerateKey(cose.AlgEdDSA)
	if err != nil {
		panic(err)
	}
	provider := did.New("local", []byte("the provider's inception"))
	tx, id, err := op.SignRegister(key, "k1", op.Payload{
		Network: "local",
		Register: &op.Register{
			Kind:     op.KindDevice,
			Provider: provider.String(),
			Doc:      op.Document{Keys: []op.Key{op.KeyFrom("k1", key.Public())}},
		},
	})
	if err != nil {
		panic(err)
	}

	s, err := op.Decode(tx)
	if err != nil {
		panic(err)
	}
	pk, err := s.Payload.Register.Doc.Keys[0].Public()
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Payload.Type, s.Payload.Register.Kind)
	fmt.Println("kid names the new DID's key:", s.Kid == id.WithFragment("k1"))
	fmt.Println("signed by that key:", s.Msg.Verify(pk, nil) == nil)
	// Output:
	// entity.register device
	// kid names the new DID's key: true
	// signed by that key: true
}

// Decode refuses an operation with a stable reason, which a client
// branches on with errors.As (or errors.Is against an *op.Error).
func ExampleDecode() {
	key, _, err := cose.GenerateKey(cose.AlgEdDSA)
	if err != nil {
		panic(err)
	}
	// Signed with a key of network "local" for network "other".
	kid := did.New("local", []byte("an entity")).WithFragment("k1")
	tx, err := op.Sign(key, kid, op.Payload{
		Type:    op.TypeRevoke,
		Network: "other",
		Status:  &op.Status{DID: did.New("other", []byte("a device")).String(), Version: 1},
	})
	if err != nil {
		panic(err)
	}
	_, err = op.Decode(tx)
	var e *op.Error
	if errors.As(err, &e) {
		fmt.Println(e.Reason, e.Reason.Code())
	}
	_, err = op.Decode([]byte("not an operation"))
	fmt.Println(errors.Is(err, &op.Error{Reason: op.ReasonMalformed}))
	// Output:
	// wrong-network 5
	// true
}

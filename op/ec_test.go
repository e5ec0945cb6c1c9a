package op

import (
	"crypto"
	"crypto/ecdsa"
)

func uncompressedPoint(pub crypto.PublicKey) []byte {
	k := pub.(*ecdsa.PublicKey)
	e, err := k.ECDH()
	if err != nil {
		panic(err)
	}
	return e.Bytes()
}

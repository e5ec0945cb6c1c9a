package sdk

import (
	"encoding/base64"
	"fmt"

	"github.com/bias-iot/bias/op"
)

// AgreementKeyView is a key-agreement key (DID Core keyAgreement) of an
// entity, to which its provider seals data (package seal).
type AgreementKeyView struct {
	ID string `json:"id"`
	// KEM names the curve of the HPKE KEM: X25519 or P-256.
	KEM string `json:"kem"`
	// PublicKey is the raw key, base64url without padding (X25519: 32
	// bytes; P-256: compressed SEC1 point, 33 bytes).
	PublicKey string `json:"publicKey"`
}

var kemNames = map[uint16]string{op.KEMX25519: "X25519", op.KEMP256: "P-256"}

// AgreementKeyViews is the JSON view of key-agreement keys (nil for none).
func AgreementKeyViews(keys []op.AgreementKey) []AgreementKeyView {
	var out []AgreementKeyView
	for _, k := range keys {
		out = append(out, AgreementKeyView{ID: k.ID, KEM: kemNames[k.KEM], PublicKey: base64.RawURLEncoding.EncodeToString(k.Pub)})
	}
	return out
}

// Key is the key a view shows, checked.
func (v AgreementKeyView) Key() (op.AgreementKey, error) {
	pub, err := base64.RawURLEncoding.DecodeString(v.PublicKey)
	if err != nil {
		return op.AgreementKey{}, fmt.Errorf("agreement key %s: publicKey is not base64url", v.ID)
	}
	for id, name := range kemNames {
		if name == v.KEM {
			k := op.AgreementKey{ID: v.ID, KEM: id, Pub: pub}
			_, err := k.ECDH()
			return k, err
		}
	}
	return op.AgreementKey{}, fmt.Errorf("agreement key %s: kem %.16q is neither X25519 nor P-256", v.ID, v.KEM)
}

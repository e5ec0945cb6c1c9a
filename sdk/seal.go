package sdk

import (
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/seal"
)

// ErrNoAgreementKey is returned by Seal for an entity without the
// key-agreement key asked for.
var ErrNoAgreementKey = errors.New("the entity has no such key-agreement key")

// Seal seals plaintext (package seal) to the entity to, a DID (its first
// key-agreement key) or the DID URL of one of its key-agreement keys, as
// the node shows it now, and signs the envelope with s, the admin key
// kid of the entity's provider. The entity must be validated: nothing
// is sealed to a pending, revoked or deactivated one. The envelope is
// delivered off the ledger.
func (c *Client) Seal(ctx context.Context, s cose.Signer, kid did.DID, to string, plaintext []byte, o seal.Options) ([]byte, error) {
	id, err := did.Parse(to)
	if err != nil {
		return nil, err
	}
	e, err := c.Entity(ctx, id.Base().String())
	if err != nil {
		return nil, err
	}
	if e.Provider != kid.Base().String() {
		return nil, fmt.Errorf("%s is not an entity of %s", e.DID, kid.Base())
	}
	if e.Status != op.StatusValidated {
		return nil, fmt.Errorf("%s is %s: nothing is sealed to an entity that is not validated", e.DID, e.Status)
	}
	for _, v := range e.KeyAgreement {
		if id.Fragment != "" && v.ID != id.Fragment {
			continue
		}
		k, err := v.Key()
		if err != nil {
			return nil, err
		}
		return seal.Seal(s, kid, seal.Recipient{Key: id.Base().WithFragment(k.ID), Pub: k}, plaintext, o)
	}
	return nil, fmt.Errorf("%w: %s", ErrNoAgreementKey, to)
}

// Open opens an envelope sealed to me, the DID URL of the caller's
// key-agreement key, with priv, its private part: the envelope must be
// signed by a current admin key of the provider of me's entity, as the
// node shows it now (a removed provider's keys sign nothing).
func (c *Client) Open(ctx context.Context, envelope []byte, me did.DID, priv ecdh.KeyExchanger) (*seal.Opened, error) {
	e, err := c.Entity(ctx, me.Base().String())
	if err != nil {
		return nil, err
	}
	var prov *ProviderView
	return seal.Open(envelope, me, priv, func(kid did.DID) (cose.PublicKey, error) {
		if kid.Base().String() != e.Provider {
			return cose.PublicKey{}, fmt.Errorf("%s is not the entity's provider", kid.Base())
		}
		if prov == nil {
			if prov, err = c.Provider(ctx, e.Provider); err != nil {
				return cose.PublicKey{}, err
			}
		}
		if prov.Removed != 0 {
			return cose.PublicKey{}, fmt.Errorf("provider %s was removed", prov.DID)
		}
		for _, kv := range prov.Keys {
			if kv.ID == kid.Fragment {
				k, err := kv.Key()
				if err != nil {
					return cose.PublicKey{}, err
				}
				return k.Public()
			}
		}
		return cose.PublicKey{}, fmt.Errorf("%s is not a current admin key", kid)
	})
}

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

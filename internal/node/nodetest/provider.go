package nodetest

import (
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/internal/registry"
	"github.com/bias-iot/bias/op"
)

func providerDID(network, name string, pub cose.PublicKey) (did.DID, error) {
	return registry.ProviderDID(network, registry.GenesisProvider{Name: name, Keys: []op.Key{op.KeyFrom(node.AdminKeyID, pub)}})
}

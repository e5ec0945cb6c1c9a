package registry

import (
	"encoding/json"
	"fmt"

	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
)

// Genesis is the registry's part of the genesis file (CometBFT's app_state).
type Genesis struct {
	Network   string            `json:"network"`
	Providers []GenesisProvider `json:"providers"`
}

// GenesisProvider is a founding provider.
type GenesisProvider struct {
	Name string   `json:"name"`
	Keys []op.Key `json:"keys"`
}

// ProviderDID derives a provider's DID from its genesis entry.
func ProviderDID(network string, p GenesisProvider) (did.DID, error) {
	b, err := op.Marshal(struct {
		_       struct{} `cbor:",toarray"`
		Tag     string
		Network string
		Name    string
		Keys    []op.Key
	}{Tag: "bias-provider", Network: network, Name: p.Name, Keys: p.Keys})
	if err != nil {
		return did.DID{}, err
	}
	return did.New(network, b), nil
}

// ParseGenesis decodes and validates app_state.
func ParseGenesis(b []byte) (*Genesis, error) {
	var g Genesis
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("genesis app_state: %w", err)
	}
	if err := did.ValidateNetwork(g.Network); err != nil {
		return nil, fmt.Errorf("genesis network: %w", err)
	}
	names := map[string]bool{}
	for i, p := range g.Providers {
		if p.Name == "" || len(p.Name) > op.MaxNameLen || names[p.Name] {
			return nil, fmt.Errorf("genesis provider %d: name must be unique and 1 to %d bytes", i, op.MaxNameLen)
		}
		names[p.Name] = true
		doc := op.Document{Keys: p.Keys}
		pl := op.Payload{Type: op.TypeUpdate, Network: g.Network, Update: &op.Update{DID: did.New(g.Network, nil).String(), Doc: doc}}
		if err := pl.Validate(); err != nil {
			return nil, fmt.Errorf("genesis provider %q keys: %w", p.Name, err)
		}
	}
	return &g, nil
}

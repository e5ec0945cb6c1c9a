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
	// Params are the network's first governance parameters (default:
	// op.DefaultParams).
	Params *op.Params `json:"params,omitempty"`
}

// GenesisProvider is a founding provider. Validator, if set, is the
// Ed25519 public key of the genesis validator it runs (one of
// CometBFT's genesis validators): governance then changes that
// validator as the provider's. It is not part of the provider's DID.
type GenesisProvider struct {
	Name      string   `json:"name"`
	Keys      []op.Key `json:"keys"`
	Validator []byte   `json:"validator,omitempty"`
	// Threshold is how many of Keys sign each of the provider's
	// operations (0: 1). It is not part of the provider's DID either.
	Threshold uint64 `json:"threshold,omitempty"`
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
	if len(g.Providers) > MaxProviders {
		return nil, fmt.Errorf("genesis: at most %d providers", MaxProviders)
	}
	if g.Params != nil {
		if err := g.Params.Validate(); err != nil {
			return nil, fmt.Errorf("genesis params: %w", err)
		}
	}
	names := map[string]bool{}
	for i, p := range g.Providers {
		if p.Validator != nil && len(p.Validator) != 32 {
			return nil, fmt.Errorf("genesis provider %d: validator must be an Ed25519 public key (32 bytes)", i)
		}
		if p.Name == "" || len(p.Name) > op.MaxNameLen || names[p.Name] {
			return nil, fmt.Errorf("genesis provider %d: name must be unique and 1 to %d bytes", i, op.MaxNameLen)
		}
		names[p.Name] = true
		doc := op.Document{Keys: p.Keys}
		pl := op.Payload{Type: op.TypeUpdate, Network: g.Network, Update: &op.Update{DID: did.New(g.Network, nil).String(), Doc: doc}}
		if err := pl.Validate(); err != nil {
			return nil, fmt.Errorf("genesis provider %q keys: %w", p.Name, err)
		}
		if err := op.ValidateKeySet("keys", p.Keys, p.Threshold, true); err != nil {
			return nil, fmt.Errorf("genesis provider %q: %w", p.Name, err)
		}
	}
	return &g, nil
}

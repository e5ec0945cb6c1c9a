package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/types"
	"github.com/spf13/cobra"

	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/internal/registry"
	"github.com/bias-iot/bias/op"
)

func (a *app) genesisCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "genesis",
		Short: "Assemble a multi-operator genesis file: init, add-provider, add-validator, validate",
		Long: `Assemble the genesis.json of a network that several operators start together.
One operator runs genesis init; each operator's provider (its admin public
key) and validator (its validator public key, from bias node id) are added;
validate checks the whole as the nodes will; every operator then copies the
file into HOME/config/genesis.json.`,
		Example: example("bias genesis init --network consortium --out genesis.json",
			"bias genesis add-validator genesis.json --home ./mine --name operator-a",
			"bias genesis add-provider genesis.json --name operator-a --key ./mine/provider/admin.key --validator-home ./mine",
			"bias genesis validate genesis.json"),
	}
	cmd.AddCommand(a.genesisInitCmd(), a.genesisAddProviderCmd(), a.genesisAddValidatorCmd(), a.genesisValidateCmd())
	return cmd
}

func (a *app) genesisInitCmd() *cobra.Command {
	var network, out string
	cmd := &cobra.Command{
		Use:     "init --network NAME --out FILE",
		Short:   "Write an empty genesis file: the network's name, no provider, no validator yet",
		Example: example("bias genesis init --network consortium --out genesis.json"),
		Args:    cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if _, err := os.Stat(out); err == nil {
				return usageError(fmt.Errorf("%s exists: choose another --out", out))
			}
			app, err := json.Marshal(registry.Genesis{Network: network, Providers: []registry.GenesisProvider{}})
			if err != nil {
				return err
			}
			if _, err := registry.ParseGenesis(app); err != nil {
				return usageError(err)
			}
			doc := &types.GenesisDoc{ChainID: network, GenesisTime: time.Now().UTC(), InitialHeight: 1,
				ConsensusParams: types.DefaultConsensusParams(), AppState: app}
			if err := saveGenesis(out, doc); err != nil {
				return err
			}
			return a.emit(map[string]string{"file": out, "network": network}, func() {
				a.out("%s: network %s; next: bias genesis add-validator and add-provider for each operator\n", out, network)
			})
		},
	}
	cmd.Flags().StringVar(&network, "network", "", "the network's name: the chain id and the network segment of every DID (required)")
	cmd.Flags().StringVar(&out, "out", "genesis.json", "the genesis file to write")
	cmd.MarkFlagRequired("network")
	return cmd
}

func (a *app) genesisAddProviderCmd() *cobra.Command {
	var name, keyPath, valHome, valKey string
	cmd := &cobra.Command{
		Use:   "add-provider FILE --name NAME --key ADMIN_KEY",
		Short: "Add a founding provider: its name, its admin key, the validator it runs",
		Long: `Add a founding provider to the genesis file: its name, the public key of its
admin key file (its first admin key, id ` + node.AdminKeyID + `), and optionally the
validator it runs (--validator-home, or --validator with the standard base64
that bias node id prints), which must be a validator of the file. Prints the
provider's DID, which follows from these.`,
		Example: example("bias genesis add-provider genesis.json --name operator-a --key ./mine/provider/admin.key --validator-home ./mine"),
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			doc, g, err := loadGenesis(args[0])
			if err != nil {
				return err
			}
			s, err := loadKey(keyPath)
			if err != nil {
				return err
			}
			p := registry.GenesisProvider{Name: name, Keys: []op.Key{op.KeyFrom(node.AdminKeyID, s.Public())}}
			if valHome != "" || valKey != "" {
				if p.Validator, err = validatorKey(valHome, valKey); err != nil {
					return err
				}
			}
			for _, q := range g.Providers {
				if q.Name == name {
					return usageError(fmt.Errorf("%s already has a provider %q", args[0], name))
				}
			}
			g.Providers = append(g.Providers, p)
			if err := checkGenesis(doc, g); err != nil {
				return err
			}
			id, err := registry.ProviderDID(g.Network, p)
			if err != nil {
				return err
			}
			if err := writeGenesis(args[0], doc, g); err != nil {
				return err
			}
			return a.emit(map[string]string{"file": args[0], "name": name, "did": id.String()}, func() {
				a.out("%s: provider %s is %s\n", args[0], name, id)
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the provider's name (required)")
	cmd.Flags().StringVar(&keyPath, "key", "", "the provider's admin key file (its public key goes in) (required)")
	cmd.Flags().StringVar(&valHome, "validator-home", "", "the home of the validator the provider runs")
	cmd.Flags().StringVar(&valKey, "validator", "", "or that validator's public key (standard base64, from bias node id)")
	cmd.MarkFlagsMutuallyExclusive("validator-home", "validator")
	cmd.MarkFlagRequired("name")
	cmd.MarkFlagRequired("key")
	return cmd
}

func (a *app) genesisAddValidatorCmd() *cobra.Command {
	var name, home, pub string
	var power int64
	cmd := &cobra.Command{
		Use:     "add-validator FILE (--home HOME | --pubkey BASE64) --name NAME",
		Short:   "Add a genesis validator, from its node's home or its public key",
		Example: example("bias genesis add-validator genesis.json --home ./mine --name operator-a", "bias genesis add-validator genesis.json --pubkey 3q2+7w... --name operator-b --power 10"),
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			doc, g, err := loadGenesis(args[0])
			if err != nil {
				return err
			}
			if home == "" && pub == "" {
				return usageError(errors.New("give --home or --pubkey"))
			}
			if power < 1 || power > op.MaxValidatorPower {
				return usageError(fmt.Errorf("--power must be 1 to %d", int64(op.MaxValidatorPower)))
			}
			k, err := validatorKey(home, pub)
			if err != nil {
				return err
			}
			pk := ed25519.PubKey(k)
			for _, v := range doc.Validators {
				if bytes.Equal(v.PubKey.Bytes(), k) {
					return usageError(fmt.Errorf("%s already lists this validator (%s)", args[0], v.Name))
				}
			}
			doc.Validators = append(doc.Validators, types.GenesisValidator{Address: pk.Address(), PubKey: pk, Power: power, Name: name})
			if err := checkGenesis(doc, g); err != nil {
				return err
			}
			if err := writeGenesis(args[0], doc, g); err != nil {
				return err
			}
			return a.emit(map[string]any{"file": args[0], "name": name, "pubKey": base64.StdEncoding.EncodeToString(k), "power": power}, func() {
				a.out("%s: validator %s (%s, power %d)\n", args[0], name, base64.StdEncoding.EncodeToString(k), power)
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the validator's name (required)")
	cmd.Flags().StringVar(&home, "home", "", "the validator node's home (its config/priv_validator_key.json)")
	cmd.Flags().StringVar(&pub, "pubkey", "", "or its public key, standard base64 (bias node id prints it)")
	cmd.Flags().Int64Var(&power, "power", 10, "voting power")
	cmd.MarkFlagsMutuallyExclusive("home", "pubkey")
	cmd.MarkFlagRequired("name")
	return cmd
}

func (a *app) genesisValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "validate FILE",
		Short:   "Check a genesis file as the nodes will, and list its providers and validators",
		Example: example("bias genesis validate genesis.json", "bias genesis validate ~/.bias/config/genesis.json"),
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			doc, g, err := loadGenesis(args[0])
			if err != nil {
				return err
			}
			if err := checkGenesis(doc, g); err != nil {
				return err
			}
			if len(doc.Validators) == 0 {
				return usageError(fmt.Errorf("%s has no validator: bias genesis add-validator", args[0]))
			}
			type prov struct {
				Name      string `json:"name"`
				DID       string `json:"did"`
				Validator string `json:"validator,omitempty"`
			}
			type val struct {
				Name   string `json:"name"`
				PubKey string `json:"pubKey"`
				Power  int64  `json:"power"`
			}
			v := struct {
				File       string `json:"file"`
				Network    string `json:"network"`
				Providers  []prov `json:"providers"`
				Validators []val  `json:"validators"`
			}{File: args[0], Network: g.Network}
			for _, p := range g.Providers {
				id, err := registry.ProviderDID(g.Network, p)
				if err != nil {
					return err
				}
				v.Providers = append(v.Providers, prov{p.Name, id.String(), b64(p.Validator)})
			}
			for _, x := range doc.Validators {
				v.Validators = append(v.Validators, val{x.Name, b64(x.PubKey.Bytes()), x.Power})
			}
			return a.emit(v, func() {
				a.out("%s: network %s, %d providers, %d validators: valid\n", args[0], g.Network, len(v.Providers), len(v.Validators))
				for _, p := range v.Providers {
					a.out("provider  %-12s %s\n", p.Name, p.DID)
				}
				for _, x := range v.Validators {
					a.out("validator %-12s %s power %d\n", x.Name, x.PubKey, x.Power)
				}
			})
		},
	}
}

func b64(b []byte) string {
	if b == nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b)
}

// loadGenesis reads a genesis file and its app_state.
func loadGenesis(path string) (*types.GenesisDoc, *registry.Genesis, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, usageError(fmt.Errorf("%w: bias genesis init makes one", err))
	}
	doc, err := types.GenesisDocFromJSON(b)
	if err != nil {
		return nil, nil, usageError(fmt.Errorf("%s: %w", path, err))
	}
	g, err := registry.ParseGenesis(doc.AppState)
	if err != nil {
		return nil, nil, usageError(fmt.Errorf("%s: %w", path, err))
	}
	if g.Network != doc.ChainID {
		return nil, nil, usageError(fmt.Errorf("%s: app_state.network %q is not the chain_id %q", path, g.Network, doc.ChainID))
	}
	return doc, g, nil
}

// checkGenesis checks what a node checks at its first block: app_state,
// and that each provider's validator is a genesis validator no other
// provider names.
func checkGenesis(doc *types.GenesisDoc, g *registry.Genesis) error {
	app, err := json.Marshal(g)
	if err != nil {
		return err
	}
	if _, err := registry.ParseGenesis(app); err != nil {
		return usageError(err)
	}
	named := map[string]string{}
	for _, p := range g.Providers {
		if p.Validator == nil {
			continue
		}
		k := string(p.Validator)
		if other, dup := named[k]; dup {
			return usageError(fmt.Errorf("providers %q and %q name the same validator", other, p.Name))
		}
		named[k] = p.Name
		found := false
		for _, v := range doc.Validators {
			found = found || bytes.Equal(v.PubKey.Bytes(), p.Validator)
		}
		if !found {
			return usageError(fmt.Errorf("provider %q runs validator %s, which is not a genesis validator: bias genesis add-validator first", p.Name, b64(p.Validator)))
		}
	}
	return nil
}

func writeGenesis(path string, doc *types.GenesisDoc, g *registry.Genesis) error {
	app, err := json.Marshal(g)
	if err != nil {
		return err
	}
	doc.AppState = app
	return saveGenesis(path, doc)
}

func saveGenesis(path string, doc *types.GenesisDoc) error {
	if err := doc.ValidateAndComplete(); err != nil {
		return usageError(fmt.Errorf("genesis: %w", err))
	}
	return doc.SaveAs(path)
}

// validatorKey reads a validator's Ed25519 public key from its home or
// from standard base64.
func validatorKey(home, pub string) ([]byte, error) {
	if home == "" {
		k, err := base64.StdEncoding.DecodeString(pub)
		if err != nil || len(k) != ed25519.PubKeySize {
			return nil, usageError(fmt.Errorf("a validator public key is 32 bytes in standard base64 (bias node id prints it): %q", pub))
		}
		return k, nil
	}
	path := filepath.Join(home, "config", "priv_validator_key.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError(fmt.Errorf("%w: is %s a node's home? (bias node --home, or bias testnet init, makes one)", err, home))
	}
	var f struct {
		PubKey struct {
			Type  string `json:"type"`
			Value []byte `json:"value"`
		} `json:"pub_key"`
	}
	if err := json.Unmarshal(b, &f); err != nil || f.PubKey.Type != ed25519.PubKeyName || len(f.PubKey.Value) != ed25519.PubKeySize {
		return nil, fmt.Errorf("%s: not an Ed25519 validator key file", path)
	}
	return f.PubKey.Value, nil
}

// nodeIDCmd prints what other operators need of a node: its p2p id (for
// their persistentPeers) and its validator key (for the genesis).
func (a *app) nodeIDCmd() *cobra.Command {
	var home string
	cmd := &cobra.Command{
		Use:   "id",
		Short: "Print the node's p2p id and validator public key (what peers and the genesis need)",
		Long: `Print the node's p2p id (from HOME/config/node_key.json; peers list it as
ID@HOST:PORT in persistentPeers), its peer address from its config, and its
validator public key in standard base64 (what bias genesis add-validator
--pubkey and a provider's "validator" take).`,
		Example: example("bias node id --home ./mine"),
		Args:    cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			nk, err := p2p.LoadNodeKey(filepath.Join(home, "config", "node_key.json"))
			if err != nil {
				return usageError(fmt.Errorf("%w: is %s a node's home? (bias node --home, or bias testnet init, makes one)", err, home))
			}
			k, err := validatorKey(home, "")
			if err != nil {
				return err
			}
			v := map[string]string{"home": home, "nodeId": string(nk.ID()), "validatorPubKey": b64(k)}
			if cfg, err := node.LoadConfig(home); err == nil {
				addr := cfg.ExternalAddress
				if addr == "" {
					addr = cfg.P2P
				}
				if na, err := p2p.NewNetAddressString(string(nk.ID()) + "@" + trimScheme(addr)); err == nil {
					v["peer"] = na.String()
				}
			}
			return a.emit(v, func() {
				a.out("node id:          %s\nvalidator pubkey: %s\n", v["nodeId"], v["validatorPubKey"])
				if v["peer"] != "" {
					a.out("peer:             %s (set externalAddress in config/bias.json for other hosts)\n", v["peer"])
				}
			})
		},
	}
	cmd.Flags().StringVar(&home, "home", a.defaultHome(), "node home directory")
	return cmd
}

func trimScheme(addr string) string {
	if _, rest, ok := strings.Cut(addr, "://"); ok {
		return rest
	}
	return addr
}

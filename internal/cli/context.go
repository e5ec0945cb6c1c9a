package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

// clientContext is a named network an operator works with: the node to
// talk to, its provider and the admin key (the `step context` idea).
type clientContext struct {
	Node     string `json:"node"`
	Provider string `json:"provider,omitempty"`
	AdminKey string `json:"adminKey,omitempty"`
}

// clientConfig is the client's config file: its contexts and the current
// one.
type clientConfig struct {
	Current  string                   `json:"current,omitempty"`
	Contexts map[string]clientContext `json:"contexts"`
}

// configPath is the client's config file: BIAS_CONFIG, else
// $XDG_CONFIG_HOME/bias/contexts.json, else ~/.config/bias/contexts.json;
// "" when the environment names no home.
func (a *app) configPath() string {
	if p := a.env.Getenv("BIAS_CONFIG"); p != "" {
		return p
	}
	if d := a.env.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "bias", "contexts.json")
	}
	if h := a.env.Getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "bias", "contexts.json")
	}
	return ""
}

func (a *app) loadConfig() (*clientConfig, error) {
	c := &clientConfig{Contexts: map[string]clientContext{}}
	p := a.configPath()
	if p == "" {
		return c, nil
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, usageError(fmt.Errorf("%s: %w", p, err))
	}
	if c.Contexts == nil {
		c.Contexts = map[string]clientContext{}
	}
	return c, nil
}

func (a *app) saveConfig(c *clientConfig) error {
	p := a.configPath()
	if p == "" {
		return usageError(errors.New("no place for the client config: set BIAS_CONFIG or HOME"))
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return os.WriteFile(p, append(b, '\n'), 0o600)
}

// adminKeyCommands take --key as a provider's admin key: a context's
// adminKey applies to them.
var adminKeyCommands = []string{"provider ", "gov ", "contract deploy", "contract update", "x509 publish", "console"}

// applyContext sets --node, --provider and (for admin commands) --key
// from the context (--context, else the current one) where neither the
// command line nor the environment set them.
func (a *app) applyContext(cmd *cobra.Command) error {
	c, err := a.loadConfig()
	if err != nil {
		return err
	}
	name := a.context
	if name == "" {
		name = c.Current
	}
	if name == "" {
		return nil
	}
	ctx, ok := c.Contexts[name]
	if !ok {
		return usageError(fmt.Errorf("no context %q: bias context list shows them", name))
	}
	path := strings.TrimPrefix(cmd.CommandPath(), "bias ")
	set := map[string]string{"node": ctx.Node, "provider": ctx.Provider}
	for _, p := range adminKeyCommands {
		if strings.HasPrefix(path, p) {
			set["key"] = ctx.AdminKey
		}
	}
	for flag, v := range set {
		if f := cmd.Flags().Lookup(flag); f != nil && !f.Changed && v != "" {
			if err := cmd.Flags().Set(flag, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *app) contextCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "context",
		Short: "Named networks: the node, provider and admin key a command uses by default",
		Long: `A context names a network an operator works with: its node (--node), its
provider (--provider) and the provider's admin key (--key of the provider,
gov, contract deploy/update, x509 publish and console commands). The current context
(bias context use), or --context NAME, fills in those flags where neither the
command line nor a BIAS_ variable gives them. The contexts are kept in
BIAS_CONFIG, else ~/.config/bias/contexts.json.`,
		Example: example("bias context add prod --node https://bias.operator-a.example --provider did:bias:prod:... --admin-key ~/keys/prod-admin.key",
			"bias context use prod", "bias context list"),
	}
	var ctx clientContext
	add := &cobra.Command{
		Use:     "add NAME --node URL",
		Short:   "Add (or replace) a context",
		Example: example("bias context add lab --node 127.0.0.1:8080 --provider did:bias:local:... --admin-key ~/.bias/provider/admin.key"),
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := a.loadConfig()
			if err != nil {
				return err
			}
			if ctx.AdminKey != "" {
				if ctx.AdminKey, err = filepath.Abs(ctx.AdminKey); err != nil {
					return err
				}
			}
			ctx.Node = nodeURL(ctx.Node)
			c.Contexts[args[0]] = ctx
			if c.Current == "" {
				c.Current = args[0]
			}
			if err := a.saveConfig(c); err != nil {
				return err
			}
			return a.emit(map[string]any{"name": args[0], "context": ctx, "current": c.Current == args[0]}, func() {
				a.out("context %s: node %s (current: %s)\n", args[0], ctx.Node, c.Current)
			})
		},
	}
	add.Flags().StringVar(&ctx.Node, "node", "", "the node's API URL or host:port (required)")
	add.Flags().StringVar(&ctx.Provider, "provider", "", "the operator's provider DID")
	add.Flags().StringVar(&ctx.AdminKey, "admin-key", "", "the provider's admin key file")
	add.MarkFlagRequired("node")
	use := &cobra.Command{
		Use:     "use NAME",
		Short:   "Make a context the current one",
		Example: example("bias context use prod"),
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := a.loadConfig()
			if err != nil {
				return err
			}
			if _, ok := c.Contexts[args[0]]; !ok {
				return usageError(fmt.Errorf("no context %q: bias context add %s --node URL first", args[0], args[0]))
			}
			c.Current = args[0]
			if err := a.saveConfig(c); err != nil {
				return err
			}
			return a.emit(map[string]string{"current": c.Current}, func() { a.out("current context: %s\n", c.Current) })
		},
	}
	list := &cobra.Command{
		Use:     "list",
		Short:   "List the contexts (* marks the current one)",
		Example: example("bias context list"),
		Args:    cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			c, err := a.loadConfig()
			if err != nil {
				return err
			}
			return a.emit(c, func() {
				names := make([]string, 0, len(c.Contexts))
				for n := range c.Contexts {
					names = append(names, n)
				}
				sort.Strings(names)
				for _, n := range names {
					mark := " "
					if n == c.Current {
						mark = "*"
					}
					x := c.Contexts[n]
					a.out("%s %-12s %s %s %s\n", mark, n, x.Node, x.Provider, x.AdminKey)
				}
			})
		},
	}
	cmd.AddCommand(add, use, list)
	return cmd
}

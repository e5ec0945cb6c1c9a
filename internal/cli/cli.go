// Package cli is the bias command line: `bias node` runs a node; the other
// commands are clients of a node's HTTP API. Standard streams and the
// environment are injected, so every command runs in tests as it does in
// a shell.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/bias-iot/bias/sdk"
)

// Env is what a command may touch of its process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// OS is the process's own environment.
func OS() Env {
	return Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}

// Run runs the command line args (without the program name) and returns
// the exit code.
func Run(ctx context.Context, env Env, args []string) int {
	root := newRoot(env)
	// An error before a command's RunE (an unknown command or flag, a
	// missing argument) is a usage error.
	ran := false
	walk(root, func(c *cobra.Command) {
		if run := c.RunE; run != nil {
			c.RunE = func(cmd *cobra.Command, args []string) error {
				ran = true
				return run(cmd, args)
			}
		}
	})
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		if !ran {
			err = usageError(err)
		}
		fmt.Fprintln(env.Stderr, "error:", err)
		return exitCode(err)
	}
	return 0
}

// app holds what the client commands share.
type app struct {
	env     Env
	nodeURL string
}

func (a *app) client() *sdk.Client { return sdk.NewClient(nodeURL(a.nodeURL)) }

// nodeURL accepts a node as a URL or as host:port (as --http takes it).
func nodeURL(s string) string {
	if !strings.Contains(s, "://") {
		return "http://" + s
	}
	return s
}

// envName is the environment variable of a flag: BIAS_ and the flag's
// name in capitals, '-' as '_' (--http-base: BIAS_HTTP_BASE).
func envName(flag string) string {
	return "BIAS_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyEnv sets each flag not given on the command line from its
// environment variable, if set: a flag wins over its variable, which
// wins over a node's config file and the default.
func applyEnv(cmd *cobra.Command, env Env) error {
	var errs []error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "help" {
			return
		}
		if v := env.Getenv(envName(f.Name)); v != "" {
			if err := cmd.Flags().Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", envName(f.Name), err))
			}
		}
	})
	return errors.Join(errs...)
}

func (a *app) out(format string, args ...any) { fmt.Fprintf(a.env.Stdout, format, args...) }

func newRoot(env Env) *cobra.Command {
	a := &app{env: env}
	root := &cobra.Command{
		Use:   "bias",
		Short: "Blockchain-based verifiable identification and authentication for IoT devices",
		Long: `bias registers IoT devices and services under W3C DIDs on a ledger that
several operators run together (CometBFT), and lets providers validate,
reject and revoke them.

Start a single-node network:   bias node
Then, in another shell:        bias status

Every flag may also be set by its environment variable, BIAS_ and the flag's
name in capitals with '-' as '_' (--node: BIAS_NODE, --http-base:
BIAS_HTTP_BASE); the flag wins over the variable.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return applyEnv(cmd, env) }
	root.PersistentFlags().StringVar(&a.nodeURL, "node", "http://127.0.0.1:8080", "API URL (or host:port) of the node to talk to")
	root.AddCommand(
		a.nodeCmd(), a.testnetCmd(), a.keyCmd(), a.registerCmd(), a.showCmd(), a.updateCmd(),
		a.rotateCmd(), a.deactivateCmd(), a.providerCmd(), a.statusCmd(), a.resolveCmd(), a.authCmd(), a.contractCmd(),
		a.x509Cmd(),
		a.govCmd(),
	)
	root.AddCommand(a.oauthCmd())
	return root
}

// walk calls fn for c and each command below it.
func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

// example formats a command's example block.
func example(lines ...string) string { return "  " + strings.Join(lines, "\n  ") }

// Package cli is the bias command line: `bias node` runs a node; the other
// commands are clients of a node's HTTP API. Standard streams and the
// environment are injected, so every command runs in tests as it does in
// a shell.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

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
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(env.Stderr, "error:", err)
		return 1
	}
	return 0
}

// app holds what the client commands share.
type app struct {
	env     Env
	nodeURL string
}

func (a *app) client() *sdk.Client { return sdk.NewClient(a.nodeURL) }

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
Then, in another shell:        bias status`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	def := "http://127.0.0.1:8080"
	if v := env.Getenv("BIAS_NODE"); v != "" {
		def = v
	}
	root.PersistentFlags().StringVar(&a.nodeURL, "node", def, "API URL of the node to talk to (env BIAS_NODE)")
	root.AddCommand(
		a.nodeCmd(), a.testnetCmd(), a.keyCmd(), a.registerCmd(), a.showCmd(), a.updateCmd(),
		a.rotateCmd(), a.deactivateCmd(), a.withProviderKeys(a.withSeal(a.providerCmd())), a.statusCmd(), a.resolveCmd(), a.authCmd(), a.contractCmd(),
		a.x509Cmd(),
		a.govCmd(),
	)
	root.AddCommand(a.oauthCmd())
	root.AddCommand(a.openCmd(), a.agreementCmd())
	return root
}

// example formats a command's example block.
func example(lines ...string) string { return "  " + strings.Join(lines, "\n  ") }

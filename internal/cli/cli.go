// Package cli is the bias command line: `bias node` runs a node; the other
// commands are clients of a node's HTTP API. Standard streams and the
// environment are injected, so every command runs in tests as it does in
// a shell.
package cli

import (
	"context"
	"encoding/json"
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
	a := &app{env: env}
	root := a.root()
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
			if a.output == outputText { // the flags may not have been parsed
				a.output = outputFlag(args, env)
			}
		}
		return a.fail(err)
	}
	return 0
}

// app holds what the client commands share.
type app struct {
	env     Env
	nodeURL string
	output  string // text or json
	quiet   bool
	context string // --context: the client context to use instead of the current one
}

func (a *app) client() *sdk.Client { return sdk.NewClient(nodeURL(a.nodeURL)) }

// outputFlag finds the --output of a command line that cobra did not
// parse (an unknown command), so that its error has the format asked for.
func outputFlag(args []string, env Env) string {
	out := env.Getenv(envName("output"))
	for i, arg := range args {
		if v, ok := strings.CutPrefix(arg, "--output="); ok {
			out = v
		} else if (arg == "--output" || arg == "-o") && i+1 < len(args) {
			out = args[i+1]
		}
	}
	if out == outputJSON {
		return outputJSON
	}
	return outputText
}

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

// out writes text output: nothing with --quiet or --output json, whose
// results a command writes with emit.
func (a *app) out(format string, args ...any) {
	if a.output == outputText && !a.quiet {
		fmt.Fprintf(a.env.Stdout, format, args...)
	}
}

func newRoot(env Env) *cobra.Command { return (&app{env: env}).root() }

// fail reports err on stderr, as text or as JSON, and returns its exit
// code.
func (a *app) fail(err error) int {
	code, reason := exitCode(err)
	msg := err.Error()
	if code == exitUnreachable {
		msg += " (no node answers at " + nodeURL(a.nodeURL) + ": start one with bias node, or pass --node URL or host:port)"
	}
	if a.output == outputJSON {
		var b errorBody
		b.Error.Class, b.Error.Code, b.Error.Reason, b.Error.Message = exitClasses[code], code, reason, msg
		if json.NewEncoder(a.env.Stderr).Encode(b) == nil {
			return code
		}
	}
	fmt.Fprintln(a.env.Stderr, "error:", msg)
	return code
}

func (a *app) root() *cobra.Command {
	env := a.env
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
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := applyEnv(cmd, env); err != nil {
			return err
		}
		if err := a.applyContext(cmd); err != nil {
			return err
		}
		if a.output != outputText && a.output != outputJSON {
			return fmt.Errorf("--output %q: want text or json", a.output)
		}
		return nil
	}
	root.PersistentFlags().StringVarP(&a.output, "output", "o", outputText, "output format: text, or json (one JSON value per line, stable for scripts; errors as JSON on stderr)")
	root.PersistentFlags().StringVar(&a.context, "context", "", "the client context to use (default: the current one; bias context)")
	root.PersistentFlags().BoolVarP(&a.quiet, "quiet", "q", false, "print nothing on success (the exit code says it); errors still go to stderr")
	root.PersistentFlags().StringVar(&a.nodeURL, "node", "http://127.0.0.1:8080", "API URL (or host:port) of the node to talk to")
	root.AddCommand(
		a.nodeCmd(), a.testnetCmd(), a.keyCmd(), a.registerCmd(), a.showCmd(), a.updateCmd(),
		a.rotateCmd(), a.deactivateCmd(), a.withProviderKeys(a.withSeal(a.providerCmd())), a.statusCmd(), a.resolveCmd(), a.authCmd(), a.contractCmd(),
		a.x509Cmd(),
		a.govCmd(),
	)
	root.AddCommand(a.oauthCmd())
	root.AddCommand(a.openCmd(), a.agreementCmd())
	root.AddCommand(a.versionCmd(), a.genesisCmd(), a.eventsCmd(), a.contextCmd())
	root.AddCommand(a.consoleCmd())
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

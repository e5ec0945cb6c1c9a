package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/bias-iot/bias/internal/node"
)

func defaultHome(env Env) string {
	if h := env.Getenv("BIAS_HOME"); h != "" {
		return h
	}
	if d, err := os.UserHomeDir(); err == nil {
		return filepath.Join(d, ".bias")
	}
	return ".bias"
}

func (a *app) nodeCmd() *cobra.Command {
	var home, httpAddr, logLevel, logFormat, metricsAddr string
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run a node (initialising a single-validator network on first run)",
		Long: `Run a bias node. On the first run the home directory is initialised with a
single-validator network, its genesis and a default provider whose admin key
is stored in HOME/provider/admin.key; later runs reuse the home and its state.`,
		Example: example("bias node", "bias node --home /tmp/bias --http 127.0.0.1:9090"),
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := node.LoadConfig(home)
			if os.IsNotExist(err) {
				cfg = node.Default()
				cfg.Home = home
				if cmd.Flags().Changed("http") {
					cfg.HTTP = httpAddr
				}
				info, err := node.Init(cfg)
				if err != nil {
					return err
				}
				a.out("initialised %s\n", home)
				a.out("default provider: %s\n", info.ProviderDID)
				a.out("provider admin key: %s\n", info.AdminKey)
			} else if err != nil {
				return err
			}
			if cmd.Flags().Changed("http") {
				cfg.HTTP = httpAddr
			}
			if cmd.Flags().Changed("metrics") {
				cfg.Metrics = metricsAddr
			}
			log, err := nodeLogger(a.env.Stderr, logLevel, logFormat)
			if err != nil {
				return err
			}
			return runNode(cmd.Context(), cfg, log, a)
		},
	}
	cmd.Flags().StringVar(&home, "home", defaultHome(a.env), "node home directory (env BIAS_HOME)")
	cmd.Flags().StringVar(&httpAddr, "http", "127.0.0.1:8080", "API listen address")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "log format: text (logfmt) or json (one object a line)")
	cmd.Flags().StringVar(&metricsAddr, "metrics", "", "also serve /metrics on this address (host:port), apart from the API")
	return cmd
}

// nodeLogger is the node's logger: level and format as the flags say.
func nodeLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is neither text nor json", format)
}

func runNode(ctx context.Context, cfg node.Config, log *slog.Logger, a *app) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	n, err := node.Start(cfg, log)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if err := n.WaitHeight(wctx, 1); err != nil {
		log.Warn("no block yet; waiting for peers", "err", err)
	}
	cancel()
	log.Info("node running", "network", cfg.Network, "api", n.URL(), "height", n.Height(), "home", cfg.Home)
	a.out("node %s serving %s (network %s)\n", cfg.Moniker, n.URL(), cfg.Network)
	select {
	case <-ctx.Done():
	case err := <-n.Served():
		log.Error("api server stopped", "err", err)
	}
	log.Info("stopping")
	return n.Close()
}

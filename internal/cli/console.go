package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bias-iot/bias/internal/console"
	"github.com/bias-iot/bias/sdk"
)

func (a *app) consoleCmd() *cobra.Command {
	var listen, provider, keyPath, certFile, keyFile, tokenFile string
	cmd := &cobra.Command{
		Use:   "console --provider DID --key ADMIN_KEY",
		Short: "Serve the operator console: network health, entities, pending registrations, revocations, live stream, contracts",
		Long: `Serve the operator console, a small web application on this machine that
talks to the node (--node) over its HTTP API: network health (validators,
height, peers, readiness, block rate), the provider's entities by status and
a search by DID or legacy identifier, the pending registrations to validate
or reject, revocation, the live stream of committed entity events and
authentication decisions, and the provider's contracts and their versions.

Its actions are the operations bias provider validate, reject and revoke
make, signed here with the admin key --key: the key never goes to the
browser. It prints the login URL, with a random token (or the one in
--token-file); every page and action needs the session that URL opens (an
HttpOnly, SameSite=Strict cookie), every form carries a CSRF token, and a
request from another origin is refused. It listens on 127.0.0.1:8090 by
default; an address that is not a loopback one needs --tls-cert and --tls-key.
docs/console.md shows the pages and the security model. Runs until
interrupted.`,
		Example: example(
			"bias console --provider did:bias:local:... --key ~/.bias/provider/admin.key",
			"bias console --listen 127.0.0.1:0 --node http://127.0.0.1:8081",
			"bias console --listen 0.0.0.0:8443 --tls-cert console.crt --tls-key console.key --token-file token.txt",
		),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if provider == "" || keyPath == "" {
				return usageError(errors.New("--provider and --key are needed (or a context that names them: bias context add)"))
			}
			tlsConf, err := consoleTLS(listen, certFile, keyFile)
			if err != nil {
				return err
			}
			token, err := readToken(tokenFile)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			// Fail now, not at the first action, if the key is not the provider's.
			if _, _, err := a.adminSigner(ctx, provider, keyPath); err != nil {
				return err
			}
			c, err := console.New(console.Config{
				Client: a.client(), Provider: provider, Token: token,
				Log:   slog.New(slog.NewTextHandler(a.env.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
				Actor: a.consoleActor(keyPath),
			})
			if err != nil {
				return usageError(err)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			scheme := "http"
			if tlsConf != nil {
				scheme = "https"
			}
			fmt.Fprintf(a.env.Stdout, "console: %s\n", c.LoginURL(scheme+"://"+ln.Addr().String()))
			return c.Serve(ctx, ln, tlsConf)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8090", "address to serve the console on (a non-loopback one needs --tls-cert and --tls-key)")
	cmd.Flags().StringVar(&provider, "provider", "", "the provider's DID (required, or from the context)")
	cmd.Flags().StringVar(&keyPath, "key", "", "an admin key of the provider, which signs the console's actions (required, or from the context)")
	cmd.Flags().StringVar(&certFile, "tls-cert", "", "serve over TLS with this certificate (PEM)")
	cmd.Flags().StringVar(&keyFile, "tls-key", "", "the TLS certificate's private key (PEM)")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "read the login token from this file (at least 16 characters) instead of making a random one")
	cmd.MarkFlagsRequiredTogether("tls-cert", "tls-key")
	return cmd
}

// consoleActor makes the console's actions as bias provider validate,
// reject and revoke do: the entity read, the admin key found among its
// provider's, the status operation signed and submitted.
func (a *app) consoleActor(keyPath string) console.Actor {
	return console.ActorFunc(func(ctx context.Context, act console.Action) (*sdk.SubmitResult, error) {
		tx, err := a.changeTx(ctx, act.DID, keyPath, statusPayload(act.Type, act.Reason, act.Version))
		if err != nil {
			return nil, err
		}
		return a.client().Submit(ctx, tx)
	})
}

// consoleTLS loads the console's certificate, and refuses a non-loopback
// address without one.
func consoleTLS(listen, certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" {
		host, _, err := net.SplitHostPort(listen)
		if err != nil {
			return nil, usageError(fmt.Errorf("--listen %q: %w", listen, err))
		}
		if ip, err := netip.ParseAddr(host); host != "localhost" && (err != nil || !ip.IsLoopback()) {
			return nil, usageError(fmt.Errorf("--listen %s is not a loopback address: serve it over TLS (--tls-cert, --tls-key)", listen))
		}
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, usageError(fmt.Errorf("--tls-cert/--tls-key: %w", err))
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// readToken reads a login token file ("" when none is named).
func readToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if len(b) > 1024 {
		return "", usageError(fmt.Errorf("--token-file %s: a token is at most 1024 bytes", path))
	}
	return strings.TrimSpace(string(b)), nil
}

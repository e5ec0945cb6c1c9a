package cli

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
)

func (a *app) providerCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "provider", Short: "Provider commands: validate, reject, revoke, enroll, tickets"}
	for _, c := range []struct{ typ, short string }{
		{op.TypeValidate, "Validate a pending (or rejected) registration"},
		{op.TypeReject, "Reject a pending registration"},
		{op.TypeRevoke, "Revoke an entity: it is refused everywhere from the next block on"},
	} {
		typ := c.typ
		verb := strings.TrimPrefix(typ, "entity.")
		var keyPath, reason string
		sub := &cobra.Command{
			Use:     verb + " DID --key ADMIN_KEY",
			Short:   c.short,
			Example: example(fmt.Sprintf("bias provider %s did:bias:local:... --key ~/.bias/provider/admin.key --reason 'checked'", verb)),
			Args:    cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.statusChange(cmd.Context(), typ, args[0], keyPath, reason)
			},
		}
		sub.Flags().StringVar(&keyPath, "key", "", "an admin key of the entity's provider (required)")
		sub.Flags().StringVar(&reason, "reason", "", "why (recorded on the ledger)")
		sub.MarkFlagRequired("key")
		cmd.AddCommand(sub)
	}
	cmd.AddCommand(a.enrollCmd(), a.ticketCmd(), a.providerShowCmd(), a.providerListCmd(), a.credentialCmd())
	return cmd
}

func (a *app) providerShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "show DID",
		Short:   "Show a provider",
		Example: example("bias provider show did:bias:local:..."),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.client().Provider(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.printJSON(p)
		},
	}
}

func (a *app) providerListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the providers",
		Example: example("bias provider list"),
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.client().Providers(cmd.Context())
			if err != nil {
				return err
			}
			return a.printJSON(p)
		},
	}
}

// adminSigner loads an admin key and finds its kid among the provider's keys.
func (a *app) adminSigner(ctx context.Context, provider, keyPath string) (cose.Signer, did.DID, error) {
	s, err := loadKey(keyPath)
	if err != nil {
		return nil, did.DID{}, err
	}
	p, err := a.client().Provider(ctx, provider)
	if err != nil {
		return nil, did.DID{}, err
	}
	id := findKeyID(p.Keys, base64.RawURLEncoding.EncodeToString(s.Public().Bytes()))
	if id == "" {
		return nil, did.DID{}, fmt.Errorf("%s is not an admin key of %s", keyPath, provider)
	}
	d, err := did.Parse(p.DID)
	return s, d.WithFragment(id), err
}

func (a *app) ticketCmd() *cobra.Command {
	var keyPath, provider, deviceKey, out string
	var ttl time.Duration
	var claims []string
	cmd := &cobra.Command{
		Use:   "ticket --key ADMIN_KEY --provider DID --device-key FILE --out FILE",
		Short: "Sign an enrollment ticket for a device key",
		Long: `Sign, off-ledger, an enrollment ticket that binds a device's public key to
claims (serial number, model...). The device presents it with its
registration; the registry checks it against the provider's admin keys.`,
		Example: example("bias provider ticket --key admin.key --provider did:bias:local:... --device-key cam.key --claim serial=SN123 --out cam.ticket"),
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, kid, err := a.adminSigner(ctx, provider, keyPath)
			if err != nil {
				return err
			}
			dk, err := loadKey(deviceKey)
			if err != nil {
				return err
			}
			attrs, err := parseAttrs(claims)
			if err != nil {
				return err
			}
			t := op.Ticket{Network: kid.Network, Provider: provider, Key: dk.Public().Bytes(), Expires: time.Now().Add(ttl).Unix(), Claims: attrs}
			payload, err := op.Marshal(t)
			if err != nil {
				return err
			}
			msg, err := cose.Sign1(s, []byte(kid.String()), payload, nil)
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, msg, 0o600); err != nil {
				return err
			}
			exp := time.Unix(t.Expires, 0).UTC().Format(time.RFC3339)
			return a.emit(map[string]any{"file": out, "bytes": len(msg), "expires": exp}, func() {
				a.out("ticket written to %s (%d bytes, expires %s)\n", out, len(msg), exp)
			})
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "an admin key of the provider (required)")
	cmd.Flags().StringVar(&provider, "provider", "", "the provider's DID (required)")
	cmd.Flags().StringVar(&deviceKey, "device-key", "", "the device's key file (its public key is used) (required)")
	cmd.Flags().StringVar(&out, "out", "", "ticket file to write (required)")
	cmd.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "validity of the ticket")
	cmd.Flags().StringArrayVar(&claims, "claim", nil, "claim KEY=VALUE (repeatable)")
	for _, f := range []string{"key", "provider", "device-key", "out"} {
		cmd.MarkFlagRequired(f)
	}
	return cmd
}

package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/keyfile"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
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
	s, err := keyfile.Load(keyPath)
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
			dk, err := keyfile.Load(deviceKey)
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
			a.out("ticket written to %s (%d bytes, expires %s)\n", out, len(msg), time.Unix(t.Expires, 0).UTC().Format(time.RFC3339))
			return nil
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

// enrollRow is one device of a bulk enrollment file. In JSON, a list of
// these objects; in CSV, the columns alg,publicKey,aliases,attributes with
// aliases separated by ';' and attributes as k=v;k=v.
type enrollRow struct {
	Alg        string            `json:"alg"`
	PublicKey  string            `json:"publicKey"`
	Aliases    []string          `json:"aliases,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

func readEnrollFile(path string) ([]enrollRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close() //nolint:errcheck // read only: a failed close loses nothing
	if strings.EqualFold(filepath.Ext(path), ".json") {
		var rows []enrollRow
		dec := json.NewDecoder(io.LimitReader(f, 1<<30))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rows); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return rows, nil
	}
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	want := []string{"alg", "publicKey", "aliases", "attributes"}
	if strings.Join(head, ",") != strings.Join(want, ",") {
		return nil, fmt.Errorf("%s: the header must be %s", path, strings.Join(want, ","))
	}
	var rows []enrollRow
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		row := enrollRow{Alg: rec[0], PublicKey: rec[1]}
		if rec[2] != "" {
			row.Aliases = strings.Split(rec[2], ";")
		}
		if rec[3] != "" {
			row.Attributes = map[string]string{}
			for _, kv := range strings.Split(rec[3], ";") {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return nil, fmt.Errorf("%s line %d: attribute %q: want k=v", path, line, kv)
				}
				row.Attributes[k] = v
			}
		}
		rows = append(rows, row)
	}
}

func (row enrollRow) entry() (op.EnrollEntry, error) {
	alg, err := parseAlg(row.Alg)
	if err != nil {
		return op.EnrollEntry{}, err
	}
	pub, err := base64.RawURLEncoding.DecodeString(row.PublicKey)
	if err != nil {
		return op.EnrollEntry{}, fmt.Errorf("publicKey is not base64url: %w", err)
	}
	pk, err := cose.ParsePublicKey(alg, pub)
	if err != nil {
		return op.EnrollEntry{}, err
	}
	e := op.EnrollEntry{Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", pk)}, Aliases: row.Aliases}}
	var list []string
	for k, v := range row.Attributes {
		list = append(list, k+"="+v)
	}
	if e.Doc.Attrs, err = parseAttrs(list); err != nil {
		return e, err
	}
	e.Nonce = make([]byte, 8)
	rand.Read(e.Nonce)
	return e, nil
}

func (a *app) enrollCmd() *cobra.Command {
	var keyPath, provider, file string
	var batch int
	cmd := &cobra.Command{
		Use:   "enroll --key ADMIN_KEY --provider DID --file devices.csv",
		Short: "Register a batch of devices at once (validated on commit)",
		Long: `Enroll devices in bulk from a CSV file (header alg,publicKey,aliases,attributes;
aliases separated by ';', attributes as k=v;k=v) or a JSON list of
{"alg","publicKey","aliases","attributes"}. publicKey is the raw key in
base64url. The devices are sent in batches, each one operation signed by the
provider's admin key; a progress bar goes to stderr, and each device's DID
to stdout as "line,did".`,
		Example: example("bias provider enroll --key ~/.bias/provider/admin.key --provider did:bias:local:... --file factory-batch.csv"),
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if batch < 1 || batch > op.MaxEnrollItems {
				return fmt.Errorf("--batch must be 1 to %d", op.MaxEnrollItems)
			}
			ctx := cmd.Context()
			rows, err := readEnrollFile(file)
			if err != nil {
				return err
			}
			if len(rows) == 0 {
				return fmt.Errorf("%s holds no devices", file)
			}
			entries := make([]op.EnrollEntry, len(rows))
			for i, row := range rows {
				if entries[i], err = row.entry(); err != nil {
					return fmt.Errorf("%s device %d: %w", file, i+1, err)
				}
			}
			s, kid, err := a.adminSigner(ctx, provider, keyPath)
			if err != nil {
				return err
			}
			bar := newProgress(a.env.Stderr, "enrolled", len(entries))
			for start := 0; start < len(entries); start += batch {
				end := min(start+batch, len(entries))
				p := op.Payload{Type: op.TypeEnroll, Network: kid.Network, Enroll: &op.Enroll{Provider: provider, Items: entries[start:end]}}
				tx, err := op.Sign(s, kid, p)
				if err != nil {
					return err
				}
				if _, err := a.client().Submit(ctx, tx); err != nil {
					bar.done()
					var ae *sdk.APIError
					if errors.As(err, &ae) && ae.Status < 500 {
						return fmt.Errorf("devices %d to %d refused: %w (devices 1 to %d are committed)", start+1, end, err, start)
					}
					return fmt.Errorf("devices %d to %d: %w (devices 1 to %d are committed; this batch may be: check with bias show)", start+1, end, err, start)
				}
				for i := start; i < end; i++ {
					id, err := op.EnrollDID(kid.Network, provider, entries[i])
					if err != nil {
						bar.done()
						return err
					}
					a.out("%d,%s\n", i+1, id)
				}
				bar.set(end)
			}
			bar.done()
			return nil
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "an admin key of the provider (required)")
	cmd.Flags().StringVar(&provider, "provider", "", "the provider's DID (required)")
	cmd.Flags().StringVar(&file, "file", "", "CSV or JSON file of devices (required)")
	cmd.Flags().IntVar(&batch, "batch", 500, "devices per operation")
	for _, f := range []string{"key", "provider", "file"} {
		cmd.MarkFlagRequired(f)
	}
	return cmd
}

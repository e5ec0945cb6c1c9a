package cli

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
	"github.com/bias-iot/bias/x509ca"
)

func (a *app) x509Cmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "x509",
		Short: "X.509 certificates for devices from an operator's node (docs/x509.md)",
		Long: `Each provider's nodes run a CA. A validated device proves possession of its
registered key and gets a short-lived client certificate for that key, its DID
as URI SAN, for its operator's stock TLS and MQTT servers; OCSP and the CRL
follow the ledger within one block.`,
		Example: example("bias x509 ca did:bias:testnet:... > ca.pem",
			"bias x509 issue did:bias:testnet:... --key dev.key --provider did:bias:testnet:... --out dev.pem",
			"bias x509 show dev.pem", "bias x509 crl did:bias:testnet:... --out crl.pem"),
	}
	cmd.AddCommand(a.x509CACmd(), a.x509IssueCmd(), a.x509ShowCmd(), a.x509CRLCmd(), a.x509PublishCmd())
	return cmd
}

func (a *app) x509CACmd() *cobra.Command {
	return &cobra.Command{
		Use:     "ca PROVIDER_DID",
		Short:   "Print the CA certificates a provider publishes on the ledger (PEM)",
		Example: example("bias x509 ca did:bias:testnet:... > ca.pem"),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cas, err := a.client().CACertificates(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			var pems []string
			for _, der := range cas {
				pems = append(pems, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
			}
			return a.emit(map[string]any{"certificates": pems}, func() { a.out("%s", strings.Join(pems, "")) })
		},
	}
}

func (a *app) x509IssueCmd() *cobra.Command {
	var keyPath, provider, out, caOut, csrPath string
	var life time.Duration
	cmd := &cobra.Command{
		Use:   "issue DEVICE_DID --key FILE --provider PROVIDER_DID --out FILE",
		Short: "Get a client certificate for a device's registered key from the node's CA",
		Long: `Signs a certificate request with the device's key (which must be a current key
of DEVICE_DID) for PROVIDER_DID's CA, which the node (--node) must run, and
writes the certificate (PEM) to --out and the CA certificate to --ca-out.
The key file is the device's; the certificate certifies that same key.`,
		Example: example("bias x509 issue did:bias:testnet:... --key dev.key --provider did:bias:testnet:... --out dev.pem --ca-out ca.pem --lifetime 1h"),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyPath == "" || provider == "" || out == "" {
				return errors.New("--key, --provider and --out are required")
			}
			e, err := a.client().Entity(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			s, kid, err := a.signerFor(cmd.Context(), e, keyPath)
			if err != nil {
				return err
			}
			if kid.Base().String() != e.DID {
				return fmt.Errorf("%s is not a current key of %s", keyPath, e.DID)
			}
			var csr []byte
			if csrPath != "" {
				if csr, err = readPEMOrDER(csrPath, "CERTIFICATE REQUEST"); err != nil {
					return err
				}
			}
			got, err := a.client().RequestCertificate(cmd.Context(), s, kid, provider, life, csr)
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, []byte(got.Certificate), 0o644); err != nil { //nolint:gosec // public: a server running as another user reads it
				return err
			}
			if caOut != "" {
				if err := os.WriteFile(caOut, []byte(got.CA), 0o644); err != nil { //nolint:gosec // public
					return err
				}
			}
			return a.emit(got, func() {
				a.out("serial %s  %s  valid until %s\n", got.Serial, got.DID, got.NotAfter.Format(time.RFC3339))
			})
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "the device's key file (required)")
	cmd.Flags().StringVar(&provider, "provider", "", "the provider whose CA issues (required; the node must run it)")
	cmd.Flags().StringVar(&out, "out", "", "file for the certificate, PEM (required)")
	cmd.Flags().StringVar(&caOut, "ca-out", "", "file for the CA certificate, PEM")
	cmd.Flags().StringVar(&csrPath, "csr", "", "a PKCS #10 CSR for the same key (PEM or DER; optional)")
	cmd.Flags().DurationVar(&life, "lifetime", 0, "lifetime to ask for (0: the CA's default; at most the CA's)")
	return cmd
}

// readPEMOrDER reads a file holding one PEM block of typ, or DER.
func readPEMOrDER(path, typ string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != typ {
			return nil, fmt.Errorf("%s: a PEM %q, want %q", path, blk.Type, typ)
		}
		return blk.Bytes, nil
	}
	return b, nil
}

func (a *app) x509ShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "show FILE",
		Short:   "Show a device certificate: DID, names, validity, issuer",
		Example: example("bias x509 show dev.pem"),
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			der, err := readPEMOrDER(args[0], "CERTIFICATE")
			if err != nil {
				return err
			}
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			var uris []string
			for _, u := range c.URIs {
				uris = append(uris, u.String())
			}
			did := ""
			if len(uris) > 0 && strings.HasPrefix(uris[0], "did:") {
				did = uris[0]
			}
			v := map[string]any{"did": did, "subject": c.Subject.String(), "uris": uris, "issuer": c.Issuer.String(), "serial": hex.EncodeToString(c.SerialNumber.Bytes()),
				"notBefore": c.NotBefore.UTC().Format(time.RFC3339), "notAfter": c.NotAfter.UTC().Format(time.RFC3339), "key": c.PublicKeyAlgorithm.String(),
				"ocsp": c.OCSPServer, "crl": c.CRLDistributionPoints}
			return a.emit(v, func() {
				a.out("did:        %s\nsubject:    %s\nuris:       %s\nissuer:     %s\nserial:     %s\n", did, c.Subject, strings.Join(uris, " "), c.Issuer, hex.EncodeToString(c.SerialNumber.Bytes()))
				a.out("not before: %s\nnot after:  %s\nkey:        %s\nocsp:       %s\ncrl:        %s\n", c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339),
					c.PublicKeyAlgorithm, strings.Join(c.OCSPServer, " "), strings.Join(c.CRLDistributionPoints, " "))
			})
		},
	}
}

func (a *app) x509CRLCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:     "crl PROVIDER_DID",
		Short:   "Fetch the CRL of the node's CA for a provider (PEM)",
		Example: example("bias x509 crl did:bias:testnet:... --out crl.pem"),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			der, err := a.client().CRL(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			l, err := x509.ParseRevocationList(der)
			if err != nil {
				return fmt.Errorf("the node's CRL: %w", err)
			}
			p := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
			v := map[string]any{"number": l.Number.String(), "revoked": len(l.RevokedCertificateEntries), "nextUpdate": l.NextUpdate.UTC().Format(time.RFC3339)}
			if out == "" {
				v["crl"] = string(p)
				return a.emit(v, func() { a.out("%s", p) })
			}
			if err := os.WriteFile(out, p, 0o644); err != nil { //nolint:gosec // public: a server running as another user reads it
				return err
			}
			v["file"] = out
			return a.emit(v, func() {
				a.out("CRL number %s, %d revoked, next update %s\n", l.Number, len(l.RevokedCertificateEntries), l.NextUpdate.Format(time.RFC3339))
			})
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file for the CRL (default: standard output)")
	return cmd
}

func (a *app) x509PublishCmd() *cobra.Command {
	var keyPath, certPath string
	var remove bool
	cmd := &cobra.Command{
		Use:   "publish PROVIDER_DID --key ADMIN_KEY --cert CA_PEM [--remove]",
		Short: "Publish a CA certificate in the provider's ledger record (keeping what it publishes)",
		Long: `A node publishes its CA at start when its home holds the provider's admin key;
with the admin key kept elsewhere (x509.noPublish), this does it: it reads the
provider's publication, adds the certificate (keeping the other CA certificates
and the token keys) and submits provider.publish, again if another publication
came first. With --remove it withdraws the certificate instead (the end of a
CA rotation, once nothing the old CA issued is still valid).`,
		Example: example("bias x509 publish did:bias:testnet:... --key admin.key --cert node0/provider/ca.pem",
			"bias x509 publish did:bias:testnet:... --key admin.key --cert old-ca.pem --remove"),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			der, err := readPEMOrDER(certPath, "CERTIFICATE")
			if err != nil {
				return err
			}
			for try := 0; ; try++ {
				p, err := a.client().Provider(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				var cur [][]byte
				var keys []op.Key
				var version uint64
				if p.Publication != nil {
					version = p.Publication.Version
					for _, k := range p.Publication.TokenKeys {
						key, err := k.Key()
						if err != nil {
							return err
						}
						keys = append(keys, key)
					}
					for _, c := range p.Publication.CA {
						b, err := base64.StdEncoding.DecodeString(c)
						if err != nil {
							return err
						}
						cur = append(cur, b)
					}
				}
				list, changed := x509ca.WithCA(cur, der)
				if remove {
					list, changed = x509ca.WithoutCA(cur, der)
				}
				if !changed {
					return a.emit(map[string]any{"did": p.DID, "changed": false, "version": version}, func() {
						a.out("nothing to change (publication version %d)\n", version)
					})
				}
				signer, kid, err := a.adminSigner(cmd.Context(), p.DID, keyPath)
				if err != nil {
					return err
				}
				tx, err := op.Sign(signer, kid, op.Payload{Type: op.TypePublish, Network: kid.Network,
					Publish: &op.Publish{Provider: p.DID, Version: version, CA: list, TokenKeys: keys}})
				if err != nil {
					return err
				}
				res, err := a.client().Submit(cmd.Context(), tx)
				var ae *sdk.APIError
				if err != nil && try < 4 && errors.As(err, &ae) && ae.Reason == string(op.ReasonStaleVersion) {
					continue // another publication came first: read it again
				}
				if err != nil {
					return err
				}
				return a.emit(map[string]any{"did": p.DID, "changed": true, "version": res.Version, "height": res.Height}, func() {
					a.out("published: %s publication version %d (height %d)\n", p.DID, res.Version, res.Height)
				})
			}
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "an admin key of the provider (required)")
	cmd.Flags().StringVar(&certPath, "cert", "", "the CA certificate, PEM or DER (required)")
	cmd.Flags().BoolVar(&remove, "remove", false, "withdraw the certificate instead of adding it")
	return cmd
}

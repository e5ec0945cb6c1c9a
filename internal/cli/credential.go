package cli

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/keyfile"
	"github.com/bias-iot/bias/op"
)

// credentialCmd issues and revokes the credentials a provider hands its
// devices off the ledger (selective disclosure, docs/privacy.md).
func (a *app) credentialCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "credential",
		Short: "Issue and revoke device credentials (selective disclosure)",
		Long: `A credential holds a device's private attributes as salted digests, signed
with one of the provider's published token keys: an SD-JWT (RFC 9901) for a
JWS device, an SD-CWT for a COSE device. It is handed to the device off the
ledger; the ledger only ever holds the token key and, once revoked, the
credential's opaque id.`,
	}
	cmd.AddCommand(a.credentialIssueCmd(), a.credentialRevokeCmd())
	return cmd
}

func (a *app) credentialIssueCmd() *cobra.Command {
	var tokenKey, provider, device, out, form string
	var ttl time.Duration
	var attrs []string
	cmd := &cobra.Command{
		Use:   "issue --token-key FILE --provider DID --device DID --attr K=V... --out FILE",
		Short: "Issue a device a credential of its private attributes",
		Long: `Sign a credential for a device with a token key the provider publishes
(provider.publish): each --attr becomes a selectively disclosable claim, with
two decoy digests. The file written holds the credential and all its
disclosures, for the device only (mode 0600); the credential's id, printed,
is what 'bias provider credential revoke' takes. Nothing goes on the ledger.`,
		Example: example("bias provider credential issue --token-key token.key --provider did:bias:local:... --device did:bias:local:... --attr subscription=gold --attr owner='A. Lovelace' --out car.cred"),
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := keyfile.Load(tokenKey)
			if err != nil {
				return err
			}
			prov, err1 := did.ParseNoFragment(provider)
			dev, err2 := did.ParseNoFragment(device)
			if err1 != nil || err2 != nil {
				return fmt.Errorf("--provider and --device are DIDs")
			}
			p, err := a.client().Provider(cmd.Context(), provider)
			if err != nil {
				return err
			}
			kid := ""
			if p.Publication != nil {
				kid = findKeyID(p.Publication.TokenKeys, base64.RawURLEncoding.EncodeToString(s.Public().Bytes()))
			}
			if kid == "" {
				return fmt.Errorf("%s is not a token key that %s publishes (bias provider publish)", tokenKey, provider)
			}
			list, err := parseAttrs(attrs)
			if err != nil {
				return err
			}
			m := map[string]string{}
			for _, kv := range list {
				m[kv.K] = kv.V
			}
			now := time.Now().Unix()
			var cred []byte
			var id string
			switch form {
			case "jws":
				var sd string
				sd, id, err = authn.IssueCredential(s, kid, prov, dev, m, now, int64(ttl/time.Second), rand.Reader)
				cred = []byte(sd)
			case "cose":
				cred, id, err = authn.IssueCredentialCWT(s, kid, prov, dev, m, now, int64(ttl/time.Second), rand.Reader)
			default:
				return fmt.Errorf("--form is jws or cose")
			}
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, cred, 0o600); err != nil {
				return err
			}
			v := map[string]any{"id": id, "file": out, "form": form, "bytes": len(cred), "attributes": len(m), "expires": time.Unix(now, 0).Add(ttl).UTC().Format(time.RFC3339)}
			return a.emit(v, func() {
				a.out("credential %s written to %s (%d bytes, %d attributes, expires %s)\n", id, out, len(cred), len(m), v["expires"])
			})
		},
	}
	cmd.Flags().StringVar(&tokenKey, "token-key", "", "a token key the provider publishes (required)")
	cmd.Flags().StringVar(&provider, "provider", "", "the provider's DID (required)")
	cmd.Flags().StringVar(&device, "device", "", "the device's DID (required)")
	cmd.Flags().StringVar(&out, "out", "", "credential file to write (required)")
	cmd.Flags().StringVar(&form, "form", "jws", "jws (SD-JWT) or cose (SD-CWT)")
	cmd.Flags().DurationVar(&ttl, "ttl", 30*24*time.Hour, "validity of the credential (at most a year)")
	cmd.Flags().StringArrayVar(&attrs, "attr", nil, "attribute K=V (repeatable; K is lower-case letters, digits and _)")
	for _, f := range []string{"token-key", "provider", "device", "out", "attr"} {
		cmd.MarkFlagRequired(f)
	}
	return cmd
}

func (a *app) credentialRevokeCmd() *cobra.Command {
	var keyPath, provider string
	cmd := &cobra.Command{
		Use:   "revoke ID --key ADMIN_KEY --provider DID",
		Short: "Revoke a credential by its id (credential.status)",
		Long: `Revoke, for good, the credential of ID that the provider issued. The ledger
records the opaque id and the block: every verifier refuses the credential
from the next authentication on (fail/credential-revoked). An id is base64url
and may start with "-": put it after "--", as the second example does.`,
		Example: example("bias provider credential revoke AAECAwQFBgcICQoLDA0ODw --key admin.key --provider did:bias:local:...",
			"bias provider credential revoke --key admin.key --provider did:bias:local:... -- -Mh3pREDEqv9OPRwjZnmlA"),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, kid, err := a.adminSigner(ctx, provider, keyPath)
			if err != nil {
				return err
			}
			tx, err := op.Sign(s, kid, op.Payload{Type: op.TypeCredentialStatus, Network: kid.Network,
				Credential: &op.CredentialStatus{Provider: kid.Base().String(), ID: args[0]}})
			if err != nil {
				return err
			}
			res, err := a.client().Submit(ctx, tx)
			if err != nil {
				return err
			}
			return a.emit(map[string]any{"id": args[0], "revoked": true, "height": res.Height, "hash": res.Hash}, func() {
				a.out("credential %s revoked at height %d (%s)\n", args[0], res.Height, res.Hash)
			})
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "an admin key of the provider (required)")
	cmd.Flags().StringVar(&provider, "provider", "", "the provider's DID (required)")
	for _, f := range []string{"key", "provider"} {
		cmd.MarkFlagRequired(f)
	}
	return cmd
}

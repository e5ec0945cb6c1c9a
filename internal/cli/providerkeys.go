package cli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
)

// withProviderKeys adds the commands of a provider's m-of-n admin keys
// to the provider command: keys (replace the key set and threshold) and
// cosign (add a signature to an operation another key holder signed).
func (a *app) withProviderKeys(cmd *cobra.Command) *cobra.Command {
	cmd.AddCommand(a.providerKeysCmd(), a.providerCosignCmd())
	return cmd
}

func (a *app) providerKeysCmd() *cobra.Command {
	var keyPaths, adminKeys []string
	var provider, out string
	var threshold uint64
	cmd := &cobra.Command{
		Use:   "keys --provider DID --key ADMIN_KEY [--key ADMIN_KEY...] --admin-key ALG:PUBLICKEY... --threshold M [--out FILE]",
		Short: "Replace your provider's admin keys and threshold, signed by a threshold of its current keys",
		Long: `A provider holds 1 to 8 admin keys and a threshold M: each of its operations
is signed by M distinct current keys (one COSE_Sign with a signature per key;
a single key signs a COSE_Sign1). This replaces the key set (named admin-1,
admin-2, ... in the order of --admin-key) and the threshold, signed by the
current keys given with --key, naming the key-set version it replaces.

When the holders of the keys are apart, the first signs with --out FILE, each
other adds a signature with "bias provider cosign FILE --key ...", and the
last one submits (--submit). If every key is lost, the other providers replace
the set by governance: bias gov propose provider.keys.`,
		Example: example(
			"bias provider keys --provider did:bias:net:A... --key admin-1.key \\",
			"    --admin-key ed25519:3q2-7w... --admin-key ed25519:Hk0p... --admin-key p256:A8xv... --threshold 2",
			"bias provider keys --provider did:bias:net:A... --key admin-1.key --admin-key ed25519:Hk0p... --threshold 1 --out rotate.cose",
			"bias provider cosign rotate.cose --provider did:bias:net:A... --key admin-2.key --submit",
		),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			view, err := a.client().Provider(ctx, provider)
			if err != nil {
				return err
			}
			keys, err := adminKeySet(adminKeys)
			if err != nil {
				return err
			}
			var signers []cose.Signer
			var kids []did.DID
			for _, path := range keyPaths {
				s, kid, err := a.adminSigner(ctx, provider, path)
				if err != nil {
					return err
				}
				signers, kids = append(signers, s), append(kids, kid)
			}
			p := op.Payload{Type: op.TypeKeys, Network: kids[0].Network, Keys: &op.ProviderKeys{
				Provider: provider, Version: view.KeysVersion, Keys: keys, Threshold: threshold}}
			var tx []byte
			if len(signers) == 1 && out == "" && view.Threshold <= 1 {
				tx, err = op.Sign(signers[0], kids[0], p)
			} else {
				tx, err = op.SignMulti(signers, kids, p)
			}
			if err != nil {
				return err
			}
			if out != "" {
				if err := os.WriteFile(out, tx, 0o600); err != nil {
					return err
				}
				return a.emit(map[string]any{"file": out, "signatures": len(signers), "threshold": view.Threshold}, func() {
					a.out("wrote %s, signed by %d of the %d keys it needs; add signatures with: bias provider cosign %s --provider %s --key ADMIN_KEY\n", out, len(signers), view.Threshold, out, provider)
				})
			}
			return a.submitKeys(cmd, tx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&provider, "provider", "", "your provider's DID (required)")
	f.StringArrayVar(&keyPaths, "key", nil, "a current admin key file of the provider (repeatable; required)")
	f.StringArrayVar(&adminKeys, "admin-key", nil, "a new admin public key ALG:BASE64URL, as bias key show prints it (repeatable; required)")
	f.Uint64Var(&threshold, "threshold", 1, "how many of the new keys sign each operation")
	f.StringVar(&out, "out", "", "write the operation, for others to cosign, instead of submitting it")
	for _, n := range []string{"provider", "key", "admin-key"} {
		cmd.MarkFlagRequired(n)
	}
	return cmd
}

func (a *app) providerCosignCmd() *cobra.Command {
	var keyPath, provider string
	var submit bool
	cmd := &cobra.Command{
		Use:   "cosign FILE --provider DID --key ADMIN_KEY [--submit]",
		Short: "Add your admin key's signature to an operation of your provider (a COSE_Sign file)",
		Long: `Adds a signature by an admin key to an operation that another admin key of the
same provider signed as a COSE_Sign (bias provider keys --out): the file is
rewritten with the signature added, or with --submit the operation is
submitted. It applies once it carries the provider's threshold of keys.`,
		Example: example(
			"bias provider cosign rotate.cose --provider did:bias:net:A... --key admin-2.key",
			"bias provider cosign rotate.cose --provider did:bias:net:A... --key admin-3.key --submit",
		),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tx, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			s, kid, err := a.adminSigner(cmd.Context(), provider, keyPath)
			if err != nil {
				return err
			}
			if tx, err = op.Cosign(tx, s, kid); err != nil {
				return err
			}
			if submit {
				return a.submitKeys(cmd, tx)
			}
			if err := os.WriteFile(args[0], tx, 0o600); err != nil { //nolint:gosec // G703: the user names the file it read, to write it back
				return err
			}
			return a.emit(map[string]string{"file": args[0], "signer": kid.String()}, func() { a.out("signed %s with %s\n", args[0], kid) })
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "an admin key of your provider (required)")
	cmd.Flags().StringVar(&provider, "provider", "", "your provider's DID (required)")
	cmd.Flags().BoolVar(&submit, "submit", false, "submit the operation once signed")
	cmd.MarkFlagRequired("key")
	cmd.MarkFlagRequired("provider")
	return cmd
}

// submitKeys submits a provider's signed operation and says what it made.
func (a *app) submitKeys(cmd *cobra.Command, tx []byte) error {
	res, err := a.client().Submit(cmd.Context(), tx)
	if err != nil {
		return err
	}
	return a.emit(res, func() { a.out("committed at height %d: %s version %d\n", res.Height, res.DID, res.Version) })
}

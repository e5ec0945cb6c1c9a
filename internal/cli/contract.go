package cli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

func (a *app) contractCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "contract",
		Short: "Provider contracts (CEL): deploy, update, show, list, bind, dry-run",
		Long: `Contracts are CEL programs on the ledger (docs/contracts.md). A registration
contract decides on the provider's registrations in their block; access
contracts, bound to a service, decide whether an authenticated device may use it.`,
	}
	cmd.AddCommand(a.contractDeployCmd(false), a.contractDeployCmd(true), a.contractShowCmd(), a.contractListCmd(), a.contractBindCmd(), a.contractDryRunCmd())
	return cmd
}

func (a *app) contractDeployCmd(update bool) *cobra.Command {
	var keyPath, provider, name, kind, file string
	var binders []string
	var noBinders bool
	use, short, ex := "deploy", "Deploy a contract (a registration contract becomes the provider's)", "bias contract deploy --key admin.key --provider did:bias:local:... --name tac --kind registration --file tac.cel"
	if update {
		use, short, ex = "update", "Update a contract to a new version (earlier decisions stay)", "bias contract update --key admin.key --provider did:bias:local:... --name tac --file tac-v2.cel"
	}
	cmd := &cobra.Command{
		Use:     use + " --key ADMIN_KEY --provider DID --name NAME --file SOURCE",
		Short:   short,
		Example: example(ex),
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			s, kid, err := a.adminSigner(cmd.Context(), provider, keyPath)
			if err != nil {
				return err
			}
			c := &op.Contract{Provider: provider, Name: name, Kind: kind, Source: string(src), Binders: binders}
			typ := op.TypeDeploy
			if update {
				cur, err := a.client().Contract(cmd.Context(), provider, name, 0)
				if err != nil {
					return err
				}
				typ, c.Kind, c.Version = op.TypeContractUp, "", cur.Version
				if !cmd.Flags().Changed("binder") && !noBinders {
					c.Binders = cur.Binders // an update restates them
				}
			}
			tx, err := op.Sign(s, kid, op.Payload{Type: typ, Network: kid.Network, Contract: c})
			if err != nil {
				return err
			}
			res, err := a.client().Submit(cmd.Context(), tx)
			if err != nil {
				return err
			}
			return a.emit(res, func() {
				a.out("committed at height %d: contract %s/%s version %d\n", res.Height, provider, name, res.Version)
			})
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "an admin key of the provider (required)")
	cmd.Flags().StringVar(&provider, "provider", "", "the provider's DID (required)")
	cmd.Flags().StringVar(&name, "name", "", "the contract's name (required)")
	cmd.Flags().StringVar(&file, "file", "", "the CEL source file (required)")
	for _, f := range []string{"key", "provider", "name", "file"} {
		cmd.MarkFlagRequired(f)
	}
	if !update {
		cmd.Flags().StringVar(&kind, "kind", op.ContractRegistration, "registration or access")
	}
	cmd.Flags().StringArrayVar(&binders, "binder", nil, "another provider whose services may bind this access contract (repeatable; on update, replaces the list)")
	if update {
		cmd.Flags().BoolVar(&noBinders, "no-binders", false, "admit no other provider's services any more")
		cmd.MarkFlagsMutuallyExclusive("binder", "no-binders")
	}
	return cmd
}

func (a *app) contractShowCmd() *cobra.Command {
	var version uint64
	cmd := &cobra.Command{
		Use:     "show PROVIDER_DID NAME",
		Short:   "Show a contract (its source and version)",
		Example: example("bias contract show did:bias:local:... tac", "bias contract show did:bias:local:... tac --version 1"),
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client().Contract(cmd.Context(), args[0], args[1], version)
			if err != nil {
				return err
			}
			return a.printJSON(c)
		},
	}
	cmd.Flags().Uint64Var(&version, "version", 0, "a past version")
	return cmd
}

func (a *app) contractListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list PROVIDER_DID",
		Short:   "List a provider's contracts",
		Example: example("bias contract list did:bias:local:..."),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := a.client().Contracts(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.printJSON(list)
		},
	}
}

func (a *app) contractBindCmd() *cobra.Command {
	var keyPath string
	var refs []string
	cmd := &cobra.Command{
		Use:     "bind SERVICE_DID --key FILE --contract PROVIDER_DID/NAME...",
		Short:   "Bind a service to access contracts (replaces its bindings; none to unbind)",
		Example: example("bias contract bind did:bias:local:svc... --key admin.key --contract did:bias:local:opb.../roaming"),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.change(cmd.Context(), args[0], keyPath, func(e *sdk.EntityView) (op.Payload, error) {
				d, err := docOf(e)
				if err != nil {
					return op.Payload{}, err
				}
				d.Access = refs
				return op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: e.DID, Version: e.Version, Doc: d}}, nil
			})
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "a key of the service, or an admin key of its provider (required)")
	cmd.Flags().StringArrayVar(&refs, "contract", nil, "an access contract, PROVIDER_DID/NAME (repeatable)")
	cmd.MarkFlagRequired("key")
	return cmd
}

func (a *app) contractDryRunCmd() *cobra.Command {
	var kind, file, provider, name, inputs string
	var version uint64
	cmd := &cobra.Command{
		Use:   "dry-run --inputs FILE (--kind KIND --file SOURCE | --provider DID --name NAME)",
		Short: "Evaluate a contract on inputs without a transaction",
		Example: example(
			"bias contract dry-run --kind registration --file tac.cel --inputs device.json",
			"bias contract dry-run --provider did:bias:local:... --name tac --inputs device.json",
		),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in, err := os.ReadFile(inputs)
			if err != nil {
				return err
			}
			req := sdk.DryRunRequest{Inputs: in, Provider: provider, Name: name, Version: version}
			if provider == "" {
				src, err := os.ReadFile(file)
				if err != nil {
					return err
				}
				req.Kind, req.Source = kind, string(src)
			}
			res, err := a.client().DryRun(cmd.Context(), req)
			if err != nil {
				return err
			}
			return a.printJSON(res)
		},
	}
	cmd.Flags().StringVar(&kind, "kind", op.ContractRegistration, "registration or access (with --file)")
	cmd.Flags().StringVar(&file, "file", "", "CEL source to try")
	cmd.Flags().StringVar(&provider, "provider", "", "a deployed contract's provider")
	cmd.Flags().StringVar(&name, "name", "", "a deployed contract's name")
	cmd.Flags().Uint64Var(&version, "version", 0, "a deployed contract's version (default: current)")
	cmd.Flags().StringVar(&inputs, "inputs", "", "JSON inputs of the contract's kind (required)")
	cmd.MarkFlagRequired("inputs")
	cmd.MarkFlagsOneRequired("file", "provider")
	cmd.MarkFlagsMutuallyExclusive("file", "provider")
	return cmd
}

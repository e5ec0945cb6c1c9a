package cli

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

func (a *app) govCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gov",
		Short: "Governance by the providers: propose, vote, list, show",
		Long: `The providers govern the network on the ledger. A provider proposes a change
(admit or remove a provider, set a provider's validator, set the network
parameters, replace a provider's lost admin keys, schedule an upgrade of the
state machine) and approves it by proposing; the others vote. The change takes
effect in the block in which more than the threshold (2/3 by default) of the
current providers approved it, or never, once its deadline in blocks passed.`,
	}
	cmd.AddCommand(a.govProposeCmd(), a.govVoteCmd(), a.govListCmd(), a.govShowCmd())
	return cmd
}

func (a *app) govProposeCmd() *cobra.Command {
	var keyPath, provider, kind, name, target, valKey, upName string
	var adminKeys []string
	var power int64
	var voteNum, voteDen, maxOpen, threshold, appVersion uint64
	var deadline, height int64
	cmd := &cobra.Command{
		Use:   "propose [KIND] --key ADMIN_KEY --provider DID [--kind KIND] ...",
		Short: "Propose a change (you approve it by proposing)",
		Long: `Kinds and their flags:
  provider.admit   --name NAME --admin-key ALG:PUBLICKEY (repeatable, as "bias key show"
                   prints them: ed25519:... or p256:...) [--validator-key BASE64 --power N]
  provider.remove  --target DID
  validator.set    --target DID --validator-key BASE64 --power N (0 takes it out)
                   [--threshold M: how many of its keys sign each of its operations]
  params.set       --vote-num N --vote-den D --deadline BLOCKS [--max-open N, from app version 2]
  provider.keys    --target DID --admin-key ALG:PUBLICKEY (repeatable) --threshold M:
                   replaces the admin keys of a provider that lost them
  upgrade          --upgrade-name NAME --app-version V --height H: from block H on the
                   app version is V; a node whose code does not know V halts at H
The kind is the first argument or --kind. The validator key is the Ed25519 consensus key of the operator's node, standard
base64 (pub_key.value in its config/priv_validator_key.json). One change moves
less than a third of the validators' total power.`,
		Example: example(
			"bias gov propose --key admin.key --provider did:bias:net:A... --kind provider.admit --name operator-e \\",
			"    --admin-key ed25519:3q2-7w... --validator-key 9Yb1...= --power 10",
			"bias gov propose --key admin.key --provider did:bias:net:A... --kind provider.remove --target did:bias:net:D...",
			"bias gov propose --key admin.key --provider did:bias:net:A... --kind params.set --vote-num 3 --vote-den 4 --deadline 20000",
			"bias gov propose upgrade --key admin.key --provider did:bias:net:A... --upgrade-name v0.9-open-limit --app-version 2 --height 120000",
			"bias gov propose provider.keys --key admin.key --provider did:bias:net:A... --target did:bias:net:D... \\",
			"    --admin-key ed25519:3q2-7w... --admin-key ed25519:Hk0p... --threshold 2",
		),
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if kind != "" && kind != args[0] {
					return fmt.Errorf("the kind is %q or --kind %q, not both", args[0], kind)
				}
				kind = args[0]
			}
			if kind == "" {
				return fmt.Errorf("name the kind: bias gov propose KIND, or --kind")
			}
			p := op.Proposal{Kind: kind, Nonce: make([]byte, 8)}
			rand.Read(p.Nonce) // the same change may be proposed again
			var val *op.Validator
			if valKey != "" {
				pk, err := base64.StdEncoding.DecodeString(valKey)
				if err != nil {
					return fmt.Errorf("--validator-key is not standard base64: %w", err)
				}
				val = &op.Validator{PubKey: pk, Power: power}
			}
			keys, err := adminKeySet(adminKeys)
			if err != nil {
				return err
			}
			switch kind {
			case op.ProposalAdmit:
				p.Admit = &op.Admit{Name: name, Validator: val, Keys: keys, Threshold: threshold}
			case op.ProposalKeys:
				p.Provider, p.KeySet = target, &op.KeySet{Keys: keys, Threshold: max(threshold, 1)}
			case op.ProposalUpgrade:
				p.Upgrade = &op.Upgrade{Name: upName, Version: appVersion, Height: height}
			case op.ProposalRemove:
				p.Provider = target
			case op.ProposalValidator:
				p.Provider, p.Validator = target, val
			case op.ProposalParams:
				p.Params = &op.Params{VoteNum: voteNum, VoteDen: voteDen, Deadline: deadline, MaxOpen: maxOpen}
			}
			return a.govSubmit(cmd, provider, keyPath, op.Gov{Proposal: &p})
		},
	}
	f := cmd.Flags()
	f.StringVar(&keyPath, "key", "", "an admin key of your provider (required)")
	f.StringVar(&provider, "provider", "", "your provider's DID (required)")
	f.StringVar(&kind, "kind", "", "provider.admit, provider.remove, validator.set, params.set, provider.keys or upgrade (or the first argument)")
	f.StringVar(&name, "name", "", "provider.admit: the new provider's name")
	f.StringArrayVar(&adminKeys, "admin-key", nil, "provider.admit: an admin public key ALG:BASE64URL (repeatable)")
	f.StringVar(&target, "target", "", "provider.remove, validator.set, provider.keys: the provider's DID")
	f.Uint64Var(&threshold, "threshold", 0, "provider.admit, provider.keys: how many admin keys sign each operation (default 1)")
	f.Uint64Var(&maxOpen, "max-open", 0, "params.set: how many proposals one provider may have open (app version 2; 0: 8)")
	f.StringVar(&upName, "upgrade-name", "", "upgrade: the release's name")
	f.Uint64Var(&appVersion, "app-version", 0, "upgrade: the app version from the height on")
	f.Int64Var(&height, "height", 0, "upgrade: the block height from which the version applies")
	f.StringVar(&valKey, "validator-key", "", "provider.admit, validator.set: the Ed25519 consensus key, standard base64")
	f.Int64Var(&power, "power", 10, "provider.admit, validator.set: the validator's voting power")
	f.Uint64Var(&voteNum, "vote-num", 2, "params.set: the threshold's numerator")
	f.Uint64Var(&voteDen, "vote-den", 3, "params.set: the threshold's denominator")
	f.Int64Var(&deadline, "deadline", 10_000, "params.set: a proposal's lifetime in blocks")
	for _, n := range []string{"key", "provider"} {
		cmd.MarkFlagRequired(n)
	}
	return cmd
}

// adminKeySet reads --admin-key flags (ALG:BASE64URL) as admin keys
// admin-1, admin-2, ...
func adminKeySet(flags []string) ([]op.Key, error) {
	var keys []op.Key
	for i, k := range flags {
		key, err := parsePublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("--admin-key %d: %w", i+1, err)
		}
		keys = append(keys, op.KeyFrom(fmt.Sprintf("admin-%d", i+1), key))
	}
	return keys, nil
}

// parsePublicKey reads ALG:BASE64URL, as "bias key show" prints a key.
func parsePublicKey(s string) (cose.PublicKey, error) {
	alg, b64, ok := strings.Cut(s, ":")
	if !ok {
		return cose.PublicKey{}, fmt.Errorf("want ALG:BASE64URL (ed25519:... or p256:...)")
	}
	a, err := parseAlg(alg)
	if err != nil {
		return cose.PublicKey{}, err
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		return cose.PublicKey{}, fmt.Errorf("not base64url: %w", err)
	}
	return cose.ParsePublicKey(a, raw)
}

func (a *app) govVoteCmd() *cobra.Command {
	var keyPath, provider string
	cmd := &cobra.Command{
		Use:     "vote PROPOSAL_ID --key ADMIN_KEY --provider DID",
		Short:   "Approve a proposal (once per provider, before its deadline)",
		Example: example("bias gov vote 5f0c...e1 --key ~/.bias/provider/admin.key --provider did:bias:net:B..."),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.govSubmit(cmd, provider, keyPath, op.Gov{Vote: args[0]})
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "an admin key of your provider (required)")
	cmd.Flags().StringVar(&provider, "provider", "", "your provider's DID (required)")
	cmd.MarkFlagRequired("key")
	cmd.MarkFlagRequired("provider")
	return cmd
}

// govSubmit signs a governance operation by provider's admin key and
// submits it.
func (a *app) govSubmit(cmd *cobra.Command, provider, keyPath string, g op.Gov) error {
	s, kid, err := a.adminSigner(cmd.Context(), provider, keyPath)
	if err != nil {
		return err
	}
	g.Provider = provider
	typ := op.TypeVote
	if g.Proposal != nil {
		typ = op.TypePropose
	}
	tx, err := op.Sign(s, kid, op.Payload{Type: typ, Network: kid.Network, Gov: &g})
	if err != nil {
		return err
	}
	res, err := a.client().Submit(cmd.Context(), tx)
	if err != nil {
		return err
	}
	return a.emit(res, func() {
		a.out("committed at height %d: proposal %s %s (%d approvals)\n", res.Height, res.Proposal, res.ProposalStatus, res.Count)
		if res.DID != "" {
			a.out("admitted %s\n", res.DID)
		}
	})
}

func (a *app) govListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the proposals with their status, and the network's providers, validators and parameters",
		Example: example("bias gov list", "bias gov list --node http://127.0.0.1:8081"),
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			g, err := a.client().Governance(cmd.Context())
			if err != nil {
				return err
			}
			ps, err := a.client().Proposals(cmd.Context())
			if err != nil {
				return err
			}
			return a.printJSON(struct {
				Governance any                `json:"governance"`
				Proposals  []sdk.ProposalView `json:"proposals"`
			}{g, ps})
		},
	}
}

func (a *app) govShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "show PROPOSAL_ID",
		Short:   "Show a proposal: the change, its approvals, its status",
		Example: example("bias gov show 5f0c...e1"),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.client().Proposal(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.printJSON(p)
		},
	}
}

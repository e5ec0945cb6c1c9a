package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/lightclient"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// docFlags are the flags that describe an entity's document.
type docFlags struct {
	endpoints, aliases, attrs []string
}

func (f *docFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.endpoints, "endpoint", nil, "service endpoint ID,TYPE,URI (repeatable)")
	cmd.Flags().StringArrayVar(&f.aliases, "alias", nil, "legacy identifier, e.g. urn:imei:490154203237518 (repeatable)")
	cmd.Flags().StringArrayVar(&f.attrs, "attr", nil, "public attribute KEY=VALUE (repeatable)")
}

// apply sets the parts of doc whose flags were given (all of them when
// cmd is nil, as for a new registration).
func (f *docFlags) apply(cmd *cobra.Command, doc *op.Document) error {
	given := func(name string) bool { return cmd == nil || cmd.Flags().Changed(name) }
	if given("alias") {
		doc.Aliases = f.aliases
	}
	if given("attr") {
		attrs, err := parseAttrs(f.attrs)
		if err != nil {
			return err
		}
		doc.Attrs = attrs
	}
	if !given("endpoint") {
		return nil
	}
	doc.Endpoints = nil
	for _, e := range f.endpoints {
		parts := strings.SplitN(e, ",", 3)
		if len(parts) != 3 {
			return fmt.Errorf("--endpoint %q: want ID,TYPE,URI", e)
		}
		doc.Endpoints = append(doc.Endpoints, op.Endpoint{ID: parts[0], Type: parts[1], URI: parts[2]})
	}
	return nil
}

func parseAttrs(list []string) ([]op.Attr, error) {
	var out []op.Attr
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("attribute %q: want KEY=VALUE", kv)
		}
		out = append(out, op.Attr{K: k, V: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].K < out[j].K })
	for i := 1; i < len(out); i++ {
		if out[i].K == out[i-1].K {
			return nil, fmt.Errorf("attribute %q given twice", out[i].K)
		}
	}
	return out, nil
}

func (a *app) network(ctx context.Context) (string, error) {
	st, err := a.client().Status(ctx)
	if err != nil {
		return "", fmt.Errorf("ask the node for its network: %w", err)
	}
	return st.Network, nil
}

func (a *app) submit(ctx context.Context, tx []byte) error {
	res, err := a.client().Submit(ctx, tx)
	if err != nil {
		return err
	}
	return a.emit(res, func() {
		a.out("committed at height %d: %s %s version %d (%s)\n", res.Height, res.DID, res.EntityStatus, res.Version, res.Hash)
	})
}

func (a *app) registerCmd() *cobra.Command {
	var keyPath, keyID, provider, kind, ticketPath string
	var doc docFlags
	cmd := &cobra.Command{
		Use:   "register --key FILE --provider DID",
		Short: "Register a device or a service under a provider",
		Long: `Register an entity. The operation is signed by the entity's own key (proof of
possession); its DID derives from the operation. The entity is pending until
its provider validates it.`,
		Example: example(
			"bias key new cam.key",
			"bias register --key cam.key --provider did:bias:local:... --alias urn:imei:490154203237518 --attr model=cam-1",
			"bias register --kind service --key print.key --provider did:bias:local:... --endpoint api,PrintService,https://print.example",
		),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := loadKey(keyPath)
			if err != nil {
				return err
			}
			network, err := a.network(ctx)
			if err != nil {
				return err
			}
			r := &op.Register{Kind: kind, Provider: provider, Doc: op.Document{Keys: []op.Key{op.KeyFrom(keyID, s.Public())}}}
			if err := doc.apply(nil, &r.Doc); err != nil {
				return err
			}
			if ticketPath != "" {
				if r.Ticket, err = os.ReadFile(ticketPath); err != nil {
					return err
				}
			}
			r.Nonce = make([]byte, 8)
			if _, err := rand.Read(r.Nonce); err != nil {
				return err
			}
			tx, id, err := op.SignRegister(s, keyID, op.Payload{Network: network, Register: r})
			if err != nil {
				return err
			}
			if err := a.submit(ctx, tx); err != nil {
				return err
			}
			a.out("did: %s\n", id)
			return nil
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "the entity's key file (required)")
	cmd.Flags().StringVar(&keyID, "key-id", "k1", "the key's id (DID URL fragment)")
	cmd.Flags().StringVar(&provider, "provider", "", "the provider's DID (required)")
	cmd.Flags().StringVar(&kind, "kind", op.KindDevice, "device or service")
	cmd.Flags().StringVar(&ticketPath, "ticket", "", "enrollment ticket file from the provider")
	doc.register(cmd)
	cmd.MarkFlagRequired("key")
	cmd.MarkFlagRequired("provider")
	return cmd
}

func (a *app) showCmd() *cobra.Command {
	var proof bool
	var version uint64
	var genesis, trustFile string
	cmd := &cobra.Command{
		Use:   "show DID",
		Short: "Show an entity's record",
		Long: `Show an entity's record. With --verify GENESIS the record is read with its Merkle
proof and shown only if the proof holds against a block header that a light client
verified from the genesis file's validators, following the validator set through
its changes (CometBFT's light client rules: more than two thirds of a header's own
set signed it, and more than a third of a trusted set's power or the set the
previous header named next; a trusting period of a week): the node is not trusted.
With --trust-file FILE the newest header it verified is kept in FILE, and the next
--verify starts from it rather than from the genesis: a verifier that reads at
least once a week keeps verifying for as long as the network runs. Keep FILE where
only you write: whoever changes it chooses what you believe.`,
		Example: example("bias show did:bias:local:...", "bias show --proof did:bias:local:...", "bias show --version 1 did:bias:local:...",
			"bias show --verify ~/.bias/config/genesis.json did:bias:local:...",
			"bias show --verify ~/.bias/config/genesis.json --trust-file ~/.bias/trusted.json did:bias:local:..."),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if trustFile != "" && genesis == "" {
				return usageError(errors.New("--trust-file keeps what --verify verified: give --verify GENESIS too"))
			}
			var v *sdk.EntityView
			var err error
			switch {
			case version > 0:
				v, err = a.client().EntityVersion(cmd.Context(), args[0], version)
			case proof || genesis != "":
				v, err = a.client().EntityProof(cmd.Context(), args[0], 0)
			default:
				v, err = a.client().Entity(cmd.Context(), args[0])
			}
			var ae *sdk.APIError
			if genesis != "" && errors.As(err, &ae) && ae.Status == http.StatusNotFound {
				// Believe "not registered" only with a proof of absence.
				return a.verifyAbsent(cmd.Context(), args[0], genesis, trustFile, err)
			}
			if err != nil {
				return err
			}
			if genesis != "" {
				if v, err = a.verifyRecord(cmd.Context(), args[0], genesis, trustFile, v); err != nil {
					return err
				}
			}
			return a.printJSON(v)
		},
	}
	cmd.Flags().BoolVar(&proof, "proof", false, "include the Merkle proof of the record")
	cmd.Flags().Uint64Var(&version, "version", 0, "show the record as it was at this version")
	cmd.Flags().StringVar(&genesis, "verify", "", "verify the record against headers verified from this genesis file's validators")
	cmd.Flags().StringVar(&trustFile, "trust-file", "", "with --verify: keep the newest verified header in this file, and start from it next time")
	cmd.MarkFlagsMutuallyExclusive("proof", "version")
	cmd.MarkFlagsMutuallyExclusive("verify", "version")
	return cmd
}

// trustedView is a ProvenView with a light client whose root of trust is
// the genesis file at genesisPath (or the newer header kept in
// trustFile, if one is given and holds one), for DID id of that network.
func (a *app) trustedView(id, genesisPath, trustFile string) (sdk.ProvenView, did.DID, error) {
	b, err := os.ReadFile(genesisPath)
	if err != nil {
		return sdk.ProvenView{}, did.DID{}, err
	}
	g, err := lightclient.ParseGenesis(b)
	if err != nil {
		return sdk.ProvenView{}, did.DID{}, err
	}
	d, err := did.ParseNoFragment(id)
	if err != nil {
		return sdk.ProvenView{}, did.DID{}, err
	}
	if d.Network != g.ChainID {
		return sdk.ProvenView{}, did.DID{}, fmt.Errorf("%s is of network %s; the genesis file is of %s", d, d.Network, g.ChainID)
	}
	c := a.client()
	var store lightclient.Store
	if trustFile != "" {
		store = &sdk.TrustFile{Path: trustFile}
	}
	return sdk.ProvenView{C: c, Light: lightclient.NewClient(g, c, store)}, d, nil
}

// verifyAbsent checks the node's proof that id is not registered; notFound
// is the node's answer, returned once the absence is proven.
func (a *app) verifyAbsent(ctx context.Context, id, genesisPath, trustFile string, notFound error) error {
	pv, d, err := a.trustedView(id, genesisPath, trustFile)
	if err != nil {
		return err
	}
	e, err := pv.Entity(ctx, d)
	switch {
	case err != nil:
		return err
	case e != nil:
		return fmt.Errorf("%w: the node said %s is not registered, and then proved it is", sdk.ErrProof, d)
	}
	a.note("verified: %s is not registered (proof of absence against a header verified from the genesis validators)\n", d)
	return notFound
}

// verifyRecord checks v, read with its proof, against a header signed by
// the validators of the genesis file, and returns the view of the proven
// bytes (not the node's JSON), with the proof.
func (a *app) verifyRecord(ctx context.Context, id, genesisPath, trustFile string, v *sdk.EntityView) (*sdk.EntityView, error) {
	pv, d, err := a.trustedView(id, genesisPath, trustFile)
	if err != nil {
		return nil, err
	}
	rec, err := pv.CheckRecord(ctx, d, v)
	if err != nil {
		return nil, err
	}
	proven := sdk.EntityViewOf(rec, v.Proof.Height)
	proven.Proof = v.Proof
	// The header of block AppHashHeight commits to the state after the
	// block before it: the height the node claims is not proven.
	proven.Height = v.Proof.AppHashHeight - 1
	a.note("verified: the record is in the state whose hash block %d carries, verified from the genesis validators\n", v.Proof.AppHashHeight)
	return proven, nil
}

// signerFor loads keyPath and finds which key of the entity, or of its
// provider, it is: the kid of the operation.
func (a *app) signerFor(ctx context.Context, e *sdk.EntityView, keyPath string) (cose.Signer, did.DID, error) {
	s, err := loadKey(keyPath)
	if err != nil {
		return nil, did.DID{}, err
	}
	pub := base64.RawURLEncoding.EncodeToString(s.Public().Bytes())
	if id := findKeyID(e.Keys, pub); id != "" {
		d, err := did.Parse(e.DID)
		return s, d.WithFragment(id), err
	}
	p, err := a.client().Provider(ctx, e.Provider)
	if err != nil {
		return nil, did.DID{}, err
	}
	if id := findKeyID(p.Keys, pub); id != "" {
		d, err := did.Parse(p.DID)
		return s, d.WithFragment(id), err
	}
	return nil, did.DID{}, fmt.Errorf("%s is neither a key of %s nor an admin key of its provider", keyPath, e.DID)
}

func findKeyID(keys []sdk.KeyView, pub string) string {
	for _, k := range keys {
		if k.PublicKey == pub {
			return k.ID
		}
	}
	return ""
}

// docOf rebuilds an entity's current document from its view.
func docOf(e *sdk.EntityView) (op.Document, error) {
	var d op.Document
	for _, kv := range e.Keys {
		k, err := kv.Key()
		if err != nil {
			return d, err
		}
		d.Keys = append(d.Keys, k)
	}
	for _, kv := range e.KeyAgreement {
		k, err := kv.Key()
		if err != nil {
			return d, err
		}
		d.KeyAgreement = append(d.KeyAgreement, k)
	}
	d.Endpoints, d.Aliases, d.Access = e.Endpoints, e.Aliases, e.Access
	for k, v := range e.Attributes {
		d.Attrs = append(d.Attrs, op.Attr{K: k, V: v})
	}
	sort.Slice(d.Attrs, func(i, j int) bool { return d.Attrs[i].K < d.Attrs[j].K })
	return d, nil
}

// change signs and submits an operation on entity id, built by mk from
// the entity's current record.
func (a *app) change(ctx context.Context, id, keyPath string, mk func(e *sdk.EntityView) (op.Payload, error)) error {
	tx, err := a.changeTx(ctx, id, keyPath, mk)
	if err != nil {
		return err
	}
	return a.submit(ctx, tx)
}

// changeTx signs an operation on entity id, built by mk from the
// entity's current record, with the key in keyPath.
func (a *app) changeTx(ctx context.Context, id, keyPath string, mk func(e *sdk.EntityView) (op.Payload, error)) ([]byte, error) {
	e, err := a.client().Entity(ctx, id)
	if err != nil {
		return nil, err
	}
	s, kid, err := a.signerFor(ctx, e, keyPath)
	if err != nil {
		return nil, err
	}
	p, err := mk(e)
	if err != nil {
		return nil, err
	}
	d, err := did.Parse(e.DID)
	if err != nil {
		return nil, fmt.Errorf("the node's record names %q: %w", e.DID, err)
	}
	p.Network = d.Network
	return op.Sign(s, kid, p)
}

func (a *app) updateCmd() *cobra.Command {
	var keyPath string
	var doc docFlags
	cmd := &cobra.Command{
		Use:   "update DID --key FILE",
		Short: "Re-register: replace an entity's endpoints, aliases or attributes",
		Long: `Replace the endpoints, legacy identifiers or attributes of an entity: each
list given (--endpoint, --alias, --attr) replaces the current one, and the
lists not given stay as they are; keys stay (see rotate). Signed by a current key of the entity or an admin key of
its provider; names the version it replaces. A validated entity that changes its own
attributes is pending again until its provider validates them (access contracts read them
as the provider's); its provider's change keeps it validated. A new legacy identifier
(--alias) needs the provider's signature: --key ADMIN_KEY.`,
		Example: example("bias update did:bias:local:... --key cam.key --attr fw=2.1",
			"bias update did:bias:local:... --key ~/.bias/provider/admin.key --alias urn:imei:490154203237518"),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.change(cmd.Context(), args[0], keyPath, func(e *sdk.EntityView) (op.Payload, error) {
				d, err := docOf(e)
				if err != nil {
					return op.Payload{}, err
				}
				if err := doc.apply(cmd, &d); err != nil {
					return op.Payload{}, err
				}
				return op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: e.DID, Version: e.Version, Doc: d}}, nil
			})
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "a key of the entity, or an admin key of its provider (required)")
	doc.register(cmd)
	cmd.MarkFlagRequired("key")
	return cmd
}

func (a *app) rotateCmd() *cobra.Command {
	var keyPath, newKeyPath, newKeyID, oldKeyID string
	cmd := &cobra.Command{
		Use:   "rotate DID --key FILE --new-key FILE",
		Short: "Rotate a key: replace one of an entity's keys with a new one",
		Long: `Replace a key of the entity (by default the one in --key) with the key in
--new-key. From the next block on, only the new key signs for the entity.`,
		Example: example("bias key new cam2.key", "bias rotate did:bias:local:... --key cam.key --new-key cam2.key"),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, err := loadKey(newKeyPath)
			if err != nil {
				return err
			}
			return a.change(cmd.Context(), args[0], keyPath, func(e *sdk.EntityView) (op.Payload, error) {
				d, err := docOf(e)
				if err != nil {
					return op.Payload{}, err
				}
				old := oldKeyID
				if old == "" {
					s, err := loadKey(keyPath)
					if err != nil {
						return op.Payload{}, err
					}
					old = findKeyID(e.Keys, base64.RawURLEncoding.EncodeToString(s.Public().Bytes()))
					if old == "" {
						return op.Payload{}, fmt.Errorf("--key is not a key of the entity: name the key to replace with --old-key-id")
					}
				}
				id := newKeyID
				if id == "" {
					id = nextKeyID(d.Keys)
				}
				replaced := false
				for i, k := range d.Keys {
					if k.ID == old {
						d.Keys[i] = op.KeyFrom(id, ns.Public())
						replaced = true
					} else if bytes.Equal(k.Pub, ns.Public().Bytes()) {
						return op.Payload{}, fmt.Errorf("the new key is already key %s of the entity", k.ID)
					}
				}
				if !replaced {
					return op.Payload{}, fmt.Errorf("the entity has no key %q", old)
				}
				return op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: e.DID, Version: e.Version, Doc: d}}, nil
			})
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "a current key of the entity, or an admin key of its provider (required)")
	cmd.Flags().StringVar(&newKeyPath, "new-key", "", "the new key file (required)")
	cmd.Flags().StringVar(&newKeyID, "new-key-id", "", "id of the new key (default: next free kN)")
	cmd.Flags().StringVar(&oldKeyID, "old-key-id", "", "id of the key to replace (default: the one in --key)")
	cmd.MarkFlagRequired("key")
	cmd.MarkFlagRequired("new-key")
	return cmd
}

func nextKeyID(keys []op.Key) string {
	for i := 1; ; i++ {
		id := fmt.Sprintf("k%d", i)
		if _, taken := findKeyIn(keys, id); !taken {
			return id
		}
	}
}

func findKeyIn(keys []op.Key, id string) (op.Key, bool) {
	for _, k := range keys {
		if k.ID == id {
			return k, true
		}
	}
	return op.Key{}, false
}

func (a *app) deactivateCmd() *cobra.Command {
	var keyPath, reason string
	cmd := &cobra.Command{
		Use:     "deactivate DID --key FILE",
		Short:   "Deactivate an entity (final)",
		Example: example("bias deactivate did:bias:local:... --key cam.key --reason decommissioned"),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.statusChange(cmd.Context(), op.TypeDeactivate, args[0], keyPath, reason)
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "a key of the entity, or an admin key of its provider (required)")
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded on the ledger)")
	cmd.MarkFlagRequired("key")
	return cmd
}

func (a *app) statusChange(ctx context.Context, typ, id, keyPath, reason string) error {
	return a.change(ctx, id, keyPath, statusPayload(typ, reason, 0))
}

// statusPayload builds a status operation (validate, reject, revoke,
// deactivate) on version of an entity (0: its current version; another
// version is refused by the ledger as stale unless it is the current one).
func statusPayload(typ, reason string, version uint64) func(e *sdk.EntityView) (op.Payload, error) {
	return func(e *sdk.EntityView) (op.Payload, error) {
		if version == 0 {
			version = e.Version
		}
		return op.Payload{Type: typ, Status: &op.Status{DID: e.DID, Version: version, Reason: reason}}, nil
	}
}

func (a *app) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the node's network, height, validators and readiness",
		Long: `Show the node's network, height and validators, and whether it is ready
(GET /readyz: caught up, its latest block recent or the network idle, the
validators it sees holding more than two thirds of the power). A node that is
not ready exits with code 6, the reason in "notReady".`,
		Example: example("bias status", "bias status --node http://127.0.0.1:8081", "bias status -o json | jq .ready"),
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.client().Status(cmd.Context())
			if err != nil {
				return err
			}
			view := statusView{StatusView: st, Ready: true}
			var ae *sdk.APIError
			switch err := a.client().Ready(cmd.Context()); {
			case errors.As(err, &ae) && ae.Status == http.StatusServiceUnavailable:
				view.Ready, view.NotReady = false, ae.Message
			case err != nil:
				return err
			}
			if err := a.printJSON(view); err != nil {
				return err
			}
			if !view.Ready {
				return notReadyError(errors.New(view.NotReady))
			}
			return nil
		},
	}
}

// statusView is what bias status prints: the node's status and its
// readiness.
type statusView struct {
	*sdk.StatusView
	Ready    bool   `json:"ready"`
	NotReady string `json:"notReady,omitempty"`
}

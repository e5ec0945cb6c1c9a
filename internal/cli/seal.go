package cli

import (
	"bytes"
	"crypto/ecdh"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/keyfile"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
	"github.com/bias-iot/bias/seal"
)

// withSeal adds `provider seal` to the provider command.
func (a *app) withSeal(provider *cobra.Command) *cobra.Command {
	provider.AddCommand(a.sealCmd())
	return provider
}

func (a *app) sealCmd() *cobra.Command {
	var to, file, keyPath, typ, out string
	var chacha bool
	cmd := &cobra.Command{
		Use:   "seal --to DID[#KEY] --file FILE --key ADMIN_KEY",
		Short: "Seal data to a device's key-agreement key (HPKE), signed by an admin key",
		Long: `Seal data (a credential, configuration, a network secret, an enrollment ticket)
to the key-agreement key of a validated entity of the provider, as the node shows it
(the entity's first one, or the one --to names), with HPKE (RFC 9180): the envelope is
signed by the provider's admin key, and is delivered off the ledger (docs/privacy.md).
The envelope is written to --out, or printed as one line of base64url (with
--output json: its "envelope" field; docs/cli.md).`,
		Example: example("bias provider seal --to did:bias:local:... --file wifi.json --key ~/.bias/provider/admin.key --out wifi.sealed"),
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := readBounded(a.env.Stdin, file, seal.MaxPlaintext)
			if err != nil {
				return err
			}
			id, err := did.Parse(to)
			if err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			e, err := a.client().Entity(cmd.Context(), id.Base().String())
			if err != nil {
				return err
			}
			s, kid, err := a.signerFor(cmd.Context(), e, keyPath)
			if err != nil {
				return err
			}
			if kid.Base().String() != e.Provider {
				return fmt.Errorf("%s is not an admin key of %s's provider", keyPath, e.DID)
			}
			o := seal.Options{Type: typ}
			if chacha {
				o.AEAD = seal.AEADChaCha20Poly1305
			}
			env, err := a.client().Seal(cmd.Context(), s, kid, to, data, o)
			if err != nil {
				return err
			}
			v := sealView{To: to, Bytes: len(env), File: out}
			if out != "" {
				if err := writeNew(out, env); err != nil {
					return err
				}
				return a.emit(v, func() {})
			}
			v.Envelope = base64.RawURLEncoding.EncodeToString(env)
			return a.emit(v, func() { a.out("%s\n", v.Envelope) })
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the entity (DID), or its key-agreement key (DID URL) (required)")
	cmd.Flags().StringVar(&file, "file", "", `the data to seal, at most 16 KiB ("-": stdin) (required)`)
	cmd.Flags().StringVar(&keyPath, "key", "", "an admin key of the entity's provider (required)")
	cmd.Flags().StringVar(&typ, "type", "", "the data's media type, told to the device")
	cmd.Flags().StringVar(&out, "out", "", "write the envelope (CBOR) to this new file")
	cmd.Flags().BoolVar(&chacha, "chacha20poly1305", false, "seal with ChaCha20Poly1305 instead of AES-128-GCM")
	for _, f := range []string{"to", "file", "key"} {
		cmd.MarkFlagRequired(f)
	}
	return cmd
}

func (a *app) openCmd() *cobra.Command {
	var keyPath, out string
	cmd := &cobra.Command{
		Use:   "open [ENVELOPE] --key AGREEMENT_KEY",
		Short: "Open an envelope sealed to this device's key-agreement key",
		Long: `Open an envelope that the provider sealed (bias provider seal) to the
key-agreement key in --key: the envelope must be for that key, as the entity's record
on the ledger lists it, and signed by a current admin key of the entity's provider. The
envelope is read from ENVELOPE or stdin, as CBOR or base64url; the data is written to
--out, or to stdout (with --output json: in base64url, its "data" field; docs/cli.md).`,
		Example: example("bias open wifi.sealed --key device-agreement.key --out wifi.json"),
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "-"
			if len(args) == 1 {
				path = args[0]
			}
			env, err := readEnvelope(a.env.Stdin, path)
			if err != nil {
				return err
			}
			priv, err := keyfile.LoadAgreement(keyPath)
			if err != nil {
				return err
			}
			d, err := seal.Decode(env)
			if err != nil {
				return err
			}
			me, err := did.Parse(d.To)
			if err != nil {
				return err
			}
			e, err := a.client().Entity(cmd.Context(), me.Base().String())
			if err != nil {
				return err
			}
			if !holdsAgreementKey(e, me.Fragment, priv) {
				return fmt.Errorf("%w: the envelope is for %s, which is not the key in %s", seal.ErrNotForMe, d.To, keyPath)
			}
			got, err := a.client().Open(cmd.Context(), env, me, priv)
			if err != nil {
				return err
			}
			a.note("opened: from %s, %d bytes %s\n", got.Kid, len(got.Plaintext), got.Type)
			v := openView{From: got.Kid.String(), Type: got.Type, Bytes: len(got.Plaintext), File: out}
			if out != "" {
				if err := writeNew(out, got.Plaintext); err != nil {
					return err
				}
				return a.emit(v, func() {})
			}
			if a.output == outputJSON {
				v.Data = base64.RawURLEncoding.EncodeToString(got.Plaintext)
				return a.emit(v, nil)
			}
			_, err = a.env.Stdout.Write(got.Plaintext)
			return err
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "the device's key-agreement key (X25519 or P-256) (required)")
	cmd.Flags().StringVar(&out, "out", "", "write the data to this new file (mode 0600)")
	cmd.MarkFlagRequired("key")
	return cmd
}

func (a *app) agreementCmd() *cobra.Command {
	var keyPath, file, id string
	cmd := &cobra.Command{
		Use:   "agreement DID --key KEY --file AGREEMENT_KEY",
		Short: "Register a key-agreement key for an entity (an update)",
		Long: `Set the key-agreement key --id of an entity (DID Core keyAgreement; X25519, or
P-256 for a secure element) to the public key of --file, keeping its other ones (at most
2): an update signed by a key of the entity or an admin key of its provider. The provider
then seals data to it (bias provider seal).`,
		Example: example("bias key new --alg x25519 cam-agreement.key", "bias agreement did:bias:local:... --key cam.key --file cam-agreement.key"),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			priv, err := keyfile.LoadAgreement(file)
			if err != nil {
				return err
			}
			k, err := op.AgreementKeyFrom(id, priv.PublicKey())
			if err != nil {
				return err
			}
			return a.change(cmd.Context(), args[0], keyPath, func(e *sdk.EntityView) (op.Payload, error) {
				d, err := docOf(e)
				if err != nil {
					return op.Payload{}, err
				}
				d.KeyAgreement = []op.AgreementKey{}
				for _, v := range e.KeyAgreement {
					old, err := v.Key()
					if err != nil {
						return op.Payload{}, err
					}
					if old.ID != id {
						d.KeyAgreement = append(d.KeyAgreement, old)
					}
				}
				d.KeyAgreement = append(d.KeyAgreement, k)
				return op.Payload{Type: op.TypeUpdate, Update: &op.Update{DID: e.DID, Version: e.Version, Doc: d}}, nil
			})
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "a key of the entity, or an admin key of its provider (required)")
	cmd.Flags().StringVar(&file, "file", "", "the key-agreement key file (bias key new --alg x25519) (required)")
	cmd.Flags().StringVar(&id, "id", "ka1", "the key's id in the entity's document")
	cmd.MarkFlagRequired("key")
	cmd.MarkFlagRequired("file")
	return cmd
}

// sealView is what `bias provider seal` prints with --output json: the
// envelope's size, and the file it went to or the envelope in base64url.
type sealView struct {
	To       string `json:"to"`
	Bytes    int    `json:"bytes"`
	File     string `json:"file,omitempty"`
	Envelope string `json:"envelope,omitempty"`
}

// openView is what `bias open` prints with --output json: who sealed the
// data, its type and size, and the file it went to or the data in
// base64url.
type openView struct {
	From  string `json:"from"`
	Type  string `json:"type"`
	Bytes int    `json:"bytes"`
	File  string `json:"file,omitempty"`
	Data  string `json:"data,omitempty"`
}

// newAgreementKey is `bias key new --alg x25519`.
func (a *app) newAgreementKey(path string) error {
	k, err := keyfile.GenerateAgreement(path, ecdh.X25519())
	if err != nil {
		return err
	}
	v := map[string]string{"file": path, "alg": "X25519", "publicKey": base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes())}
	return a.emit(v, func() { a.out("file: %s\nalg: X25519 (key agreement)\npublicKey: %s\n", v["file"], v["publicKey"]) })
}

// holdsAgreementKey reports whether the entity lists priv's public key as
// its key-agreement key id.
func holdsAgreementKey(e *sdk.EntityView, id string, priv *ecdh.PrivateKey) bool {
	mine, err := op.AgreementKeyFrom(id, priv.PublicKey())
	if err != nil {
		return false
	}
	for _, v := range e.KeyAgreement {
		if k, err := v.Key(); err == nil && k.ID == id && k.KEM == mine.KEM && bytes.Equal(k.Pub, mine.Pub) {
			return true
		}
	}
	return false
}

// readBounded reads path ("-": stdin) and refuses more than max bytes.
func readBounded(stdin io.Reader, path string, max int) ([]byte, error) {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer func() { _ = f.Close() }()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, fmt.Errorf("%s: more than %d bytes", path, max)
	}
	return b, nil
}

// readEnvelope reads an envelope as CBOR (a tagged COSE_Sign1 or an
// array) or as base64url text.
func readEnvelope(stdin io.Reader, path string) ([]byte, error) {
	b, err := readBounded(stdin, path, 2*seal.MaxEnvelope)
	if err != nil {
		return nil, err
	}
	if len(b) > 0 && (b[0] == 0xd2 || b[0] == 0x84) {
		return b, nil
	}
	env, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, errors.New("the envelope is neither CBOR nor base64url")
	}
	return env, nil
}

// writeNew writes b to a new file of mode 0600.
func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		return errors.Join(err, f.Close())
	}
	return f.Close()
}

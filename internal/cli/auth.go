package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/sdk"
)

func (a *app) authCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "auth",
		Short: "Play a device and a service authenticating each other through a node",
		Long: `Mutual authentication (docs/authentication.md): a service issues a signed
challenge, a device checks the service on the ledger and answers with a signed
proof, and the service (or any node) decides. A challenge names the origin of
the service's URL, and the device answers only a challenge of the origin it
talks to (--url). Messages are printed as compact JWS or base64url COSE_Sign1
(no padding).`,
	}
	cmd.AddCommand(a.authChallengeCmd(), a.authAnswerCmd(), a.authVerifyCmd(), a.authDemoCmd())
	return cmd
}

// entitySigner loads a key file that must be a current key of entity id
// (not its provider's) and makes it the entity's side of an exchange.
func (a *app) entitySigner(ctx context.Context, id, keyPath string) (*sdk.Device, error) {
	e, err := a.client().Entity(ctx, id)
	if err != nil {
		return nil, err
	}
	s, kid, err := a.signerFor(ctx, e, keyPath)
	if err != nil {
		return nil, err
	}
	if kid.Base().String() != e.DID {
		return nil, fmt.Errorf("%s is not a current key of %s", keyPath, id)
	}
	return &sdk.Device{Signer: s, Kid: kid, View: sdk.View{C: a.client()}}, nil
}

// readMsg takes a message from an argument: a file name, or the message
// in its text form (authn.EncodeText).
func readMsg(s string) ([]byte, error) {
	b, ferr := os.ReadFile(s)
	if ferr == nil {
		s = strings.TrimSpace(string(b))
	}
	b, err := authn.DecodeText(s)
	switch {
	case err == nil:
		return b, nil
	case ferr != nil && len(s) < 256:
		return nil, usageError(fmt.Errorf("%q is neither a file (%w) nor a message (a compact JWS or base64url COSE_Sign1): check the file name", s, ferr))
	case ferr != nil:
		return nil, usageError(fmt.Errorf("the text given is not a message (a compact JWS or base64url COSE_Sign1): %w", err))
	}
	return nil, usageError(fmt.Errorf("the file holds no message (a compact JWS or base64url COSE_Sign1): %w", err))
}

func (a *app) authChallengeCmd() *cobra.Command {
	var keyPath, enc, serviceURL string
	cmd := &cobra.Command{
		Use:     "challenge SERVICE_DID --key FILE --url URL",
		Short:   "Issue a challenge as a service",
		Example: example("bias auth challenge did:bias:local:... --key printer.key --url https://printer.example --encoding cose > challenge.txt"),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.entitySigner(cmd.Context(), args[0], keyPath)
			if err != nil {
				return err
			}
			svc := &sdk.Service{Signer: s.Signer, Kid: s.Kid, View: s.View, Encoding: authn.Encoding(enc), URL: serviceURL}
			c, err := svc.Challenge()
			if err != nil {
				return err
			}
			return a.emit(map[string]string{"challenge": authn.EncodeText(c)}, func() { a.out("%s\n", authn.EncodeText(c)) })
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "a key of the service (required)")
	cmd.Flags().StringVar(&enc, "encoding", "jws", "jws or cose")
	cmd.Flags().StringVar(&serviceURL, "url", "", "the service's base URL, as devices reach it; the challenge names its origin (required)")
	cmd.MarkFlagRequired("key")
	cmd.MarkFlagRequired("url")
	return cmd
}

func (a *app) authAnswerCmd() *cobra.Command {
	var keyPath, serviceURL string
	cmd := &cobra.Command{
		Use:     "answer DEVICE_DID CHALLENGE --key FILE --url URL",
		Short:   "Check a service's challenge and answer it as a device",
		Example: example("bias auth answer did:bias:local:... challenge.txt --key cam.key --url https://printer.example > proof.txt"),
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			dev, err := a.entitySigner(cmd.Context(), args[0], keyPath)
			if err != nil {
				return err
			}
			ch, err := readMsg(args[1])
			if err != nil {
				return err
			}
			p, err := dev.Answer(cmd.Context(), serviceURL, ch)
			if err != nil {
				return authError(err)
			}
			return a.emit(map[string]string{"proof": authn.EncodeText(p)}, func() { a.out("%s\n", authn.EncodeText(p)) })
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "a key of the device (required)")
	cmd.Flags().StringVar(&serviceURL, "url", "", "the URL the device got the challenge from: the challenge must name its origin (required)")
	cmd.MarkFlagRequired("key")
	cmd.MarkFlagRequired("url")
	return cmd
}

func (a *app) authVerifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "verify CHALLENGE PROOF",
		Short:   "Have the node decide a challenge and the proof that answers it",
		Example: example("bias auth verify challenge.txt proof.txt", "bias --node http://127.0.0.1:8081 auth verify challenge.txt proof.txt"),
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ch, err := readMsg(args[0])
			if err != nil {
				return err
			}
			pr, err := readMsg(args[1])
			if err != nil {
				return err
			}
			d, err := a.client().Verify(cmd.Context(), ch, pr)
			if err != nil {
				return err
			}
			if err := a.printJSON(d); err != nil {
				return err
			}
			if !d.OK {
				return authError(fmt.Errorf("refused: %s", d.Reason))
			}
			return nil
		},
	}
}

func (a *app) authDemoCmd() *cobra.Command {
	var svcKey, devKey, enc, serviceURL string
	cmd := &cobra.Command{
		Use:     "demo SERVICE_DID DEVICE_DID --service-key FILE --device-key FILE",
		Short:   "Run a whole mutual authentication and show each step",
		Example: example("bias auth demo did:bias:local:svc... did:bias:local:dev... --service-key printer.key --device-key cam.key --encoding cose"),
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := a.entitySigner(ctx, args[0], svcKey)
			if err != nil {
				return err
			}
			dev, err := a.entitySigner(ctx, args[1], devKey)
			if err != nil {
				return err
			}
			svc := &sdk.Service{Signer: s.Signer, Kid: s.Kid, View: s.View, Encoding: authn.Encoding(enc), URL: serviceURL}
			t0 := time.Now()
			ch, err := svc.Challenge()
			if err != nil {
				return err
			}
			a.out("1. service %s at %s issues a challenge (%s, %d bytes)\n", s.Kid, serviceURL, enc, len(ch))
			p, err := dev.Answer(ctx, serviceURL, ch)
			if err != nil {
				return authError(fmt.Errorf("2. the device refuses the service: %w", err))
			}
			a.out("2. device checked the service on the ledger and answers with a proof (%d bytes)\n", len(p))
			d := svc.Verify(ctx, p)
			a.out("3. service decides: %s", d.Reason)
			if d.Detail != "" {
				a.out(" (%s)", d.Detail)
			}
			a.out(" in %v\n", time.Since(t0).Round(time.Microsecond))
			if a.output == outputJSON {
				if err := a.emit(map[string]any{"service": s.Kid.String(), "url": serviceURL, "encoding": enc, "challengeBytes": len(ch), "proofBytes": len(p), "decision": d}, nil); err != nil {
					return err
				}
			}
			if !d.OK {
				return authError(fmt.Errorf("refused: %s", d.Reason))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&svcKey, "service-key", "", "a key of the service (required)")
	cmd.Flags().StringVar(&devKey, "device-key", "", "a key of the device (required)")
	cmd.Flags().StringVar(&enc, "encoding", "jws", "jws or cose")
	cmd.Flags().StringVar(&serviceURL, "url", "https://service.example", "the service's URL, which its challenge names and the device talks to")
	cmd.MarkFlagRequired("service-key")
	cmd.MarkFlagRequired("device-key")
	return cmd
}

package cli

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/keyfile"
)

// parseAlg reads a key algorithm as a user spells it: the curve
// (ed25519, p256) or the JOSE name, in any case.
func parseAlg(s string) (cose.Alg, error) {
	switch strings.ToLower(s) {
	case "ed25519", "eddsa":
		return cose.AlgEdDSA, nil
	case "p256", "p-256", "es256":
		return cose.AlgES256, nil
	}
	return 0, fmt.Errorf("unknown algorithm %q: use ed25519 or p256", s)
}

func (a *app) keyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Create and inspect key files"}
	var alg string
	newCmd := &cobra.Command{
		Use:     "new FILE",
		Short:   "Create a private key in FILE (PEM PKCS #8, mode 0600)",
		Example: example("bias key new device.key", "bias key new --alg p256 service.key"),
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if strings.EqualFold(alg, "x25519") {
				return a.newAgreementKey(args[0])
			}
			al, err := parseAlg(alg)
			if err != nil {
				return err
			}
			s, err := keyfile.Generate(args[0], al)
			if err != nil {
				return err
			}
			a.printKey(args[0], s)
			return nil
		},
	}
	newCmd.Flags().StringVar(&alg, "alg", "ed25519", "key algorithm: ed25519 or p256, or x25519 (a key-agreement key, for bias agreement)")
	showCmd := &cobra.Command{
		Use:     "show FILE",
		Short:   "Print the public key of a key file",
		Example: example("bias key show device.key"),
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			s, err := keyfile.Load(args[0])
			if err != nil {
				return err
			}
			a.printKey(args[0], s)
			return nil
		},
	}
	cmd.AddCommand(newCmd, showCmd)
	return cmd
}

func (a *app) printKey(path string, s cose.Signer) {
	pk := s.Public()
	tp := pk.Thumbprint()
	a.out("file: %s\nalg: %s\npublicKey: %s\nthumbprint: %s\n", path, pk.Alg(),
		base64.RawURLEncoding.EncodeToString(pk.Bytes()), hex.EncodeToString(tp[:8]))
}

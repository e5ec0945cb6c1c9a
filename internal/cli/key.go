package cli

import (
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
	var alg, dir string
	var batch int
	newCmd := &cobra.Command{
		Use:   "new FILE | new --batch N --dir DIR",
		Short: "Create a private key in FILE (PEM PKCS #8, mode 0600), or the keys of a batch of devices",
		Long: `Create a private key in FILE (PEM PKCS #8, mode 0600). With --batch N, create
N device keys DIR/device-0001.key ... and DIR/devices.csv, the file that
bias provider enroll takes (fill in its aliases and attributes columns).`,
		Example: example("bias key new device.key", "bias key new --alg p256 service.key", "bias key new --batch 100 --dir ./batch-7"),
		Args: func(cmd *cobra.Command, args []string) error {
			if batch != 0 {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(_ *cobra.Command, args []string) error {
			if strings.EqualFold(alg, "x25519") {
				return a.newAgreementKey(args[0])
			}
			al, err := parseAlg(alg)
			if err != nil {
				return usageError(err)
			}
			if batch != 0 {
				return a.newKeyBatch(al, batch, dir)
			}
			s, err := keyfile.Generate(args[0], al)
			if err != nil {
				return err
			}
			return a.printKey(args[0], s)
		},
	}
	newCmd.Flags().StringVar(&alg, "alg", "ed25519", "key algorithm: ed25519 or p256, or x25519 (a key-agreement key, for bias agreement)")
	newCmd.Flags().IntVar(&batch, "batch", 0, fmt.Sprintf("create this many device keys (1 to %d) in --dir, and their enrollment file", maxKeyBatch))
	newCmd.Flags().StringVar(&dir, "dir", "", "directory of a --batch (created; must not hold a devices.csv)")
	showCmd := &cobra.Command{
		Use:     "show FILE",
		Short:   "Print the public key of a key file",
		Example: example("bias key show device.key"),
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			s, err := loadKey(args[0])
			if err != nil {
				return err
			}
			return a.printKey(args[0], s)
		},
	}
	cmd.AddCommand(newCmd, showCmd)
	return cmd
}

// keyView is what `bias key new` and `bias key show` print.
type keyView struct {
	File string `json:"file"`
	Alg  string `json:"alg"`
	// PublicKey is the raw key in base64url, as the API and the
	// enrollment files take it; PublicKeyBase64 is the same in standard
	// base64, as genesis.json takes it (a provider key's "pub").
	PublicKey       string `json:"publicKey"`
	PublicKeyBase64 string `json:"publicKeyBase64"`
	Thumbprint      string `json:"thumbprint"`
}

func (a *app) printKey(path string, s cose.Signer) error {
	pk := s.Public()
	tp := pk.Thumbprint()
	v := keyView{File: path, Alg: pk.Alg().String(), PublicKey: base64.RawURLEncoding.EncodeToString(pk.Bytes()),
		PublicKeyBase64: base64.StdEncoding.EncodeToString(pk.Bytes()), Thumbprint: hex.EncodeToString(tp[:8])}
	return a.emit(v, func() {
		a.out("file: %s\nalg: %s\npublicKey: %s\npublicKeyBase64: %s (genesis.json)\nthumbprint: %s\n", v.File, v.Alg, v.PublicKey, v.PublicKeyBase64, v.Thumbprint)
	})
}

// loadKey loads a key file; a missing one is a usage error that says
// how to make one.
func loadKey(path string) (cose.Signer, error) {
	s, err := keyfile.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, usageError(fmt.Errorf("%w: no key file %s: check the path, or create it with bias key new %s", err, path, path))
	}
	return s, err
}

// algName is the name of alg that parseAlg reads, as the docs spell it.
func algName(alg cose.Alg) string {
	if alg == cose.AlgES256 {
		return "p256"
	}
	return "ed25519"
}

// maxKeyBatch bounds `bias key new --batch`.
const maxKeyBatch = 100000

// newKeyBatch creates n device keys in dir and their enrollment file.
func (a *app) newKeyBatch(alg cose.Alg, n int, dir string) error {
	if n < 1 || n > maxKeyBatch {
		return usageError(fmt.Errorf("--batch must be 1 to %d", maxKeyBatch))
	}
	if dir == "" {
		return usageError(errors.New("--batch needs --dir"))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	list := filepath.Join(dir, "devices.csv")
	f, err := os.OpenFile(list, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return usageError(fmt.Errorf("%w: choose an empty --dir", err))
	}
	w := csv.NewWriter(f)
	err = w.Write(enrollHeader)
	for i := 1; i <= n && err == nil; i++ {
		var s cose.Signer
		if s, err = keyfile.Generate(filepath.Join(dir, fmt.Sprintf("device-%04d.key", i)), alg); err == nil {
			err = w.Write([]string{algName(alg), base64.RawURLEncoding.EncodeToString(s.Public().Bytes()), "", ""})
		}
	}
	w.Flush()
	if err = errors.Join(err, w.Error(), f.Close()); err != nil {
		return err
	}
	return a.emit(map[string]any{"dir": dir, "keys": n, "file": list}, func() {
		a.out("%d keys in %s/device-*.key; enrollment file %s\n", n, dir, list)
	})
}

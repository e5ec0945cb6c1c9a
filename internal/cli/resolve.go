package cli

import (
	"errors"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/sdk"
)

func (a *app) resolveCmd() *cobra.Command {
	var docOnly bool
	var version uint64
	var at string
	cmd := &cobra.Command{
		Use:   "resolve DID|LEGACY-ID",
		Short: "Resolve a DID, or identify the device holding a legacy identifier",
		Long: `Resolve a did:bias DID to its DID document and metadata, or identify the
validated entity that holds a legacy identifier (urn:imei:, tel:+, urn:epc:id:,
urn:oid:, urn:dev:, ip:). Prints the resolution result, or only the document
with --document. Only metadata status "validated" presents a valid entity.`,
		Example: example(
			"bias resolve did:bias:local:...",
			"bias resolve --version 1 did:bias:local:...",
			"bias resolve --at 2026-11-25T10:00:00Z did:bias:local:...",
			"bias resolve urn:imei:490154203237518",
		),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := a.client()
			var res *did.Result
			var err error
			if strings.HasPrefix(args[0], "did:") {
				o := did.Options{VersionID: version}
				if at != "" {
					if o.VersionTime, err = time.Parse(time.RFC3339, at); err != nil {
						return errors.New("--at must be an RFC 3339 time")
					}
				}
				res, err = r.Resolve(cmd.Context(), args[0], o)
			} else {
				res, err = r.Identify(cmd.Context(), args[0])
			}
			var re *sdk.ResolutionError
			if errors.As(err, &re) && res != nil && res.DocumentMetadata != nil && res.DocumentMetadata.Deactivated {
				// Deactivated: print its metadata, and fail.
				return errors.Join(a.printJSON(res), err)
			}
			if err != nil {
				return err
			}
			if docOnly {
				return a.printJSON(res.Document)
			}
			return a.printJSON(res)
		},
	}
	cmd.Flags().BoolVar(&docOnly, "document", false, "print only the DID document")
	cmd.Flags().Uint64Var(&version, "version", 0, "resolve this version")
	cmd.Flags().StringVar(&at, "at", "", "resolve the version in effect at this RFC 3339 time")
	cmd.MarkFlagsMutuallyExclusive("version", "at")
	return cmd
}

package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/bias-iot/bias/internal/version"
)

func (a *app) versionCmd() *cobra.Command {
	var server bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of bias (and, with --server, of the node)",
		Long: `Print this binary's module version, commit, Go and CometBFT versions (stamped
at build time by scripts/release.sh, or from Go's build information). With
--server, also the --node's (GET /v1/version).`,
		Example: example("bias version", "bias version --server --node 127.0.0.1:8080"),
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := map[string]version.Info{"client": version.Get()}
			if server {
				req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, nodeURL(a.nodeURL)+"/v1/version", nil)
				if err != nil {
					return usageError(err)
				}
				resp, err := a.client().HTTP.Do(req)
				if err != nil {
					return err
				}
				defer resp.Body.Close() //nolint:errcheck // read only
				var nv version.Info
				b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("GET /v1/version: HTTP %d (a node older than bias version tells none)", resp.StatusCode)
				}
				if err == nil {
					err = json.Unmarshal(b, &nv)
				}
				if err != nil {
					return err
				}
				v["node"] = nv
			}
			return a.emit(v, func() {
				a.out("%s\n", v["client"])
				if nv, ok := v["node"]; ok {
					a.out("node: %s\n", nv)
				}
			})
		},
	}
	cmd.Flags().BoolVar(&server, "server", false, "also ask the node for its version")
	return cmd
}

package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"

	"github.com/bias-iot/bias/sdk"
)

func (a *app) oauthCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "oauth",
		Short: "Get OAuth 2.0 access tokens from a node's authorization server",
		Long: `Every node is an OAuth 2.0 authorization server for its operator
(docs/oauth.md): a device gets an access token (RFC 9068) for a service with an
assertion signed by its registered key (RFC 7523), which stock OAuth and OIDC
libraries verify against the operator's keys on the ledger.`,
	}
	cmd.AddCommand(a.oauthTokenCmd())
	return cmd
}

func (a *app) oauthTokenCmd() *cobra.Command {
	var keyPath, resource, scope, tokenURL string
	var dpop bool
	cmd := &cobra.Command{
		Use:   "token DEVICE_DID --key FILE --resource SERVICE_DID",
		Short: "Get an access token for a service, as a device",
		Example: example("bias oauth token did:bias:local:cam... --key cam.key --resource did:bias:local:printer... --scope 'print openid'",
			"bias oauth token did:bias:local:cam... --key cam.key --resource did:bias:local:printer... --dpop --node https://id.operator-b.example"),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyPath == "" || resource == "" {
				return errors.New("--key and --resource are required")
			}
			dev, err := a.entitySigner(cmd.Context(), args[0], keyPath)
			if err != nil {
				return err
			}
			if tokenURL == "" {
				m, err := a.client().OAuthMetadata(cmd.Context())
				if err != nil {
					return fmt.Errorf("the node's authorization server: %w", err)
				}
				tokenURL = m.TokenEndpoint
			}
			src := &sdk.OAuthSource{Signer: dev.Signer, Kid: dev.Kid, TokenURL: tokenURL, Resource: resource, Scope: scope, DPoP: dpop, Context: cmd.Context()}
			tok, err := src.Token()
			var re *oauth2.RetrieveError
			if errors.As(err, &re) {
				return authError(fmt.Errorf("refused: %s: %s", re.ErrorCode, re.ErrorDescription))
			}
			if err != nil {
				return err
			}
			out := map[string]any{"access_token": tok.AccessToken, "token_type": tok.TokenType, "expires_in": tok.ExpiresIn}
			for _, k := range []string{"scope", "id_token"} {
				if v, _ := tok.Extra(k).(string); v != "" {
					out[k] = v
				}
			}
			return a.printJSON(out)
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "a registered key of the device (required)")
	cmd.Flags().StringVar(&resource, "resource", "", "the DID of the service the token is for (required, RFC 8707)")
	cmd.Flags().StringVar(&scope, "scope", "", "space-separated scopes; openid also asks for an ID token")
	cmd.Flags().BoolVar(&dpop, "dpop", false, "bind the token to the device's key (RFC 9449)")
	cmd.Flags().StringVar(&tokenURL, "token-url", "", "the token endpoint (default: the --node's, from its metadata)")
	return cmd
}

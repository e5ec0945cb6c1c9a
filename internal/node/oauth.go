package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/oauth"
	"github.com/bias-iot/bias/keyfile"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// OAuthConfig configures the node's OAuth 2.0 authorization server
// (docs/oauth.md). The node acts for the provider of its home
// (provider/did), signing with the token key provider/token.key.
type OAuthConfig struct {
	// Issuer is the operator's issuer URL (https://id.operator.example);
	// "": the node's own http://<listen address> (for one machine).
	Issuer string `json:"issuer,omitempty"`
	// TokenLifetime of access and ID tokens; 0: 5 min, at most 1 h.
	TokenLifetime Duration `json:"tokenLifetime,omitempty"`
	// AnonymousIntrospection answers introspection without client
	// authentication. Off by default (RFC 7662 section 2.1): resource
	// servers authenticate with private_key_jwt.
	AnonymousIntrospection bool `json:"anonymousIntrospection,omitempty"`
}

// Validate checks the OAuth configuration.
func (c OAuthConfig) Validate() error {
	if c.Issuer != "" {
		if err := oauth.CheckIssuer(c.Issuer); err != nil {
			return err
		}
	}
	if lt := time.Duration(c.TokenLifetime); lt < 0 || lt > oauth.MaxLifetime*time.Second || (lt > 0 && lt < time.Second) {
		return fmt.Errorf("oauth.tokenLifetime must be 1s to %ds", oauth.MaxLifetime)
	}
	return nil
}

// TokenKeyPath is where a home keeps its provider's token-signing key
// (P-256, ES256: the alg every stock JWT library verifies).
func TokenKeyPath(home string) string { return filepath.Join(home, "provider", "token.key") }

// ensureTokenKey makes the home's token key unless it has one.
func ensureTokenKey(home string) error {
	if _, err := os.Stat(TokenKeyPath(home)); err == nil {
		return nil
	}
	_, err := keyfile.Generate(TokenKeyPath(home), cose.AlgES256)
	return err
}

// TokenKeyID is a token key's id in the provider's publication: derived
// from the key, so that a new key has a new id.
func TokenKeyID(k cose.PublicKey) string {
	t := k.Thumbprint()
	return "oauth-" + hex.EncodeToString(t[:6])
}

// startOAuth makes the node's authorization server, when its home names
// a provider, and publishes the token key on the ledger (in the
// background) unless the provider's publication holds it already. A home
// without the provider's admin key serves tokens that verify only once the
// operator published the key another way.
func (n *Node) startOAuth(log *slog.Logger) error {
	pid, err := readProviderDID(n.cfg.Home)
	if err != nil {
		return nil //nolint:nilerr // a node that acts for no provider (a full node) is no authorization server
	}
	prov, err := did.ParseNoFragment(pid)
	if err != nil {
		return fmt.Errorf("provider/did: %w", err)
	}
	if err := ensureTokenKey(n.cfg.Home); err != nil {
		return fmt.Errorf("token key: %w", err)
	}
	key, err := keyfile.Load(TokenKeyPath(n.cfg.Home))
	if err != nil {
		return fmt.Errorf("token key: %w", err)
	}
	issuer, configured := n.cfg.OAuth.Issuer, true
	if issuer == "" {
		issuer, configured = "http://"+n.ln.Addr().String(), false
	}
	n.as, err = oauth.New(oauth.Config{
		Issuer: issuer, Provider: prov, Key: key, KeyID: TokenKeyID(key.Public()),
		Lifetime: int64(time.Duration(n.cfg.OAuth.TokenLifetime) / time.Second),
		Ledger:   n.res, Access: n.acc, Spent: authn.NewMemorySpentSet(1 << 20), Rand: rand.Reader,
		AnonymousIntrospection: n.cfg.OAuth.AnonymousIntrospection,
	})
	if err != nil && !configured {
		// The default issuer (http on the API's address) is one only on a
		// loopback address: elsewhere the node serves on, without an
		// authorization server of its own, until oauth.issuer names one.
		log.Warn("no authorization server: set oauth.issuer (an https URL) to issue tokens here", "default", issuer, "err", err)
		n.as = nil
		return nil
	}
	if err != nil {
		return err
	}
	admin, err := keyfile.Load(AdminKeyPath(n.cfg.Home))
	if err != nil {
		log.Warn("no admin key: the token key is not published by this node", "provider", pid, "err", err)
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { n.publishTokenKey(ctx, log, prov, admin, op.KeyFrom(TokenKeyID(key.Public()), key.Public())) })
	n.stopOAuth = func() { cancel(); wg.Wait() }
	return nil
}

// publishTokenKey publishes the token key beside the provider's current
// ones (the oldest dropped past op.MaxTokenKeys), the CA certificates
// unchanged.
func (n *Node) publishTokenKey(ctx context.Context, log *slog.Logger, prov did.DID, admin cose.Signer, key op.Key) {
	n.publish(ctx, log, "token key "+key.ID, prov, admin, func(cur op.Publish) (op.Publish, bool) {
		for _, k := range cur.TokenKeys {
			if k.ID == key.ID && k.Alg == key.Alg && string(k.Pub) == string(key.Pub) {
				return cur, false
			}
		}
		next := cur
		next.TokenKeys = append(append([]op.Key(nil), cur.TokenKeys...), key)
		if extra := len(next.TokenKeys) - op.MaxTokenKeys; extra > 0 {
			next.TokenKeys = next.TokenKeys[extra:]
		}
		return next, true
	})
}

// adminKid is the DID URL of the provider's admin key pub.
func adminKid(p *record.Provider, pub cose.PublicKey) (did.DID, bool) {
	id, err := did.ParseNoFragment(p.DID)
	if err != nil {
		return did.DID{}, false
	}
	for _, k := range p.Keys {
		if pk, err := k.Public(); err == nil && pk.Equal(pub) {
			return id.WithFragment(k.ID), true
		}
	}
	return did.DID{}, false
}

// OAuth is the node's authorization server (nil when it acts for no
// provider).
func (n *Node) OAuth() *oauth.Server { return n.as }

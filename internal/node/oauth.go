package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
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

// publishTokenKey submits provider.publish with the token key beside the
// provider's current keys (the oldest dropped past op.MaxTokenKeys) and
// the CA certificates unchanged, read from the current publication and
// tried again when another publication came first (stale version).
func (n *Node) publishTokenKey(ctx context.Context, log *slog.Logger, prov did.DID, admin cose.Signer, key op.Key) {
	if err := n.led.WaitHeight(ctx, 1); err != nil {
		return
	}
	for try := 0; ; try++ {
		done, err := n.publishOnce(ctx, prov, admin, key)
		if done {
			if err == nil && try > 0 {
				log.Info("token key published", "provider", prov.String(), "kid", key.ID)
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		if try > 0 {
			log.Warn("publishing the token key failed; retrying", "provider", prov.String(), "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(min(time.Duration(try+1)*200*time.Millisecond, 5*time.Second)):
		}
	}
}

// publishOnce publishes key unless it is published; done when it is.
func (n *Node) publishOnce(ctx context.Context, prov did.DID, admin cose.Signer, key op.Key) (bool, error) {
	p, err := n.res.Provider(ctx, prov.String())
	if err != nil || p == nil {
		return false, errors.Join(errors.New("the provider could not be read"), err)
	}
	if k, ok := p.TokenKey(key.ID); ok && k.Alg == key.Alg && string(k.Pub) == string(key.Pub) {
		return true, nil
	}
	next := op.Publish{Provider: prov.String(), Version: p.PublicationVersion()}
	if pub := p.Publication; pub != nil {
		next.CA = pub.CA // the X.509 CA certificates stay as they are
		next.TokenKeys = append(next.TokenKeys, pub.TokenKeys...)
	}
	next.TokenKeys = append(next.TokenKeys, key)
	if extra := len(next.TokenKeys) - op.MaxTokenKeys; extra > 0 {
		next.TokenKeys = next.TokenKeys[extra:]
	}
	kid, ok := adminKid(p, admin.Public())
	if !ok {
		return true, errors.New("the admin key is not one of the provider's")
	}
	tx, err := op.Sign(admin, kid, op.Payload{Type: op.TypePublish, Network: n.cfg.Network, Publish: &next})
	if err != nil {
		return true, err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := n.led.Submit(sctx, tx)
	if err != nil {
		return false, err
	}
	if res.Code != 0 {
		return false, fmt.Errorf("%s: %s", op.ReasonFromCode(res.Code), res.Log)
	}
	return false, nil // read back on the next round
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

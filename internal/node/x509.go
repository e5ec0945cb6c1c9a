package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/ca"
	"github.com/bias-iot/bias/keyfile"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/x509ca"
)

// X509Config configures the node's X.509 certificate authority for its
// provider (docs/x509.md). A home with a provider (provider/did) runs
// one unless Disabled.
type X509Config struct {
	Disabled bool `json:"disabled,omitempty"`
	// Lifetime of the certificates issued (default 24h, at most 720h).
	Lifetime Duration `json:"lifetime,omitempty"`
	// URL is the node's base URL as TLS servers reach it, named in
	// certificates for OCSP and the CRL (default http:// + the API's
	// listen address).
	URL string `json:"url,omitempty"`
	// CRLFile is where the CRL is written in PEM at each change (default
	// HOME/x509/crl.pem); CRLHook runs after each write (argv, no shell;
	// BIAS_CRL_FILE in its environment), e.g. to make a server reload it.
	CRLFile string   `json:"crlFile,omitempty"`
	CRLHook []string `json:"crlHook,omitempty"`
	// PerDevice bounds the unexpired certificates a device holds of
	// this CA (default 16).
	PerDevice int `json:"perDevice,omitempty"`
	// NoPublish: do not publish the CA certificate on the ledger at start
	// (bias x509 publish does it with an admin key kept elsewhere).
	NoPublish bool `json:"noPublish,omitempty"`
}

func (c X509Config) validate() error {
	if l := time.Duration(c.Lifetime); l != 0 && (l < x509ca.MinLifetime || l > x509ca.MaxLifetime) {
		return fmt.Errorf("x509.lifetime %v: must be %v to %v", l, x509ca.MinLifetime, x509ca.MaxLifetime)
	}
	if c.PerDevice < 0 || c.PerDevice > 1<<16 {
		return errors.New("x509.perDevice must be 0 (the default) to 65536")
	}
	return nil
}

// ensureCA creates the CA of home's provider if the home has a provider
// and no CA yet.
func ensureCA(home string) (*ca.CA, error) {
	pid, err := readProviderDID(home)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // a full node: no provider of its own
	}
	if err != nil {
		return nil, err
	}
	name := "provider"
	if d, err := did.ParseNoFragment(pid); err == nil {
		name = d.Suffix[:8]
	}
	return ca.Ensure(home, pid, name)
}

// startX509 opens the node's CA, starts following the ledger and, unless
// told not to, publishes the CA's certificate.
func (n *Node) startX509(log *slog.Logger) error {
	x := n.cfg.X509
	if x.Disabled {
		return nil
	}
	c, err := ensureCA(n.cfg.Home)
	if err != nil || c == nil {
		return err
	}
	url := x.URL
	if url == "" {
		url = "http://" + n.ln.Addr().String()
	}
	dir := filepath.Join(n.cfg.Home, "x509")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	n.ca, err = ca.New(ca.Config{
		CA: c, View: n.res, Network: n.cfg.Network, Dir: dir, Lifetime: time.Duration(x.Lifetime), URL: url,
		CRLFile: x.CRLFile, CRLHook: x.CRLHook, PerDevice: x.PerDevice, Log: log,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	followed := make(chan struct{})
	n.x509Stop = func() { cancel(); <-followed }
	from := n.led.Height() + 1
	go func() {
		defer close(followed)
		if err := n.ca.Follow(ctx, n.led, from); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("x509: following the ledger stopped", "err", err)
		}
	}()
	if !x.NoPublish {
		go n.publishCA(ctx, log)
	}
	return nil
}

// publishCA puts the CA's certificate into the provider's publication on
// the ledger, signed with the admin key in the home, keeping what the
// publication holds (other CA certificates, token keys).
func (n *Node) publishCA(ctx context.Context, log *slog.Logger) {
	admin, err := keyfile.Load(AdminKeyPath(n.cfg.Home))
	if err != nil {
		log.Warn("x509: no admin key in the home: publish the CA with bias x509 publish", "err", err)
		return
	}
	pid, err := did.ParseNoFragment(n.ca.Provider())
	if err != nil {
		return
	}
	n.publish(ctx, log, "x509: the CA certificate", pid, admin, func(cur op.Publish) (op.Publish, bool) {
		next := cur
		var changed bool
		next.CA, changed = x509ca.WithCA(cur.CA, n.ca.CACert())
		return next, changed
	})
}

// X509Issued is the number of unexpired certificates the node's CA
// holds (0 without a CA).
func (n *Node) X509Issued() int {
	if n.ca == nil {
		return 0
	}
	return n.ca.Index().Len()
}

package ca

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// CRL is the current CRL (DER).
func (a *Authority) CRL() []byte {
	a.crlMu.Lock()
	defer a.crlMu.Unlock()
	return a.crlDER
}

// refreshCRL re-signs the CRL (its unexpired revoked certificates) when
// force, or when half its validity has passed, writes it to the CRL file
// (PEM, atomically) and runs the hook.
func (a *Authority) refreshCRL(ctx context.Context, force bool) error {
	now := a.now().UTC().Truncate(time.Second)
	a.crlMu.Lock()
	if !force && now.Sub(a.crlAt) < DefaultCRLValid/2 {
		a.crlMu.Unlock()
		return nil
	}
	// The number only grows: the time, or one more than the last.
	number := max(now.Unix(), a.crlNumber+1)
	tmpl := &x509.RevocationList{Number: big.NewInt(number), ThisUpdate: now, NextUpdate: now.Add(DefaultCRLValid)}
	for _, c := range a.idx.RevokedUnexpired(now.Unix()) {
		b, err := hex.DecodeString(c.Serial)
		if err != nil {
			continue
		}
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber: new(big.Int).SetBytes(b), RevocationTime: time.Unix(c.Revoked, 0).UTC(), ReasonCode: c.Reason,
		})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, a.ca.Cert, a.ca.Key)
	if err != nil {
		a.crlMu.Unlock()
		return fmt.Errorf("sign CRL: %w", err)
	}
	a.crlDER, a.crlNumber, a.crlAt = der, number, now
	a.crlMu.Unlock()
	a.fileMu.Lock()
	if number <= a.written { // a newer CRL is already in the file
		a.fileMu.Unlock()
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(a.c.CRLFile), 0o700); err != nil {
		a.fileMu.Unlock()
		return err
	}
	if err := writeFileAtomic(a.c.CRLFile, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644); err != nil {
		a.fileMu.Unlock()
		return fmt.Errorf("write CRL: %w", err)
	}
	a.written = number
	a.fileMu.Unlock()
	a.log.Info("x509: CRL written", "file", a.c.CRLFile, "number", number, "revoked", len(tmpl.RevokedCertificateEntries))
	a.runHook(ctx)
	return nil
}

// runHook runs the CRL hook, if any, bounded in time; its failure is
// logged (the file is written either way).
func (a *Authority) runHook(ctx context.Context) {
	if len(a.c.CRLHook) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, hookTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, a.c.CRLHook[0], a.c.CRLHook[1:]...) //nolint:gosec // the operator's own configured command
	cmd.Env = append(os.Environ(), "BIAS_CRL_FILE="+a.c.CRLFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		a.log.Warn("x509: the CRL hook failed", "hook", a.c.CRLHook[0], "err", err, "output", string(out[:min(len(out), 512)]))
	}
}

// lastCRLNumber reads the number of the CRL file a previous run wrote (0
// if there is none): the next one is higher.
func lastCRLNumber(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return 0
	}
	l, err := x509.ParseRevocationList(blk.Bytes)
	if err != nil || l.Number == nil || !l.Number.IsInt64() {
		return 0
	}
	return l.Number.Int64()
}

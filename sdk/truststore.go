package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/bias-iot/bias/lightclient"
)

// TrustFile is a lightclient.Store in one file: the newest header a light
// client trusts, per chain, as JSON. A verifier that keeps it starts its
// next read from that header rather than from the genesis (and needs it
// younger than the trusting period). The file is written whole to a
// temporary file and renamed, so a crash leaves the old or the new one.
// Keep it where only the verifier writes: whoever changes it chooses what
// the verifier believes.
type TrustFile struct {
	Path string
	mu   sync.Mutex
}

var _ lightclient.Store = (*TrustFile)(nil)

// maxTrustFileBytes bounds the file read (a few chains of up to
// lightclient.MaxValidators validators).
const maxTrustFileBytes = 4 << 20

func (f *TrustFile) read() (map[string]lightclient.Trusted, error) {
	fh, err := os.Open(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]lightclient.Trusted{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer fh.Close() //nolint:errcheck // read only
	b, err := io.ReadAll(io.LimitReader(fh, maxTrustFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxTrustFileBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", f.Path, maxTrustFileBytes)
	}
	m := map[string]lightclient.Trusted{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	return m, nil
}

// Load implements lightclient.Store.
func (f *TrustFile) Load(chainID string) (*lightclient.Trusted, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.read()
	if err != nil {
		return nil, err
	}
	t, ok := m[chainID]
	if !ok {
		return nil, nil
	}
	return &t, nil
}

// Save implements lightclient.Store: it keeps t if it is newer than the
// header the file holds for its chain.
func (f *TrustFile) Save(t *lightclient.Trusted) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.read()
	if err != nil {
		return err
	}
	if old, ok := m[t.ChainID]; ok && old.Height >= t.Height {
		return nil
	}
	m[t.ChainID] = t.Stored()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.Path), filepath.Base(f.Path)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), f.Path)
	}
	if err != nil {
		return errors.Join(err, os.Remove(tmp.Name()))
	}
	return nil
}

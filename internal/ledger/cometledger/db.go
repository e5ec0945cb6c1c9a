package cometledger

import (
	"errors"
	"sync"

	dbm "github.com/cometbft/cometbft-db"

	cmtcfg "github.com/cometbft/cometbft/config"
)

// errDBClosed is what a write to a closed database returns.
var errDBClosed = errors.New("cometledger: database closed")

// shutdownSafeDB is a CometBFT database that reads as empty once it is
// closed. CometBFT v0.38's consensus reactor may read the block store
// from a peer's goroutine after the node stopped and closed it
// (queryMaj23Routine sleeps between its running check and its read), and
// the block store panics on the read error: found as a panic at the end
// of a 4-validator test. A read after Close finds nothing instead; the
// goroutine then sees the node stopped and returns.
type shutdownSafeDB struct {
	dbm.DB
	mu     sync.RWMutex
	closed bool
}

// shutdownSafeDBProvider opens each of the node's databases as CometBFT's
// default provider does, made shutdown-safe.
func shutdownSafeDBProvider(ctx *cmtcfg.DBContext) (dbm.DB, error) {
	db, err := cmtcfg.DefaultDBProvider(ctx)
	if err != nil {
		return nil, err
	}
	return &shutdownSafeDB{DB: db}, nil
}

func (d *shutdownSafeDB) Get(k []byte) ([]byte, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, nil
	}
	return d.DB.Get(k)
}

func (d *shutdownSafeDB) Has(k []byte) (bool, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return false, nil
	}
	return d.DB.Has(k)
}

func (d *shutdownSafeDB) Set(k, v []byte) error {
	return d.write(func() error { return d.DB.Set(k, v) })
}
func (d *shutdownSafeDB) SetSync(k, v []byte) error {
	return d.write(func() error { return d.DB.SetSync(k, v) })
}
func (d *shutdownSafeDB) Delete(k []byte) error {
	return d.write(func() error { return d.DB.Delete(k) })
}
func (d *shutdownSafeDB) DeleteSync(k []byte) error {
	return d.write(func() error { return d.DB.DeleteSync(k) })
}

func (d *shutdownSafeDB) write(f func() error) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return errDBClosed
	}
	return f()
}

// Close closes the database once no read or write is under way.
func (d *shutdownSafeDB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	return d.DB.Close()
}

package evmledger

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	dbm "github.com/cometbft/cometbft-db"
	"github.com/ethereum/go-ethereum/common"

	"github.com/bias-iot/bias/internal/ledger/blocklog"
)

// ErrDataDir is the error of a Config.DataDir that holds the blocks of another network or
// anchor contract.
var ErrDataDir = errors.New("evmledger: the data directory belongs to another network or contract")

// evmBlock is what the engine keeps of a block beside its header and
// results: the EVM block it came from, where each operation came from
// (for Inclusion), and the follower's place in the anchor's seq numbers
// after it (so that a restart goes on checking them).
type evmBlock struct {
	EVM      common.Hash `json:"evm"`
	Sources  []source    `json:"sources,omitempty"`
	NextSeq  uint64      `json:"nextSeq"`
	SeqKnown bool        `json:"seqKnown"`
}

// source locates an operation on the chain.
type source struct {
	Tx       common.Hash `json:"tx"`
	TxIndex  uint        `json:"txIndex"`
	LogIndex uint        `json:"logIndex"` // in the block
	Op       int         `json:"op"`       // in the batch
}

// storeMeta names the chain a store's blocks come from.
type storeMeta struct {
	Network  string         `json:"network"`
	Contract common.Address `json:"contract"`
	Genesis  uint64         `json:"genesis"`
}

var (
	metaKey     = []byte("meta")
	blockPrefix = []byte("b/")
)

// store keeps the engine's blocks (blocklog entries) in a cometbft-db
// database: goleveldb in Config.DataDir, or in memory. Every Put is
// synced to disk before it returns.
type store struct{ db dbm.DB }

var _ blocklog.Store = store{}

// openStore opens the block store of cfg (in memory when cfg.DataDir is
// "") for the anchor deployed at genesis, refusing one of another
// network or contract.
func openStore(cfg Config, genesis uint64) (store, error) {
	var db dbm.DB = dbm.NewMemDB()
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return store{}, fmt.Errorf("evmledger: data dir: %w", err)
		}
		ldb, err := dbm.NewGoLevelDB("blocks", cfg.DataDir)
		if err != nil {
			return store{}, fmt.Errorf("evmledger: open %s: %w", filepath.Join(cfg.DataDir, "blocks.db"), err)
		}
		db = ldb
	}
	s := store{db: db}
	want, err := json.Marshal(storeMeta{Network: cfg.Network, Contract: cfg.Contract, Genesis: genesis})
	if err == nil {
		err = s.checkMeta(want)
	}
	if err != nil {
		_ = db.Close()
		return store{}, err
	}
	return s, nil
}

// checkMeta records want as the store's chain, or checks that it is.
func (s store) checkMeta(want []byte) error {
	have, err := s.db.Get(metaKey)
	switch {
	case err != nil:
		return fmt.Errorf("evmledger: data dir: %w", err)
	case have == nil:
		if err := s.db.SetSync(metaKey, want); err != nil {
			return fmt.Errorf("evmledger: data dir: %w", err)
		}
		return nil
	case !bytes.Equal(have, want):
		return fmt.Errorf("%w: it holds %s", ErrDataDir, have)
	}
	return nil
}

func blockKey(h int64) []byte {
	return binary.BigEndian.AppendUint64(bytes.Clone(blockPrefix), uint64(h)) //nolint:gosec // heights are positive
}

func (s store) Put(h int64, entry []byte) error { return s.db.SetSync(blockKey(h), entry) }

func (s store) Get(h int64) ([]byte, error) { return s.db.Get(blockKey(h)) }

// deleteChunk bounds the deletions of one batch (a first retention on a
// long store deletes in several).
const deleteChunk = 10000

func (s store) DeleteRange(from, to int64) error {
	for ; from <= to; from += deleteChunk {
		if err := s.deleteBatch(from, min(to, from+deleteChunk-1)); err != nil {
			return err
		}
	}
	return nil
}

func (s store) deleteBatch(from, to int64) error {
	b := s.db.NewBatch()
	defer func() { _ = b.Close() }()
	for h := from; h <= to; h++ {
		if err := b.Delete(blockKey(h)); err != nil {
			return err
		}
	}
	return b.WriteSync()
}

func (s store) Bounds() (first, last int64, err error) {
	end := []byte{blockPrefix[0], blockPrefix[1] + 1}
	edge := func(it dbm.Iterator, err error) (int64, error) {
		if err != nil {
			return 0, err
		}
		defer func() { _ = it.Close() }()
		if !it.Valid() {
			return 0, it.Error()
		}
		k := it.Key()
		if len(k) != len(blockPrefix)+8 {
			return 0, fmt.Errorf("evmledger: a key of %d bytes in the block store", len(k))
		}
		return int64(binary.BigEndian.Uint64(k[len(blockPrefix):])), nil //nolint:gosec // written from heights
	}
	if first, err = edge(s.db.Iterator(blockPrefix, end)); err != nil {
		return 0, 0, err
	}
	if last, err = edge(s.db.ReverseIterator(blockPrefix, end)); err != nil {
		return 0, 0, err
	}
	return first, last, nil
}

func (s store) close() error { return s.db.Close() }

package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cosmos/iavl"
	idb "github.com/cosmos/iavl/db"
)

// An export is a committed version of the tree as a stream of its nodes,
// in IAVL's export order (depth-first, post-order), cut into chunks: what
// a node that joins by state sync imports into an empty store. The
// stream of a version is a function of the version alone, so every node
// that exports it with the same chunk size makes the same chunks.
//
// Chunk format 1 (ChunkFormat) is a sequence of whole nodes, each:
//
//	height   1 byte (0: a leaf; at most maxNodeHeight)
//	version  uvarint (1 to the exported version)
//	key      uvarint length (1 to MaxKeyBytes), then the bytes
//	value    leaves only: uvarint length (up to MaxChunkBytes), then the bytes
//
// Every integer in its shortest form; a chunk holds at least one node and
// at most ChunkBytes bytes, unless one node alone is larger. An importer
// checks each chunk against the list of chunk hashes it was given before
// it decodes any of it, decodes it a node at a time, checks the tree's
// shape as the nodes come (leaf keys strictly ascending, each
// inner node's key the first key of its right subtree, its height one
// above its children's), computes the root hash itself, and commits the
// version only when that root is the expected one.

// ChunkFormat is the format of the chunks that Export makes.
const ChunkFormat = 1

const (
	// DefaultChunkBytes is the chunk size nodes use unless told
	// otherwise (every node of a network should use the same one, so
	// that a joiner can fetch a snapshot's chunks from all of them).
	DefaultChunkBytes = 4 << 20
	// MinChunkBytes is the smallest chunk size Export accepts.
	MinChunkBytes = 1 << 10
	// MaxChunkBytes bounds a chunk, made or read (CometBFT carries a
	// chunk in a p2p message of at most 16 MB).
	MaxChunkBytes = 12 << 20
	// MaxChunks bounds the chunks of an export (at the default chunk
	// size, 400 GB of state; CometBFT carries the list of their hashes
	// in a message of at most 4 MB).
	MaxChunks = 100_000
	// MaxKeyBytes bounds a key in an export.
	MaxKeyBytes = 4096
	// maxNodeHeight bounds the height of a node (an AVL tree of 2^40
	// keys is at most 58 high).
	maxNodeHeight = 64
)

// Errors of an import. A chunk refused with ErrChunkHash, ErrChunkTooLarge
// or ErrChunkOrder leaves the import where it was; one refused with
// ErrBadExport ends it.
var (
	// ErrChunkHash: a chunk's hash is not the one listed for its index
	// (its sender sent something else).
	ErrChunkHash = errors.New("chunk does not match the snapshot's hash of it")
	// ErrChunkTooLarge: a chunk larger than MaxChunkBytes.
	ErrChunkTooLarge = fmt.Errorf("chunk larger than %d bytes", MaxChunkBytes)
	// ErrChunkOrder: a chunk other than the next one.
	ErrChunkOrder = errors.New("chunk out of order")
	// ErrBadExport: the export itself is bad (a listed chunk that does
	// not decode, a tree of the wrong shape, another root).
	ErrBadExport = errors.New("bad state export")
	// ErrNotEmpty: an import into a store that holds a version.
	ErrNotEmpty = errors.New("the store is not empty")
	// ErrExportBusy: an export while another is under way.
	ErrExportBusy = errors.New("an export is under way")
)

// ExportInfo describes an export.
type ExportInfo struct {
	Version int64
	Root    []byte     // the version's root hash
	Chunks  [][32]byte // the SHA-256 of each chunk, in order
}

// Export writes committed version v as chunks of about chunkBytes,
// handing each to emit in order, and checks that what it wrote rebuilds
// the version's root hash. It reads the version through a tree of its own
// (no lock of the working tree: commits go on meanwhile) and holds the
// version against pruning until it returns. One export at a time.
func (s *Store) Export(v int64, chunkBytes int, emit func(chunk []byte) error) (*ExportInfo, error) {
	if chunkBytes < MinChunkBytes || chunkBytes > MaxChunkBytes {
		return nil, fmt.Errorf("export: a chunk size of %d to %d bytes, not %d", MinChunkBytes, MaxChunkBytes, chunkBytes)
	}
	if !s.exportHold.CompareAndSwap(0, v) {
		return nil, ErrExportBusy
	}
	defer s.exportHold.Store(0)
	s.tmu.RLock()
	ok := v > 0 && v >= s.first.Load() && s.tree.VersionExists(v)
	s.tmu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("export: %w: %d", ErrNoVersion, v)
	}
	// A tree of its own over the same database: its nodes are not the
	// working tree's, which copy-on-write changes in place.
	own := iavl.NewMutableTree(s.db, 10_000, true, iavl.NewNopLogger())
	defer func() { _ = own.Close() }() // (it leaves the database open)
	im, err := own.GetImmutable(v)
	if err != nil {
		return nil, fmt.Errorf("export: load version %d: %w", v, err)
	}
	exp, err := im.Export()
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	defer exp.Close()
	info := &ExportInfo{Version: v, Root: im.Hash()}
	check := &treeCheck{version: v}
	var chunk []byte
	flush := func() error {
		if len(info.Chunks) == MaxChunks {
			return fmt.Errorf("export: more than %d chunks", MaxChunks)
		}
		info.Chunks = append(info.Chunks, sha256.Sum256(chunk))
		err := emit(chunk)
		chunk = nil
		return err
	}
	var buf []byte
	for {
		n, err := exp.Next()
		if errors.Is(err, iavl.ErrorExportDone) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		if err := check.add(n); err != nil {
			return nil, fmt.Errorf("export of version %d: %w", v, err)
		}
		if buf, err = appendNode(buf[:0], n); err != nil {
			return nil, fmt.Errorf("export of version %d: %w", v, err)
		}
		if len(chunk) > 0 && len(chunk)+len(buf) > chunkBytes {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		chunk = append(chunk, buf...)
	}
	if len(chunk) > 0 {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	// IAVL's exporter stops silently at a node it cannot read: what was
	// written must rebuild the root.
	if root, err := check.root(); err != nil || !bytes.Equal(root, info.Root) {
		return nil, fmt.Errorf("export of version %d does not rebuild its root (%x): %w", v, info.Root, err)
	}
	return info, nil
}

// appendNode encodes one node (format 1).
func appendNode(b []byte, n *iavl.ExportNode) ([]byte, error) {
	leaf := n.Height == 0
	switch {
	case n.Height < 0 || n.Height > maxNodeHeight:
		return nil, fmt.Errorf("a node of height %d", n.Height)
	case len(n.Key) == 0 || len(n.Key) > MaxKeyBytes:
		return nil, fmt.Errorf("a key of %d bytes (1 to %d)", len(n.Key), MaxKeyBytes)
	case leaf && len(n.Value) > MaxChunkBytes-MaxKeyBytes-32:
		return nil, fmt.Errorf("a value of %d bytes", len(n.Value))
	}
	b = append(b, byte(n.Height))
	b = binary.AppendUvarint(b, uint64(n.Version)) //nolint:gosec // checked positive by treeCheck
	b = binary.AppendUvarint(b, uint64(len(n.Key)))
	b = append(b, n.Key...)
	if leaf {
		b = binary.AppendUvarint(b, uint64(len(n.Value)))
		b = append(b, n.Value...)
	}
	return b, nil
}

// chunkReader decodes a chunk one node at a time, so that an importer
// checks each node before it decodes the next: a chunk that lies is
// refused at its first bad node, and what the reader allocates is that
// node's (its key and value), never the whole chunk's worth of nodes.
type chunkReader struct {
	b          []byte
	maxVersion int64
	n          int // the nodes read
}

// newChunkReader reads a chunk of an export of version maxVersion.
func newChunkReader(b []byte, maxVersion int64) (*chunkReader, error) {
	if len(b) == 0 {
		return nil, errors.New("an empty chunk")
	}
	if len(b) > MaxChunkBytes {
		return nil, fmt.Errorf("a chunk of %d bytes (at most %d)", len(b), MaxChunkBytes)
	}
	return &chunkReader{b: b, maxVersion: maxVersion}, nil
}

// next decodes the next node; nil, nil at the chunk's end.
func (r *chunkReader) next() (*iavl.ExportNode, error) {
	b := r.b
	if len(b) == 0 {
		return nil, nil
	}
	h := b[0]
	b = b[1:]
	if h > maxNodeHeight {
		return nil, fmt.Errorf("node %d: height %d", r.n, h)
	}
	var version, klen uint64
	var err error
	if version, b, err = uvarint(b); err != nil {
		return nil, fmt.Errorf("node %d: version: %w", r.n, err)
	}
	if version < 1 || version > uint64(r.maxVersion) { //nolint:gosec // maxVersion is positive
		return nil, fmt.Errorf("node %d: version %d outside 1 to %d", r.n, version, r.maxVersion)
	}
	if klen, b, err = uvarint(b); err != nil {
		return nil, fmt.Errorf("node %d: key: %w", r.n, err)
	}
	if klen < 1 || klen > MaxKeyBytes || klen > uint64(len(b)) {
		return nil, fmt.Errorf("node %d: a key of %d bytes", r.n, klen)
	}
	n := &iavl.ExportNode{Height: int8(h), Version: int64(version), Key: bytes.Clone(b[:klen])} //nolint:gosec // bounded above
	b = b[klen:]
	if h == 0 {
		var vlen uint64
		if vlen, b, err = uvarint(b); err != nil {
			return nil, fmt.Errorf("node %d: value: %w", r.n, err)
		}
		if vlen > uint64(len(b)) {
			return nil, fmt.Errorf("node %d: a value of %d bytes in %d", r.n, vlen, len(b))
		}
		n.Value = append(make([]byte, 0, vlen), b[:vlen]...)
		b = b[vlen:]
	}
	r.b = b
	r.n++
	return n, nil
}

// uvarint reads an unsigned varint in its shortest form.
func uvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, errors.New("a truncated or overlong integer")
	}
	if n != len(binary.AppendUvarint(nil, v)) {
		return 0, nil, errors.New("an integer not in its shortest form")
	}
	return v, b[n:], nil
}

// treeCheck rebuilds the root hash of an IAVL tree from its nodes in
// export order, and checks the tree's shape as they come. The hash of a
// node is IAVL's (the ICS23 IavlSpec): SHA-256 over the zigzag varints of
// its height, size and version, then for a leaf the length-prefixed key
// and SHA-256 of the value, for an inner node its children's
// length-prefixed hashes.
type treeCheck struct {
	version int64 // the exported version: no node is newer
	stack   []subtree
	lastKey []byte // the last leaf's key
	nodes   int64
}

// subtree is a subtree built, waiting for its parent.
type subtree struct {
	height int8
	size   int64
	hash   []byte
	first  []byte // its first (smallest) key
}

func (c *treeCheck) add(n *iavl.ExportNode) error {
	if n.Version < 1 || n.Version > c.version {
		return fmt.Errorf("node %d: version %d outside 1 to %d", c.nodes, n.Version, c.version)
	}
	c.nodes++
	var hb []byte
	hb = binary.AppendVarint(hb, int64(n.Height))
	if n.Height == 0 {
		if c.lastKey != nil && bytes.Compare(n.Key, c.lastKey) <= 0 {
			return fmt.Errorf("node %d: leaf keys out of order", c.nodes-1)
		}
		if n.Value == nil {
			return fmt.Errorf("node %d: a leaf without a value", c.nodes-1)
		}
		c.lastKey = n.Key
		// The subtrees that wait for a parent are left children along one
		// path (and the last one built): one per level at most.
		if len(c.stack) > maxNodeHeight {
			return fmt.Errorf("node %d: more than %d subtrees waiting for a parent", c.nodes-1, maxNodeHeight+1)
		}
		hb = binary.AppendVarint(hb, 1)
		hb = binary.AppendVarint(hb, n.Version)
		hb = appendBytes(hb, n.Key)
		vh := sha256.Sum256(n.Value)
		hb = appendBytes(hb, vh[:])
		h := sha256.Sum256(hb)
		c.stack = append(c.stack, subtree{height: 0, size: 1, hash: h[:], first: n.Key})
		return nil
	}
	k := len(c.stack)
	if k < 2 {
		return fmt.Errorf("node %d: an inner node without two children", c.nodes-1)
	}
	left, right := c.stack[k-2], c.stack[k-1]
	if n.Height != max(left.height, right.height)+1 {
		return fmt.Errorf("node %d: height %d over children of heights %d and %d", c.nodes-1, n.Height, left.height, right.height)
	}
	if !bytes.Equal(n.Key, right.first) {
		return fmt.Errorf("node %d: an inner key that is not its right subtree's first", c.nodes-1)
	}
	size := left.size + right.size
	hb = binary.AppendVarint(hb, size)
	hb = binary.AppendVarint(hb, n.Version)
	hb = appendBytes(hb, left.hash)
	hb = appendBytes(hb, right.hash)
	h := sha256.Sum256(hb)
	c.stack = append(c.stack[:k-2], subtree{height: n.Height, size: size, hash: h[:], first: left.first})
	return nil
}

func appendBytes(b, v []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(v))), v...)
}

// root is the rebuilt root hash, once every node is in.
func (c *treeCheck) root() ([]byte, error) {
	if len(c.stack) != 1 {
		return nil, fmt.Errorf("%d subtrees where one tree should be", len(c.stack))
	}
	return c.stack[0].hash, nil
}

// Import restores an export into an empty store (BeginImport).
type Import struct {
	s      *Store
	info   ExportInfo
	imp    *iavl.Importer
	check  *treeCheck
	next   uint32 // the index of the next chunk
	done   bool
	closed bool
}

// BeginImport starts restoring the export info describes into s, which
// must hold no version. Nothing is served from the import until its last
// chunk has come and the root it rebuilds is info.Root: then the version
// is committed and the latest-value index rebuilt. A failed or abandoned
// import leaves the store empty again (Abort).
func (s *Store) BeginImport(info ExportInfo) (*Import, error) {
	switch {
	case info.Version < 1:
		return nil, fmt.Errorf("import: version %d", info.Version)
	case len(info.Chunks) < 1 || len(info.Chunks) > MaxChunks:
		return nil, fmt.Errorf("import: %d chunks (1 to %d)", len(info.Chunks), MaxChunks)
	case len(info.Root) != sha256.Size:
		return nil, fmt.Errorf("import: a root of %d bytes", len(info.Root))
	}
	s.tmu.Lock()
	defer s.tmu.Unlock()
	if s.tree.Version() != 0 || !s.tree.IsEmpty() {
		return nil, fmt.Errorf("import: %w (version %d)", ErrNotEmpty, s.tree.Version())
	}
	if err := writeMark(importMark(s.index.path)); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	imp, err := s.tree.Import(info.Version)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	return &Import{s: s, info: info, imp: imp, check: &treeCheck{version: info.Version}}, nil
}

// Next is the index of the chunk the import waits for.
func (im *Import) Next() uint32 { return im.next }

// Done reports whether the import is committed.
func (im *Import) Done() bool { return im.done }

// Add adds chunk index. A chunk that is not the next (ErrChunkOrder) or
// not the one listed (ErrChunkHash) is refused and the import waits for
// it still, as after ErrChunkTooLarge; any other error ends the import (the store is empty again).
// The last chunk commits the version.
func (im *Import) Add(index uint32, chunk []byte) error {
	switch {
	case im.closed:
		return fmt.Errorf("import: %w", iavl.ErrNoImport)
	case index != im.next:
		return fmt.Errorf("import: %w: chunk %d where %d is next", ErrChunkOrder, index, im.next)
	case len(chunk) > MaxChunkBytes:
		return fmt.Errorf("import: %w: chunk %d of %d bytes", ErrChunkTooLarge, index, len(chunk))
	case sha256.Sum256(chunk) != im.info.Chunks[index]:
		return fmt.Errorf("import: %w: chunk %d", ErrChunkHash, index)
	}
	// The hash above is checked before anything is decoded: a chunk that
	// its sender altered costs one SHA-256. A chunk that matches a lying
	// snapshot's list is decoded a node at a time, each checked and
	// handed to the tree before the next is read.
	if err := im.addNodes(chunk); err != nil {
		return im.fail(fmt.Errorf("import: %w: chunk %d: %w", ErrBadExport, index, err))
	}
	im.next++
	if int(im.next) < len(im.info.Chunks) {
		return nil
	}
	return im.commit()
}

// addNodes checks and imports the nodes of chunk, one at a time.
func (im *Import) addNodes(chunk []byte) error {
	r, err := newChunkReader(chunk, im.info.Version)
	if err != nil {
		return err
	}
	for {
		n, err := r.next()
		if err != nil || n == nil {
			return err
		}
		if err := im.check.add(n); err != nil {
			return err
		}
		if err := im.imp.Add(n); err != nil {
			return err
		}
	}
}

// commit checks the rebuilt root, commits the version and rebuilds the
// latest-value index.
func (im *Import) commit() error {
	root, err := im.check.root()
	if err == nil && !bytes.Equal(root, im.info.Root) {
		err = fmt.Errorf("its root is %x, not %x", root, im.info.Root)
	}
	if err != nil {
		return im.fail(fmt.Errorf("import: %w: %w", ErrBadExport, err))
	}
	s := im.s
	s.tmu.Lock()
	err = im.imp.Commit()
	if err == nil && !bytes.Equal(s.tree.Hash(), im.info.Root) {
		err = fmt.Errorf("the committed root is %x, not %x", s.tree.Hash(), im.info.Root)
	}
	s.tmu.Unlock()
	im.closed = true
	if err != nil {
		return fmt.Errorf("import: commit: %w", err) // a broken invariant: the mark stays
	}
	if err := s.refresh(); err != nil {
		return err
	}
	s.first.Store(s.firstVersion())
	latest := s.Latest().t
	ix := s.index
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.dropViews()
	if err := errors.Join(ix.db.Close(), ix.rebuild(latest, marker(latest.Version(), latest.Hash()))); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	ix.damaged.Store(false)
	if err := ix.answer(latest.Version()); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	if err := os.Remove(importMark(ix.path)); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	im.done = true
	return nil
}

func (im *Import) fail(err error) error {
	return errors.Join(err, im.Abort())
}

// Abort ends an import that is not committed and empties the store of
// what it wrote; it does nothing after the commit.
func (im *Import) Abort() error {
	if im.closed {
		return nil
	}
	im.closed = true
	im.imp.Close()
	s := im.s
	s.tmu.Lock()
	defer s.tmu.Unlock()
	if err := clearDB(s.db); err != nil {
		return fmt.Errorf("abort import: %w", err)
	}
	return os.Remove(importMark(s.index.path))
}

// importMark is the file, next to the index, that says an import is under
// way: a store opened with it left (the process stopped during an import)
// holds the nodes of an import that never committed, and is emptied.
func importMark(indexPath string) string {
	return filepath.Join(filepath.Dir(indexPath), "import.unfinished")
}

// dropUnfinishedImport empties the state database in dir if an import
// into it never committed (the process stopped during it).
func dropUnfinishedImport(dir string, db *idb.GoLevelDB) error {
	mark := importMark(filepath.Join(dir, "latest.db"))
	if _, err := os.Stat(mark); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := clearDB(db); err != nil {
		return fmt.Errorf("drop an unfinished import: %w", err)
	}
	return os.Remove(mark)
}

// clearDB deletes every key of db.
func clearDB(db *idb.GoLevelDB) error {
	for {
		it, err := db.Iterator(nil, nil)
		if err != nil {
			return err
		}
		batch := db.NewBatch()
		n := 0
		for ; it.Valid() && n < 10_000; it.Next() {
			if err := batch.Delete(bytes.Clone(it.Key())); err != nil {
				return errors.Join(err, it.Close(), batch.Close())
			}
			n++
		}
		err = errors.Join(it.Error(), it.Close())
		if err == nil && n > 0 {
			err = batch.WriteSync()
		}
		if err = errors.Join(err, batch.Close()); err != nil || n == 0 {
			return err
		}
	}
}

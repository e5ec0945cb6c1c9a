package state

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/syndtr/goleveldb/leveldb"
)

// indexKeys is the number of keys the damage tests write: a few dozen
// blocks of the index's table, so that a damaged block spares others.
const indexKeys = 3000

// filled opens a store in dir with three versions of indexKeys keys (one
// deleted in the last) and closes it; it returns the last version.
func filled(t *testing.T, dir string) int64 {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var v int64
	for round := 1; round <= 3; round++ {
		for i := range indexKeys {
			if err := s.Set(fmt.Appendf(nil, "k%05d", i), fmt.Appendf(nil, "value %d of key %d, padded to some length", round, i)); err != nil {
				t.Fatal(err)
			}
		}
		if round == 3 {
			if err := s.Delete([]byte("k00007")); err != nil {
				t.Fatal(err)
			}
		}
		if _, v, err = s.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Opened again, leveldb writes its journal out to a table: the
	// index's values are then in an .ldb file.
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return v
}

// logs is a logger for a test that keeps what it logs.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) logger(t *testing.T) Option {
	return WithLogger(slog.New(slog.NewTextHandler(io.MultiWriter(t.Output(), l), nil)))
}

// has fails t unless msg was logged.
func (l *logs) has(t *testing.T, msg string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !strings.Contains(l.buf.String(), msg) {
		t.Errorf("not logged: %q", msg)
	}
}

// indexFile returns the one file of the index that matches pattern.
func indexFile(t *testing.T, dir, pattern string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "latest.db", pattern))
	if err != nil || len(m) != 1 {
		t.Fatalf("index files %s: %v (%v)", pattern, m, err)
	}
	return m[0]
}

// garble flips the bytes of f in [from, to) (to < 0 counts from the end),
// in place: a process that has the file open reads the damage.
func garble(t *testing.T, f string, from, to int64) {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if to < 0 {
		to += int64(len(b))
	}
	for i := from; i < to; i++ {
		b[i] ^= 0x5a
	}
	fh, err := os.OpenFile(f, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
}

// agrees checks that every key of the latest version reads, without an
// error, what the tree holds.
func agrees(t *testing.T, s *Store, version int64) {
	t.Helper()
	latest := s.Latest()
	if latest.Version() != version {
		t.Fatalf("state at %d, want %d", latest.Version(), version)
	}
	tree, err := s.At(version) // a past-version snapshot reads the tree only
	if err != nil {
		t.Fatal(err)
	}
	for i := range indexKeys + 1 {
		k := fmt.Appendf(nil, "k%05d", i)
		got, err := latest.Get(k)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		want, err := tree.Get(k)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s reads %q; the tree holds %q", k, got, want)
		}
	}
	if got, _ := latest.Get([]byte("extra")); got != nil {
		t.Fatalf("a key the tree lacks reads %q", got)
	}
}

// TestDamagedIndexRebuilt (finding 16): an index damaged between runs
// (its files truncated or garbled, its manifest lost, wrong values
// written into it) is found at open and rebuilt from the tree; every read
// then answers the tree's values, never an error.
func TestDamagedIndexRebuilt(t *testing.T) {
	damages := []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"truncated-table", func(t *testing.T, dir string) {
			if err := os.Truncate(indexFile(t, dir, "*.ldb"), 1000); err != nil {
				t.Fatal(err)
			}
		}},
		{"garbled-table", func(t *testing.T, dir string) {
			garble(t, indexFile(t, dir, "*.ldb"), 10_000, 20_000)
		}},
		{"truncated-manifest", func(t *testing.T, dir string) {
			if err := os.Truncate(indexFile(t, dir, "MANIFEST-*"), 10); err != nil {
				t.Fatal(err)
			}
		}},
		{"missing-current", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "latest.db", "CURRENT")); err != nil {
				t.Fatal(err)
			}
		}},
		{"missing-table", func(t *testing.T, dir string) {
			if err := os.Remove(indexFile(t, dir, "*.ldb")); err != nil {
				t.Fatal(err)
			}
		}},
		{"removed", func(t *testing.T, dir string) {
			if err := os.RemoveAll(filepath.Join(dir, "latest.db")); err != nil {
				t.Fatal(err)
			}
		}},
		{"wrong-values", func(t *testing.T, dir string) {
			// Well-formed leveldb, wrong content: a changed value, a
			// lost key, a key the tree lacks; the version it names is
			// untouched.
			db, err := leveldb.OpenFile(filepath.Join(dir, "latest.db"), nil)
			if err != nil {
				t.Fatal(err)
			}
			b := new(leveldb.Batch)
			b.Put([]byte("k01234"), []byte("wrong"))
			b.Delete([]byte("k02345"))
			b.Put([]byte("extra"), []byte("not in the tree"))
			if err := db.Write(b, nil); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			dir := t.TempDir()
			v := filled(t, dir)
			d.damage(t, dir)
			var l logs
			s, err := Open(dir, l.logger(t))
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer func() {
				if err := s.Close(); err != nil {
					t.Error(err)
				}
			}()
			agrees(t, s, v)
			l.has(t, "rebuilding the latest-value index from the tree")
		})
	}
}

// TestDamagedIndexFallsBack (finding 16): an index damaged under a
// running store (a table garbled on disk) fails its reads; they fall back
// to the tree, never an error, and the next open rebuilds the index (the
// version it names is still the tree's, so only the mark of the failed
// read tells).
func TestDamagedIndexFallsBack(t *testing.T) {
	dir := t.TempDir()
	v := filled(t, dir)
	var l logs
	s, err := Open(dir, l.logger(t))
	if err != nil {
		t.Fatal(err)
	}
	// The middle of the table: data blocks, not its index or footer.
	garble(t, indexFile(t, dir, "*.ldb"), 20_000, 60_000)
	agrees(t, s, v)
	l.has(t, "latest-value index damaged")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(dir, l.logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	agrees(t, s, v)
	l.has(t, "a read or write of it failed")
	if s.index.version.Load() != v {
		t.Errorf("the rebuilt index is not in use (at %d, state at %d)", s.index.version.Load(), v)
	}
}

// TestIndexCheckSamplesLargeState: above fullCheck keys, Open compares
// random windows of the index with the tree; a sound index passes, one
// with every value wrong is rebuilt.
func TestIndexCheckSamplesLargeState(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2 * fullCheck
	for i := range n {
		if err := s.Set(fmt.Appendf(nil, "k%05d", i), []byte("right")); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var sound logs
	s, err = Open(dir, sound.logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sound.buf.String(), "rebuilding") {
		t.Error("a sound index was rebuilt")
	}
	b := new(leveldb.Batch)
	for i := range n {
		b.Put(fmt.Appendf(nil, "k%05d", i), []byte("wrong"))
	}
	if err := s.index.db.Write(b, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var l logs
	s, err = Open(dir, l.logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	l.has(t, "it differs from the tree")
	if v, err := s.Latest().Get([]byte("k00042")); err != nil || string(v) != "right" {
		t.Fatalf("reads %q (%v)", v, err)
	}
}

// TestIndexWriteFailureTakesItOutOfUse: a commit whose index write fails
// goes on (the tree has the block); reads use the tree, and the index is
// marked for rebuild.
func TestIndexWriteFailureTakesItOutOfUse(t *testing.T) {
	dir := t.TempDir()
	var l logs
	s, err := Open(dir, l.logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.index.db.Close(); err != nil { // every write fails from now on
		t.Fatal(err)
	}
	if err := s.Set([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Commit(); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if v, err := s.Latest().Get([]byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("reads %q (%v)", v, err)
	}
	l.has(t, "latest-value index damaged")
	if _, err := os.Stat(damageMark(s.index.path)); err != nil {
		t.Errorf("no mark for rebuild: %v", err)
	}
	_ = s.Close() // the index is closed already
	s, err = Open(dir, l.logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	if v, ok := s.index.get([]byte("k"), 1); !ok || string(v) != "v" {
		t.Fatalf("rebuilt index reads %q (%v)", v, ok)
	}
}

// reopen closes s and opens the store in dir again.
func reopen(t *testing.T, s *Store, dir string, opts ...Option) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

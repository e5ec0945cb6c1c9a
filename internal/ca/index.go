package ca

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"
)

// MaxIndexLine bounds a line of the index file.
const MaxIndexLine = 4096

// Issued is what the CA remembers of a certificate it issued, until it
// expires: enough to revoke it when its device or key changes.
type Issued struct {
	Serial   string `json:"serial"` // hex, lowercase
	DID      string `json:"did"`
	KeyID    string `json:"kid"` // the fragment of the certified key
	Alg      int64  `json:"alg"`
	Pub      []byte `json:"pub"` // the key's canonical bytes (op.Key.Pub)
	NotAfter int64  `json:"notAfter"`
	// Aliases are the legacy identifiers the certificate names (URI
	// SANs): it stands only while the device holds each of them.
	Aliases []string `json:"aliases,omitempty"`
	// Revoked is the Unix time of its revocation (0: not revoked), with
	// its CRL reason code.
	Revoked int64 `json:"revoked,omitempty"`
	Reason  int   `json:"reason,omitempty"`
}

// logEntry is a line of the index file: an issuance or a revocation.
type logEntry struct {
	Issue  *Issued `json:"issue,omitempty"`
	Revoke *struct {
		Serial string `json:"serial"`
		At     int64  `json:"at"`
		Reason int    `json:"reason"`
	} `json:"revoke,omitempty"`
}

// Index is the CA's record of its unexpired certificates, in memory and
// in an append-only file (each line synced before the certificate or the
// revocation is acknowledged), compacted when opened. Safe for concurrent
// use.
type Index struct {
	mu      sync.Mutex
	f       *os.File
	written uint64 // lines appended
	// syncMu serialises syncs; synced is the count of lines on disk: one
	// sync covers every line written before it (group commit).
	syncMu sync.Mutex
	synced uint64
	certs  map[string]*Issued   // by serial
	byDID  map[string][]*Issued // by DID
}

// OpenIndex reads the index file at path (a missing one is empty), drops
// certificates expired at now, rewrites it compacted and opens it for
// appending.
func OpenIndex(path string, now time.Time) (*Index, error) {
	x := &Index{certs: map[string]*Issued{}, byDID: map[string][]*Issued{}}
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, MaxIndexLine), MaxIndexLine)
	for line := 1; sc.Scan(); line++ {
		var e logEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// A torn last line (a crash while appending) was never
			// acknowledged; anything else is damage.
			if !sc.Scan() {
				break
			}
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		switch {
		case e.Issue != nil:
			c := *e.Issue
			x.add(&c)
		case e.Revoke != nil:
			if c := x.certs[e.Revoke.Serial]; c != nil && c.Revoked == 0 {
				c.Revoked, c.Reason = e.Revoke.At, e.Revoke.Reason
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	x.prune(now.Unix())
	var out bytes.Buffer
	for _, c := range x.sorted() {
		line, err := json.Marshal(logEntry{Issue: c})
		if err != nil {
			return nil, err
		}
		out.Write(append(line, '\n'))
	}
	if err := writeFileAtomic(path, out.Bytes(), 0o600); err != nil {
		return nil, err
	}
	if x.f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, err
	}
	return x, nil
}

// Close closes the file.
func (x *Index) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.f.Close()
}

func (x *Index) add(c *Issued) {
	x.certs[c.Serial] = c
	x.byDID[c.DID] = append(x.byDID[c.DID], c)
}

func (x *Index) prune(now int64) {
	for s, c := range x.certs {
		if c.NotAfter < now {
			delete(x.certs, s)
		}
	}
	for d, cs := range x.byDID {
		cs = slices.DeleteFunc(cs, func(c *Issued) bool { return c.NotAfter < now })
		if len(cs) == 0 {
			delete(x.byDID, d)
		} else {
			x.byDID[d] = cs
		}
	}
}

func (x *Index) sorted() []*Issued {
	out := make([]*Issued, 0, len(x.certs))
	for _, c := range x.certs {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *Issued) int { return compareStrings(a.Serial, b.Serial) })
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// appendLine writes a line (x.mu held) and returns its number, to wait
// for with syncTo.
func (x *Index) appendLine(e logEntry) (uint64, error) {
	line, err := json.Marshal(e)
	if err != nil {
		return 0, err
	}
	if _, err := x.f.Write(append(line, '\n')); err != nil {
		return 0, err
	}
	x.written++
	return x.written, nil
}

// syncTo returns once line n is on disk: a sync of every line written
// so far, unless a sync since covered it.
func (x *Index) syncTo(n uint64) error {
	x.syncMu.Lock()
	defer x.syncMu.Unlock()
	if x.synced >= n {
		return nil
	}
	x.mu.Lock()
	target := x.written
	x.mu.Unlock()
	if err := x.f.Sync(); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	x.synced = target
	return nil
}

// Add records an issued certificate and returns once it is on disk.
func (x *Index) Add(c Issued) error {
	x.mu.Lock()
	n, err := x.appendLine(logEntry{Issue: &c})
	if err == nil {
		x.add(&c)
	}
	x.mu.Unlock()
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	return x.syncTo(n)
}

// Revoke records the revocation of a certificate at at (Unix seconds)
// and reports whether it was not revoked before.
func (x *Index) Revoke(serial string, at int64, reason int) (bool, error) {
	x.mu.Lock()
	c := x.certs[serial]
	if c == nil || c.Revoked != 0 {
		x.mu.Unlock()
		return false, nil
	}
	e := logEntry{Revoke: &struct {
		Serial string `json:"serial"`
		At     int64  `json:"at"`
		Reason int    `json:"reason"`
	}{serial, at, reason}}
	n, err := x.appendLine(e)
	if err == nil {
		c.Revoked, c.Reason = at, reason
	}
	x.mu.Unlock()
	if err != nil {
		return false, fmt.Errorf("index: %w", err)
	}
	return true, x.syncTo(n)
}

// Get returns the certificate of serial, or false.
func (x *Index) Get(serial string) (Issued, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	c := x.certs[serial]
	if c == nil {
		return Issued{}, false
	}
	return *c, true
}

// Live returns the certificates of a DID unrevoked and unexpired at now
// (Unix seconds).
func (x *Index) Live(did string, now int64) []Issued {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []Issued
	for _, c := range x.byDID[did] {
		if c.Revoked == 0 && c.NotAfter > now {
			out = append(out, *c)
		}
	}
	return out
}

// DIDs returns the DIDs that hold unrevoked certificates, sorted.
func (x *Index) DIDs() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []string
	for d, cs := range x.byDID {
		if slices.ContainsFunc(cs, func(c *Issued) bool { return c.Revoked == 0 }) {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out
}

// RevokedUnexpired returns the revoked certificates unexpired at now,
// by serial (a CRL's entries), and drops the expired ones from memory.
func (x *Index) RevokedUnexpired(now int64) []Issued {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.prune(now)
	var out []Issued
	for _, c := range x.sorted() {
		if c.Revoked != 0 {
			out = append(out, *c)
		}
	}
	return out
}

// Len is the number of unexpired certificates held.
func (x *Index) Len() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.certs)
}

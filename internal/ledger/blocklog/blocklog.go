// Package blocklog keeps what a ledger engine committed, for its Header,
// Status and Watch: the header and block of each height (with the
// engine's own extra data), the latest in memory and, when the engine
// gives it a Store, every kept one in the store; it wakes the watchers at
// each new block. memledger keeps everything in memory; evmledger keeps
// a window of the latest blocks in memory and the rest on disk.
//
// An engine writes a block durably (Persist) before it commits the
// application's state, and publishes it (Append) after, so that a crash
// leaves the store at most one block ahead of the state, never behind;
// Resume drops what is ahead on start.
//
//	log, err := blocklog.New[extra](store, 256)
//	err = log.Resume(info.Height)  // the application's committed height
//	err = log.Persist(e)           // then app.Commit, then:
//	log.Append(e)
//	blocks, err := log.Watch(ctx, 1)
package blocklog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/bias-iot/bias/internal/ledger"
)

// Store keeps encoded entries by height. Put is durable when it returns.
type Store interface {
	Put(height int64, entry []byte) error
	// Get returns nil when the height is not kept.
	Get(height int64) ([]byte, error)
	// DeleteRange deletes the heights from from to to, both included.
	DeleteRange(from, to int64) error
	// Bounds are the lowest and highest kept heights (0, 0: none).
	Bounds() (first, last int64, err error)
}

// Entry is one committed block as an engine keeps it.
type Entry[X any] struct {
	Header ledger.Header `json:"header"`
	Block  ledger.Block  `json:"block"`
	Extra  X             `json:"extra"`
}

// Log is the committed blocks of one engine. Its methods are safe for
// concurrent use; Persist and Append come from one goroutine, in height
// order.
type Log[X any] struct {
	store  Store // nil: memory only
	window int   // entries kept in memory; 0: all

	mu     sync.Mutex
	first  int64      // the lowest height readable
	next   int64      // the height of the next Append
	mem    []Entry[X] // the latest; mem[i] is height next-len(mem)+i
	tick   chan struct{}
	closed bool
}

// New is a log over store (nil: memory only, every block kept in
// memory) that keeps the latest window blocks in memory (0: all). It
// starts empty at height 1; an engine over an existing store calls
// Resume.
func New[X any](store Store, window int) *Log[X] {
	if store == nil {
		window = 0
	}
	return &Log[X]{store: store, window: max(window, 0), first: 1, next: 1, tick: make(chan struct{})}
}

// Resume makes the log follow an application that has committed height:
// it drops the stored entries above height (written before a crash that
// came before the application committed them) and, when the store does
// not reach height (it was lost or is new), every entry, so that the
// next block is height+1 and the entries kept are contiguous. It reads
// the latest into memory. It returns how many heights it dropped.
func (l *Log[X]) Resume(height int64) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mem, l.first, l.next = nil, height+1, height+1
	if l.store == nil {
		return 0, nil
	}
	first, last, err := l.store.Bounds()
	if err != nil || last == 0 {
		return 0, err
	}
	var dropped int64
	switch {
	case last < height: // a gap: nothing kept can be served
		dropped = last - first + 1
		err = l.store.DeleteRange(first, last)
		last = 0
	case last > height:
		dropped = last - max(height+1, first) + 1
		err = l.store.DeleteRange(max(height+1, first), last)
		last = height
	}
	if err != nil {
		return 0, fmt.Errorf("blocklog: drop: %w", err)
	}
	if last == 0 || last < first {
		return dropped, nil
	}
	l.first = first
	from := first
	if l.window > 0 {
		from = max(first, last-int64(l.window)+1)
	}
	for h := from; h <= last; h++ {
		e, err := l.load(h)
		if err != nil {
			return 0, err
		}
		l.mem = append(l.mem, e)
	}
	return dropped, nil
}

// Persist writes e, the next block, to the store (a no-op without one).
func (l *Log[X]) Persist(e Entry[X]) error {
	l.mu.Lock()
	next := l.next
	l.mu.Unlock()
	if e.Header.Height != next || e.Block.Height != next {
		return fmt.Errorf("blocklog: block %d where %d is next", e.Block.Height, next)
	}
	if l.store == nil {
		return nil
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("blocklog: encode block %d: %w", next, err)
	}
	if err := l.store.Put(next, data); err != nil {
		return fmt.Errorf("blocklog: write block %d: %w", next, err)
	}
	return nil
}

// Append publishes e, the next block: Header, Get and the watchers see
// it from now on (a no-op once the log closed).
func (l *Log[X]) Append(e Entry[X]) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.mem = append(l.mem, e)
	if l.window > 0 && len(l.mem) > l.window {
		n := len(l.mem) - l.window
		clear(l.mem[:n]) // let the dropped entries go
		l.mem = l.mem[n:]
	}
	l.next++
	close(l.tick)
	l.tick = make(chan struct{})
}

// Prune drops the blocks below height (retention): Header and Get of
// them are ledger.ErrNotFound from then on, and so is a Watch from
// below.
func (l *Log[X]) Prune(height int64) error {
	l.mu.Lock()
	height = min(height, l.next-1) // the last block stays
	from := l.first
	if height <= from {
		l.mu.Unlock()
		return nil
	}
	l.first = height
	if drop := height - (l.next - int64(len(l.mem))); drop > 0 {
		clear(l.mem[:drop])
		l.mem = l.mem[drop:]
	}
	l.mu.Unlock()
	if l.store == nil {
		return nil
	}
	if err := l.store.DeleteRange(from, height-1); err != nil {
		return fmt.Errorf("blocklog: prune below %d: %w", height, err)
	}
	return nil
}

// Height is the last published height (0: none).
func (l *Log[X]) Height() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next - 1
}

// First is the lowest height that Get can return.
func (l *Log[X]) First() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.first
}

// InMemory is how many entries the log holds in memory.
func (l *Log[X]) InMemory() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.mem)
}

// Last is the last published entry; false when there is none.
func (l *Log[X]) Last() (Entry[X], bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.mem) == 0 {
		return Entry[X]{}, false
	}
	return l.mem[len(l.mem)-1], true
}

// Get returns the entry of height: ledger.ErrNotFound when it is not
// published or not kept, ledger.ErrClosed once the log closed.
func (l *Log[X]) Get(height int64) (Entry[X], error) {
	l.mu.Lock()
	closed, first, next, base := l.closed, l.first, l.next, l.next-int64(len(l.mem))
	var e Entry[X]
	if height >= base && height < next {
		e = l.mem[height-base]
	}
	l.mu.Unlock()
	switch {
	case closed:
		return Entry[X]{}, ledger.ErrClosed
	case height < first || height >= next:
		return Entry[X]{}, fmt.Errorf("%w: block %d", ledger.ErrNotFound, height)
	case height >= base:
		return e, nil
	}
	return l.load(height)
}

// load reads height from the store.
func (l *Log[X]) load(height int64) (Entry[X], error) {
	data, err := l.store.Get(height)
	if err != nil {
		return Entry[X]{}, fmt.Errorf("blocklog: read block %d: %w", height, err)
	}
	if data == nil { // pruned meanwhile
		return Entry[X]{}, fmt.Errorf("%w: block %d", ledger.ErrNotFound, height)
	}
	var e Entry[X]
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Entry[X]{}, fmt.Errorf("blocklog: decode block %d: %w", height, err)
	}
	if e.Block.Height != height || e.Header.Height != height {
		return Entry[X]{}, fmt.Errorf("blocklog: the store's block %d says height %d", height, e.Block.Height)
	}
	return e, nil
}

// Header returns the header of height, its AppHash a copy.
func (l *Log[X]) Header(height int64) (*ledger.Header, error) {
	e, err := l.Get(height)
	if err != nil {
		return nil, err
	}
	h := e.Header
	h.AppHash = bytes.Clone(h.AppHash)
	return &h, nil
}

// Close ends every Watch; Get is ledger.ErrClosed from then on.
func (l *Log[X]) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		close(l.tick)
	}
}

// Watch implements ledger.Watcher over the log: a from below the first
// kept block (after pruning, or a restart over a store that was lost) is
// ledger.ErrNotFound. The channel closes when ctx ends or the log
// closes, or when a block can no longer be read (pruned under a slow
// reader).
func (l *Log[X]) Watch(ctx context.Context, from int64) (<-chan ledger.Block, error) {
	from = max(from, 1)
	l.mu.Lock()
	closed, first := l.closed, l.first
	l.mu.Unlock()
	switch {
	case closed:
		return nil, ledger.ErrClosed
	case from < first:
		return nil, fmt.Errorf("%w: blocks below %d are not kept", ledger.ErrNotFound, first)
	}
	out := make(chan ledger.Block, 16)
	go func() {
		defer close(out)
		for h := from; ; h++ {
			e, ok := l.wait(ctx, h)
			if !ok {
				return
			}
			select {
			case out <- e.Block:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// wait returns the entry of height once it is published; false if ctx
// ended, the log closed, or the entry cannot be read.
func (l *Log[X]) wait(ctx context.Context, height int64) (Entry[X], bool) {
	for {
		l.mu.Lock()
		closed, tick, next := l.closed, l.tick, l.next
		l.mu.Unlock()
		if closed {
			return Entry[X]{}, false
		}
		if height < next {
			e, err := l.Get(height)
			return e, err == nil
		}
		select {
		case <-tick:
		case <-ctx.Done():
			return Entry[X]{}, false
		}
	}
}

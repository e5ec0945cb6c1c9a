package console

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bias-iot/bias/sdk"
)

// entry is what the console knows of an entity from its events.
type entry struct {
	DID     string
	Status  string
	Version uint64
	Op      string // the last operation
	Height  int64  // of the last operation
	Time    time.Time
}

// index is the provider's entities as their committed events tell them:
// the whole history once, then the live stream. It holds at most max
// entities (past that, new ones are counted but not listed).
type index struct {
	mu      sync.Mutex
	max     int
	m       map[string]*entry
	dropped int
	synced  bool  // the history is read
	height  int64 // of the last event applied
	last    string
	changed chan struct{} // closed at each event applied
	read    chan struct{} // closed once the history is read
}

func newIndex(maxEntries int) *index {
	return &index{max: maxEntries, m: map[string]*entry{}, changed: make(chan struct{}), read: make(chan struct{})}
}

// waitSynced waits until the history is read, or ctx ends: a list drawn
// right after the console starts is whole.
func (x *index) waitSynced(ctx context.Context) {
	select {
	case <-x.read:
	case <-ctx.Done():
	}
}

func (x *index) apply(e sdk.Event) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !after(e.ID, x.last) { // the history and the stream may overlap
		return
	}
	x.last, x.height = e.ID, e.Height
	close(x.changed)
	x.changed = make(chan struct{})
	en := x.m[e.DID]
	if en == nil {
		if len(x.m) >= x.max {
			x.dropped++
			return
		}
		en = &entry{DID: e.DID}
		x.m[e.DID] = en
	}
	en.Status, en.Version, en.Op, en.Height, en.Time = e.Status, e.Version, e.Op, e.Height, e.Time
}

// follow reads the provider's event history from the first block, then
// follows its live stream, until ctx ends; it starts again after the last
// event it applied when the node goes away.
func (x *index) follow(ctx context.Context, c *sdk.Client, provider string, log *slog.Logger) {
	for ctx.Err() == nil {
		// The stream replays only the node's recent blocks: it starts
		// after the height the node had before the history was read, and
		// what both deliver counts once.
		st, err := c.Status(ctx)
		if err == nil {
			err = x.catchUp(ctx, c, provider)
		}
		if err == nil {
			var evs <-chan sdk.Event
			x.mu.Lock()
			if !x.synced {
				x.synced = true
				close(x.read)
			}
			x.mu.Unlock()
			if evs, err = c.EventsAfter(ctx, "", st.Height+1, "", provider); err == nil {
				for e := range evs {
					x.apply(e)
				}
			}
		}
		if ctx.Err() != nil {
			return
		}
		log.Warn("console event follow interrupted", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

// waitHeight waits until the index has applied an event of block h or
// later, or ctx ends: a page drawn after an action shows it.
func (x *index) waitHeight(ctx context.Context, h int64) {
	for {
		x.mu.Lock()
		done, ch := x.height >= h, x.changed
		x.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
	}
}

// catchUp pages through the history after the last event applied.
func (x *index) catchUp(ctx context.Context, c *sdk.Client, provider string) error {
	for {
		x.mu.Lock()
		after := x.last
		x.mu.Unlock()
		page, err := c.EventHistory(ctx, after, 1, 0, "", provider)
		if err != nil {
			return err
		}
		for _, e := range page.Events {
			x.apply(e)
		}
		if page.Next == "" || len(page.Events) == 0 {
			return nil
		}
	}
}

// list is the entities of status ("" for all), the last changed first, at
// most n, with how many matched.
func (x *index) list(ctx context.Context, status string, n int) (rows []entry, matched int, synced bool, dropped int) {
	wait, cancel := context.WithTimeout(ctx, syncWait)
	x.waitSynced(wait)
	cancel()
	x.mu.Lock()
	for _, e := range x.m {
		if status == "" || e.Status == status {
			rows = append(rows, *e)
		}
	}
	synced, dropped = x.synced, x.dropped
	x.mu.Unlock()
	slices.SortFunc(rows, func(a, b entry) int {
		return cmp.Or(cmp.Compare(b.Height, a.Height), cmp.Compare(a.DID, b.DID))
	})
	matched = len(rows)
	if len(rows) > n {
		rows = rows[:n]
	}
	return rows, matched, synced, dropped
}

// syncWait bounds how long a list waits for the history to be read (past
// it, the page says the list is still filling).
const syncWait = 5 * time.Second

// counts is the number of entities in each status.
func (x *index) counts(ctx context.Context) map[string]int {
	wait, cancel := context.WithTimeout(ctx, syncWait)
	x.waitSynced(wait)
	cancel()
	x.mu.Lock()
	defer x.mu.Unlock()
	out := map[string]int{}
	for _, e := range x.m {
		out[e.Status]++
	}
	return out
}

// after reports whether the event id a ("height.tx.event") comes after b
// ("" comes before every id); an id that does not parse comes after none.
func after(a, b string) bool {
	pa, ok := position(a)
	if !ok {
		return false
	}
	pb, ok := position(b)
	if !ok {
		return b == ""
	}
	return slices.Compare(pa[:], pb[:]) > 0
}

func position(id string) ([3]int64, bool) {
	var p [3]int64
	parts := strings.Split(id, ".")
	if len(parts) != 3 {
		return p, false
	}
	for i, s := range parts {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return p, false
		}
		p[i] = n
	}
	return p, true
}

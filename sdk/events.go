package sdk

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/record"
)

// Event is a committed change of an entity (GET /v1/events), with its
// position in the stream.
type Event struct {
	ID string `json:"id"` // height.tx.event: resume after it
	record.EntityEvent
}

// EventPage is a page of committed entity events (GET
// /v1/events/history); Next is the id to ask after for the next page, ""
// once at the head.
type EventPage struct {
	Events []Event `json:"events"`
	Next   string  `json:"next,omitempty"`
}

// EventHistory pages through committed entity events: after the event
// id after, or from height from when after is "", at most limit (0: the
// node's default of 100), optionally only those of did or provider.
func (c *Client) EventHistory(ctx context.Context, after string, from int64, limit int, didFilter, provider string) (*EventPage, error) {
	q := url.Values{}
	if after != "" {
		q.Set("after", after)
	} else if from > 0 {
		q.Set("from", strconv.FormatInt(from, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if didFilter != "" {
		q.Set("did", didFilter)
	}
	if provider != "" {
		q.Set("provider", provider)
	}
	var out EventPage
	return &out, c.do(ctx, http.MethodGet, "/v1/events/history?"+q.Encode(), "", nil, &out)
}

// Events streams committed entity events from height from (0: from the
// next block), optionally only those of did or provider, until ctx ends.
func (c *Client) Events(ctx context.Context, from int64, didFilter, provider string) (<-chan Event, error) {
	if from <= 0 {
		st, err := c.Status(ctx)
		if err != nil {
			return nil, err
		}
		from = st.Height + 1
	}
	return c.EventsAfter(ctx, "", from, didFilter, provider)
}

// EventsAfter streams committed entity events after the event lastID (as
// a reconnecting client does), or from height from when lastID is "".
func (c *Client) EventsAfter(ctx context.Context, lastID string, from int64, didFilter, provider string) (<-chan Event, error) {
	q := url.Values{}
	if from > 0 {
		q.Set("from", strconv.FormatInt(from, 10))
	}
	if didFilter != "" {
		q.Set("did", didFilter)
	}
	if provider != "" {
		q.Set("provider", provider)
	}
	return streamOf(ctx, c, "/v1/events?"+q.Encode(), lastID, func(id, data string) (Event, error) {
		ev := Event{ID: id}
		return ev, json.Unmarshal([]byte(data), &ev.EntityEvent)
	})
}

// DecisionEvent is one of a node's authentication decisions.
type DecisionEvent struct {
	ID       string // a sequence number: resume after it
	Decision authn.Decision
}

// Decisions streams a node's authentication decisions about did (device
// or service; "" for all), after the event lastID ("" for new ones only).
func (c *Client) Decisions(ctx context.Context, didFilter, lastID string) (<-chan DecisionEvent, error) {
	q := url.Values{}
	if didFilter != "" {
		q.Set("did", didFilter)
	}
	return streamOf(ctx, c, "/v1/authn/events?"+q.Encode(), lastID, func(id, data string) (DecisionEvent, error) {
		ev := DecisionEvent{ID: id}
		return ev, json.Unmarshal([]byte(data), &ev.Decision)
	})
}

// streamOf delivers a stream's events, decoded, on a channel that closes
// when the stream or ctx ends, or at an event that does not decode (the
// stream is not what the client expects: better stop than deliver a blank).
func streamOf[T any](ctx context.Context, c *Client, path, lastID string, decode func(id, data string) (T, error)) (<-chan T, error) {
	return streamOfHooks(ctx, c, path, lastID, streamHooks{}, decode)
}

// streamOfHooks is streamOf with liveness hooks.
func streamOfHooks[T any](ctx context.Context, c *Client, path, lastID string, hooks streamHooks, decode func(id, data string) (T, error)) (<-chan T, error) {
	out := make(chan T, 64)
	err := c.stream(ctx, path, lastID, hooks, func(id, data string) bool {
		ev, err := decode(id, data)
		if err != nil {
			return false
		}
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}, func() { close(out) })
	return out, err
}

// stream opens a server-sent event stream and calls each with every
// event's id and data, on its own goroutine, until the stream ends, ctx
// ends or each returns false; then done. With idle set, a stream that
// sends nothing (no event, no keep-alive) for idle is taken for dead and
// closed, and stalled reports it; heard is told of every line.
func (c *Client) stream(ctx context.Context, path, lastID string, s streamHooks, each func(id, data string) bool, done func()) error {
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+path, nil)
	if err != nil {
		cancel()
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	// A stream has no deadline: use a client without the API timeout.
	resp, err := (&http.Client{Transport: c.HTTP.Transport}).Do(req)
	if err != nil {
		cancel()
		return err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		cancel()
		return errorOf(resp.StatusCode, b)
	}
	var watchdog *time.Timer
	if s.idle > 0 {
		watchdog = time.AfterFunc(s.idle, func() {
			if s.stalled != nil {
				s.stalled()
			}
			cancel() // closes the body: the reader below ends
		})
	}
	go func() {
		defer cancel()
		defer resp.Body.Close()
		defer done()
		if watchdog != nil {
			defer watchdog.Stop()
		}
		sc := bufio.NewScanner(resp.Body)
		var id, data string
		for sc.Scan() {
			if watchdog != nil {
				watchdog.Reset(s.idle)
			}
			if s.heard != nil {
				s.heard()
			}
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				id = line[4:]
			case strings.HasPrefix(line, "data: "):
				data = line[6:]
			case line == "" && id != "":
				if !each(id, data) {
					return
				}
				id, data = "", ""
			}
		}
	}()
	return nil
}

// streamHooks watch a stream's liveness (the zero value: none).
type streamHooks struct {
	idle    time.Duration
	heard   func()
	stalled func()
}

// KeepAlive is how often a node sends a keep-alive comment on an idle
// event stream.
const KeepAlive = 15 * time.Second

// ErrStreamStalled is returned by CachedView.Run when its stream sent
// nothing, not even a keep-alive, for the view's StaleAfter.
var ErrStreamStalled = errors.New("the event stream sent nothing within its staleness bound")

// CachedView is an authn.View that keeps the entities it has read and
// drops one when the ledger's event stream says it changed (revoked,
// rotated, deactivated...): no timer, no stale grace period. It trusts its
// cache only while its stream is alive: a stream that sends nothing, not
// even the node's keep-alive (every KeepAlive), for StaleAfter is taken
// for dead (a half-open connection looks like a quiet one), and from then
// on, until Run follows a stream again, every read asks the node; Run
// returns ErrStreamStalled and OnStale is told. Until Run's stream is
// open it does not cache.
type CachedView struct {
	C *Client
	// StaleAfter bounds how long the cache is trusted without a word from
	// the stream (default 2.5 × KeepAlive).
	StaleAfter time.Duration
	// OnStale, when set, is called when the view stops trusting its
	// stream.
	OnStale func()

	mu      sync.Mutex
	m       map[string]*authn.Entity
	live    bool
	epoch   uint64    // bumped by each stream Run follows: a read begun under another is not cached
	heard   time.Time // when the stream last sent anything
	hits    int64
	misses  int64
	applied int64
}

// NewCachedView returns a cached view over c; call Run to follow events.
func NewCachedView(c *Client) *CachedView {
	return &CachedView{C: c, m: map[string]*authn.Entity{}}
}

func (v *CachedView) staleAfter() time.Duration {
	if v.StaleAfter > 0 {
		return v.StaleAfter
	}
	return KeepAlive * 5 / 2
}

// Run follows the event stream from the next block until ctx ends,
// dropping the entities that change; it returns when the stream ends
// (ErrStreamStalled when it went silent). Call it again to resume.
func (v *CachedView) Run(ctx context.Context) error {
	var stalled atomic.Bool
	hooks := streamHooks{idle: v.staleAfter(),
		heard: func() {
			v.mu.Lock()
			v.heard = time.Now()
			v.mu.Unlock()
		},
		stalled: func() {
			stalled.Store(true)
			v.mu.Lock()
			v.live, v.m = false, map[string]*authn.Entity{}
			v.mu.Unlock()
			if v.OnStale != nil {
				v.OnStale()
			}
		}}
	st, err := v.C.Status(ctx)
	if err != nil {
		return err
	}
	events, err := streamOfHooks(ctx, v.C, "/v1/events?from="+strconv.FormatInt(st.Height+1, 10), "", hooks, func(id, data string) (Event, error) {
		ev := Event{ID: id}
		return ev, json.Unmarshal([]byte(data), &ev.EntityEvent)
	})
	if err != nil {
		return err
	}
	v.mu.Lock()
	v.live, v.heard = true, time.Now()
	v.epoch++
	v.mu.Unlock()
	defer func() {
		v.mu.Lock()
		v.live, v.m = false, map[string]*authn.Entity{}
		v.mu.Unlock()
	}()
	for ev := range events {
		v.mu.Lock()
		delete(v.m, ev.DID)
		v.applied++
		v.mu.Unlock()
	}
	if stalled.Load() {
		return ErrStreamStalled
	}
	return ctx.Err()
}

// trusted reports whether the cache may answer now (v.mu held).
func (v *CachedView) trusted() bool {
	return v.live && time.Since(v.heard) <= v.staleAfter()
}

// Entity implements authn.View.
func (v *CachedView) Entity(ctx context.Context, id did.DID) (*authn.Entity, error) {
	key := id.Base().String()
	v.mu.Lock()
	if e, ok := v.m[key]; ok && v.trusted() {
		v.hits++
		v.mu.Unlock()
		return e, nil
	}
	v.misses++
	seen, epoch, live := v.applied, v.epoch, v.trusted()
	v.mu.Unlock()
	e, err := View{C: v.C}.Entity(ctx, id)
	if err != nil || e == nil || !live {
		return e, err
	}
	v.mu.Lock()
	// Cache what was read only if no event came while it was read (it
	// may be of this entity), and no other stream began: a count, not a
	// map of every DID that ever changed.
	if v.applied == seen && v.epoch == epoch && v.trusted() {
		v.m[key] = e
	}
	v.mu.Unlock()
	return e, nil
}

// Contract implements authn.View. Contracts are not cached: a change of
// an owner's binders must count at once.
func (v *CachedView) Contract(ctx context.Context, ref string) (*record.Contract, error) {
	return View{C: v.C}.Contract(ctx, ref)
}

// Stats reports cache hits, misses and events applied.
func (v *CachedView) Stats() (hits, misses, events int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.hits, v.misses, v.applied
}

package sdk

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

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
	out := make(chan T, 64)
	err := c.stream(ctx, path, lastID, func(id, data string) bool {
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
// ends or each returns false; then done.
func (c *Client) stream(ctx context.Context, path, lastID string, each func(id, data string) bool, done func()) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	// A stream has no deadline: use a client without the API timeout.
	resp, err := (&http.Client{Transport: c.HTTP.Transport}).Do(req)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return fmt.Errorf("%s: HTTP %d", path, resp.StatusCode)
	}
	go func() {
		defer resp.Body.Close()
		defer done()
		sc := bufio.NewScanner(resp.Body)
		var id, data string
		for sc.Scan() {
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

// CachedView is an authn.View that keeps the entities it has read and
// drops one when the ledger's event stream says it changed (revoked,
// rotated, deactivated...): no timer, no stale grace period. Until Run's
// stream is open it does not cache.
type CachedView struct {
	C *Client

	mu      sync.Mutex
	m       map[string]*authn.Entity
	gen     map[string]uint64 // bumped by each event of a DID
	live    bool
	hits    int64
	misses  int64
	applied int64
}

// NewCachedView returns a cached view over c; call Run to follow events.
func NewCachedView(c *Client) *CachedView {
	return &CachedView{C: c, m: map[string]*authn.Entity{}, gen: map[string]uint64{}}
}

// Run follows the event stream from the next block until ctx ends,
// dropping the entities that change; it returns when the stream ends.
func (v *CachedView) Run(ctx context.Context) error {
	events, err := v.C.Events(ctx, 0, "", "")
	if err != nil {
		return err
	}
	v.mu.Lock()
	v.live = true
	v.mu.Unlock()
	defer func() {
		v.mu.Lock()
		v.live, v.m = false, map[string]*authn.Entity{}
		v.mu.Unlock()
	}()
	for ev := range events {
		v.mu.Lock()
		delete(v.m, ev.DID)
		v.gen[ev.DID]++
		v.applied++
		v.mu.Unlock()
	}
	return ctx.Err()
}

// Entity implements authn.View.
func (v *CachedView) Entity(ctx context.Context, id did.DID) (*authn.Entity, error) {
	key := id.Base().String()
	v.mu.Lock()
	if e, ok := v.m[key]; ok && v.live {
		v.hits++
		v.mu.Unlock()
		return e, nil
	}
	v.misses++
	gen, live := v.gen[key], v.live
	v.mu.Unlock()
	e, err := View{C: v.C}.Entity(ctx, id)
	if err != nil || e == nil || !live {
		return e, err
	}
	v.mu.Lock()
	if v.gen[key] == gen && v.live { // no event came while we read
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

package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
	"github.com/bias-iot/bias/sdk"
)

// position is an event's place in the ledger: height, transaction,
// event; its text form "height.tx.event" is the event's id.
type position [3]int64

func (p position) String() string { return fmt.Sprintf("%d.%d.%d", p[0], p[1], p[2]) }

// after reports whether p comes after q.
func (p position) after(q position) bool {
	for i := range p {
		if p[i] != q[i] {
			return p[i] > q[i]
		}
	}
	return false
}

// endOfBlock is the tx index of a position after every event of its
// block (startAt's).
const endOfBlock = 1 << 62

// firstBlock is the first block that may hold an event after p: p's own,
// unless p is after all of its events.
func (p position) firstBlock() int64 {
	if p[1] == endOfBlock {
		return max(p[0]+1, 1)
	}
	return max(p[0], 1)
}

func parsePosition(id string) (position, error) {
	var p position
	parts := strings.Split(id, ".")
	if len(parts) != 3 {
		return p, rejection(op.ReasonInvalidField, "an event id is height.tx.event")
	}
	for i, s := range parts {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return p, rejection(op.ReasonInvalidField, "an event id is height.tx.event")
		}
		p[i] = n
	}
	return p, nil
}

// startAt is where a stream or a page of events starts: after the event
// id (a resuming client's), else from the height from, else from the
// height def.
func startAt(id, from string, def int64) (position, error) {
	if id != "" {
		return parsePosition(id)
	}
	h := def
	if from != "" {
		var err error
		if h, err = positive[int64](from, "from"); err != nil {
			return position{}, err
		}
	}
	return position{h - 1, endOfBlock, 0}, nil // after every event of block h-1
}

// eventFilter selects entity events by DID and provider ("" for any);
// gov adds governance events (by provider; none when a DID is named),
// entity keeps entity events.
type eventFilter struct {
	did, provider string
	entity, gov   bool
}

// streamFilter reads a stream's filter: ?did=, ?provider=, and ?types=
// (a comma-separated list of entity and gov; default entity).
func streamFilter(q url.Values) (eventFilter, error) {
	f := eventFilter{did: q.Get("did"), provider: q.Get("provider")}
	types := q.Get("types")
	if types == "" {
		types = "entity"
	}
	for _, t := range strings.Split(types, ",") {
		switch t {
		case "entity":
			f.entity = true
		case "gov":
			f.gov = true
		default:
			return f, rejection(op.ReasonInvalidField, "types is a comma-separated list of entity and gov")
		}
	}
	return f, nil
}

// streamEvents calls each with the events of block b after position
// from that the filter selects, in order (each operation's, then the
// block's own, at tx = the number of operations), as an SSE event name
// and its data, until each returns false.
func (s *Server) streamEvents(b ledger.Block, from position, f eventFilter, each func(pos position, name string, data any) bool) bool {
	if f.entity && !s.entityEvents(b, from, f, func(pos position, e record.EntityEvent) bool { return each(pos, "entity", e) }) {
		return false
	}
	if !f.gov || f.did != "" {
		return true
	}
	gov := func(pos position, ev ledger.Event) bool {
		if !pos.after(from) {
			return true
		}
		attrs := make([]record.Attr, len(ev.Attrs))
		for i, a := range ev.Attrs {
			attrs[i] = record.Attr{Key: a.Key, Value: a.Value}
		}
		e, ok := record.ParseGovEvent(b.Height, b.Time, ev.Type, attrs)
		if !ok || (f.provider != "" && !e.Has(f.provider)) {
			return true
		}
		return each(pos, "gov", e)
	}
	for _, res := range b.Results {
		if res.Code != 0 {
			continue
		}
		for ei, ev := range res.Events {
			if !gov(position{b.Height, int64(res.Index), int64(ei)}, ev) {
				return false
			}
		}
	}
	for ei, ev := range b.Events {
		if !gov(position{b.Height, int64(len(b.Results)), int64(ei)}, ev) {
			return false
		}
	}
	return true
}

// entityEvents calls each with the entity events of block b after
// position from that the filter selects, in order, until each returns
// false.
func (s *Server) entityEvents(b ledger.Block, from position, f eventFilter, each func(position, record.EntityEvent) bool) bool {
	for _, res := range b.Results {
		if res.Code != 0 {
			continue
		}
		for ei, ev := range res.Events {
			pos := position{b.Height, int64(res.Index), int64(ei)}
			if ev.Type != record.EventEntity || !pos.after(from) {
				continue
			}
			attrs := make([]record.Attr, len(ev.Attrs))
			for i, a := range ev.Attrs {
				attrs[i] = record.Attr{Key: a.Key, Value: a.Value}
			}
			e, err := record.ParseEntityEvent(b.Height, b.Time, attrs)
			if err != nil {
				s.log.Error("entity event does not parse", "height", b.Height, "err", err)
				continue
			}
			if (f.did != "" && e.DID != f.did) || (f.provider != "" && e.Provider != f.provider) {
				continue
			}
			if !each(pos, e) {
				return false
			}
		}
	}
	return true
}

// events streams committed entity events (SSE event "entity") and, with
// ?types=gov or ?types=entity,gov, governance events ("gov": proposals
// made, voted, executed, expired; upgrades scheduled and applied; a
// provider's keys replaced) as server-sent events, from the
// next block by default, or after a position (?from= a height, or the
// Last-Event-ID of a reconnecting client) within the last
// MaxReplayBlocks blocks; ?did= or ?provider= filter. Event ids are
// "height.tx.event", so a client resumes exactly where it stopped.
// Older history is paged (GET /v1/events/history). The streams open at
// once are bounded, per client and in total.
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f, err := streamFilter(q)
	if err != nil {
		return err
	}
	st, err := s.l.Status(r.Context())
	if err != nil {
		return unhealthy(err)
	}
	after, err := startAt(r.Header.Get("Last-Event-ID"), q.Get("from"), st.Height+1)
	if err != nil {
		return err
	}
	if after[0] < st.Height-int64(s.maxReplay) {
		return rejection(op.ReasonInvalidField, fmt.Sprintf("a stream replays at most the last %d blocks (from %d); page through older events with GET /v1/events/history?from=", s.maxReplay, st.Height-int64(s.maxReplay)+1))
	}
	release, err := s.streams.acquire(r)
	if err != nil {
		return err
	}
	defer release()
	blocks, err := s.l.Watch(r.Context(), after.firstBlock())
	if err != nil {
		return watchFailed(err)
	}
	out, err := startStream(w)
	if err != nil {
		return nil //nolint:nilerr // the client went away
	}
	defer out.stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-out.beat.C:
			if out.keepAlive() != nil {
				return nil
			}
		case b, ok := <-blocks:
			if !ok {
				return nil
			}
			var werr error
			s.streamEvents(b, after, f, func(pos position, name string, e any) bool {
				data, _ := json.Marshal(e)
				werr = out.event(pos.String(), name, data)
				return werr == nil
			})
			if werr != nil || out.flush() != nil {
				return nil
			}
		}
	}
}

// watchFailed maps a ledger that cannot follow its blocks: blocks below
// the first the node holds are the request's (410 pruned, with the first
// it holds), anything else the node's (503).
func watchFailed(err error) error {
	var pe *ledger.PrunedError
	switch {
	case errors.As(err, &pe):
		e := fail(ReasonPruned, fmt.Sprintf("this node holds the blocks from height %d on (it pruned the older ones, or joined by state sync after them): ask from=%d", pe.First, pe.First))
		e.First = pe.First
		return e
	case errors.Is(err, ledger.ErrNotFound):
		return fail(ReasonNotFound, "the blocks from that height are pruned")
	case errors.Is(err, context.Canceled):
		return fail(ReasonCanceled, "the client went away")
	}
	return unhealthy(err)
}

// MaxHistoryEvents bounds a page of GET /v1/events/history.
const MaxHistoryEvents = 1000

// maxHistoryBlocks bounds the blocks one page reads (a page is read by
// at most two requests at once: it costs block reads, to anyone).
const maxHistoryBlocks = 1000

// eventHistory pages through committed entity events: those after
// ?after= (an event id) or from ?from= (a height), at most ?limit= of
// them (1 to 1000, default 100), filtered by ?did= and ?provider=; next
// is the id to ask after for the next page, "" at the head.
func (s *Server) eventHistory(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	after, err := startAt(q.Get("after"), q.Get("from"), 1)
	if err != nil {
		return err
	}
	select {
	case s.paging <- struct{}{}:
		defer func() { <-s.paging }()
	default:
		return fail(ReasonTooManyRequests, "too many pages of history read at once; retry later")
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := positive[int64](v, "limit")
		if err != nil || n > MaxHistoryEvents {
			return rejection(op.ReasonInvalidField, fmt.Sprintf("limit must be 1 to %d", MaxHistoryEvents))
		}
		limit = int(n)
	}
	st, err := s.l.Status(r.Context())
	if err != nil {
		return unhealthy(err)
	}
	page := sdk.EventPage{Events: []sdk.Event{}}
	head := min(st.Height, max(after[0], 1)+maxHistoryBlocks-1)
	if after[0] < head {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		blocks, err := s.l.Watch(ctx, after.firstBlock())
		if err != nil {
			return watchFailed(err)
		}
		f := eventFilter{did: q.Get("did"), provider: q.Get("provider"), entity: true}
		last := position{head, 1 << 62, 0}
		for b := range blocks {
			full := !s.entityEvents(b, after, f, func(pos position, e record.EntityEvent) bool {
				if len(page.Events) == limit {
					return false
				}
				page.Events = append(page.Events, sdk.Event{ID: pos.String(), EntityEvent: e})
				last = pos
				return true
			})
			if full || b.Height >= head {
				if full || head < st.Height {
					page.Next = last.String()
				}
				break
			}
		}
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

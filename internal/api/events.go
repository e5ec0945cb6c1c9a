package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
)

// events streams committed entity events as server-sent events, from a
// height (?from=, or the Last-Event-ID of a reconnecting client) and then
// live; ?did= or ?provider= filter. Event ids are "height.tx.event", so a
// client resumes exactly where it stopped.
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	fl, ok := w.(http.Flusher)
	if !ok {
		return fmt.Errorf("response writer cannot flush")
	}
	q := r.URL.Query()
	from, after := int64(1), [3]int64{0, -1, -1}
	if v := q.Get("from"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return rejection(op.ReasonInvalidField, "from must be a positive height")
		}
		from = n
	}
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		parts := strings.Split(id, ".")
		if len(parts) != 3 {
			return rejection(op.ReasonInvalidField, "Last-Event-ID must be height.tx.event")
		}
		for i, p := range parts {
			n, err := strconv.ParseInt(p, 10, 64)
			if err != nil || n < 0 {
				return rejection(op.ReasonInvalidField, "Last-Event-ID must be height.tx.event")
			}
			after[i] = n
		}
		from = max(after[0], 1)
	}
	wantDID, wantProv := q.Get("did"), q.Get("provider")
	blocks, err := s.l.Watch(r.Context(), from)
	if err != nil {
		return fail(ReasonNotFound, err.Error())
	}
	beat := startStream(w, fl)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-beat.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			fl.Flush()
		case b, ok := <-blocks:
			if !ok {
				return nil
			}
			for _, res := range b.Results {
				if res.Code != 0 {
					continue
				}
				for ei, ev := range res.Events {
					pos := [3]int64{b.Height, int64(res.Index), int64(ei)}
					if ev.Type != record.EventEntity || !later(pos, after) {
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
					if (wantDID != "" && e.DID != wantDID) || (wantProv != "" && e.Provider != wantProv) {
						continue
					}
					data, _ := json.Marshal(e)
					fmt.Fprintf(w, "id: %d.%d.%d\nevent: entity\ndata: %s\n\n", pos[0], pos[1], pos[2], data)
				}
			}
			fl.Flush()
		}
	}
}

// startStream answers a server-sent-event request and returns the ticker
// of its keep-alive comments.
func startStream(w http.ResponseWriter, fl http.Flusher) *time.Ticker {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	return time.NewTicker(15 * time.Second)
}

// later reports whether event position a comes after b.
func later(a, b [3]int64) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return false
}

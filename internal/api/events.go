package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bias-iot/bias/internal/registry"
	"github.com/bias-iot/bias/op"
)

// EntityEvent is one committed change of an entity, as streamed by
// GET /v1/events.
type EntityEvent struct {
	Height   int64     `json:"height"`
	Time     time.Time `json:"time"`
	Op       string    `json:"op"`
	DID      string    `json:"did"`
	Provider string    `json:"provider"`
	Status   string    `json:"status"`
	Version  uint64    `json:"version"`
}

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
			return &Error{Status: http.StatusBadRequest, Reason: string(op.ReasonInvalidField), Msg: "from must be a positive height"}
		}
		from = n
	}
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		parts := strings.Split(id, ".")
		if len(parts) != 3 {
			return &Error{Status: http.StatusBadRequest, Reason: string(op.ReasonInvalidField), Msg: "Last-Event-ID must be height.tx.event"}
		}
		for i, p := range parts {
			n, err := strconv.ParseInt(p, 10, 64)
			if err != nil || n < 0 {
				return &Error{Status: http.StatusBadRequest, Reason: string(op.ReasonInvalidField), Msg: "Last-Event-ID must be height.tx.event"}
			}
			after[i] = n
		}
		from = max(after[0], 1)
	}
	wantDID, wantProv := q.Get("did"), q.Get("provider")
	blocks, err := s.l.Watch(r.Context(), from)
	if err != nil {
		return &Error{Status: http.StatusNotFound, Reason: "not-found", Msg: err.Error()}
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
					if ev.Type != registry.EventEntity || !later(pos, after) {
						continue
					}
					e := EntityEvent{Height: b.Height, Time: b.Time}
					for _, a := range ev.Attrs {
						switch a.Key {
						case "op":
							e.Op = a.Value
						case "did":
							e.DID = a.Value
						case "provider":
							e.Provider = a.Value
						case "status":
							e.Status = a.Value
						case "version":
							e.Version, _ = strconv.ParseUint(a.Value, 10, 64)
						}
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

package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/bias-iot/bias/sdk"
)

// keepAlive is how often an idle live stream sends a comment.
const keepAlive = 15 * time.Second

// streamItem is one line of the live stream, as the page's script reads it.
type streamItem struct {
	Kind    string `json:"kind"` // entity or decision
	Op      string `json:"op,omitempty"`
	DID     string `json:"did,omitempty"`
	Status  string `json:"status,omitempty"`
	Version uint64 `json:"version,omitempty"`
	Height  int64  `json:"height,omitempty"`
	OK      bool   `json:"ok"`
	Reason  string `json:"reason,omitempty"`
	Device  string `json:"device,omitempty"`
	Service string `json:"service,omitempty"`
	Detail  string `json:"detail,omitempty"`
	At      int64  `json:"at,omitempty"`
}

// relay is the live stream (server-sent events): the provider's committed
// entity events (registrations, validations, revocations...) and the
// node's authentication decisions, from the node's two event streams,
// from the next block on. Its first event, "ready", says both are open.
func (c *Console) relay(w http.ResponseWriter, r *http.Request) {
	select {
	case c.streams <- struct{}{}:
		defer func() { <-c.streams }()
	default:
		http.Error(w, "too many live streams open", http.StatusServiceUnavailable)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ctx := r.Context()
	evs, err := c.cfg.Client.Events(ctx, 0, "", c.provider.String())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	decs, err := c.cfg.Client.Decisions(ctx, "", "")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	// Events arrive from the node as they commit, not as the browser
	// reads: the write deadline of the server does not apply.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	send := func(event string, v any) bool {
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
		flusher.Flush()
		return err == nil
	}
	if _, err := fmt.Fprint(w, "retry: 3000\n\n"); err != nil || !send("ready", map[string]string{"provider": c.provider.String()}) {
		return
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		var ok bool
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			_, err := fmt.Fprint(w, ": keep-alive\n\n")
			flusher.Flush()
			ok = err == nil
		case e, open := <-evs:
			ok = open && send("entity", entityItem(e))
		case d, open := <-decs:
			ok = open && send("decision", decisionItem(d))
		}
		if !ok {
			return
		}
	}
}

func entityItem(e sdk.Event) streamItem {
	return streamItem{Kind: "entity", Op: e.Op, DID: e.DID, Status: e.Status, Version: e.Version, Height: e.Height, OK: true}
}

func decisionItem(d sdk.DecisionEvent) streamItem {
	x := d.Decision
	return streamItem{Kind: "decision", OK: x.OK, Reason: string(x.Reason), Device: x.Device, Service: x.Service, Detail: x.Detail, At: x.At}
}

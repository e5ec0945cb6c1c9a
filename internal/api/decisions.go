package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"

	"github.com/bias-iot/bias/authn"
	"github.com/bias-iot/bias/op"
)

// decisionLog keeps the node's recent authentication decisions in a ring
// and wakes the streams that follow it. Decisions are not on the ledger:
// a client resumes within the ring (the last capacity decisions).
type decisionLog struct {
	mu   sync.Mutex
	ring []authn.Decision
	next uint64 // sequence number of the next decision (first is 1)
	wake chan struct{}
}

func newDecisionLog(capacity int) *decisionLog {
	return &decisionLog{ring: make([]authn.Decision, capacity), next: 1, wake: make(chan struct{})}
}

// add records a decision, without the values the device disclosed. One
// whose proof did not verify (d.Signed
// unset) is the word of whoever sent it: it is kept without the device
// and service it names, so that nobody can write refusals about a
// device into its audit trail, and streamed as "unauthenticated".
func (l *decisionLog) add(d authn.Decision) {
	// The values a device disclosed are for the service that asked, in
	// the answer to its request: never in the stream, which any client
	// of any node may follow.
	d.Disclosed = nil
	if !d.OK && !d.Signed {
		d.Device, d.Service, d.Kid = "", "", ""
		d.Detail = "unauthenticated: the proof did not verify, so this refusal is attributed to no one"
	}
	l.mu.Lock()
	l.ring[l.next%uint64(len(l.ring))] = d
	l.next++
	close(l.wake)
	l.wake = make(chan struct{})
	l.mu.Unlock()
}

// since returns the decisions after sequence number after, the sequence
// number of the last one, and a channel closed at the next decision.
func (l *decisionLog) since(after uint64) ([]authn.Decision, uint64, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	oldest := uint64(1)
	if l.next > uint64(len(l.ring)) {
		oldest = l.next - uint64(len(l.ring))
	}
	if after+1 < oldest {
		after = oldest - 1
	}
	var out []authn.Decision
	for s := after + 1; s < l.next; s++ {
		out = append(out, l.ring[s%uint64(len(l.ring))])
	}
	return out, l.next - 1, l.wake
}

// decisionEvents streams the node's authentication decisions as
// server-sent events, ?did= filtering on the device or the service; ids
// are sequence numbers, and Last-Event-ID resumes within the node's recent
// decisions.
func (s *Server) decisionEvents(w http.ResponseWriter, r *http.Request) error {
	_, after, _ := s.decisions.since(^uint64(0) - 1) // by default, only new decisions
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			return rejection(op.ReasonInvalidField, "Last-Event-ID must be a sequence number")
		}
		after = n
	}
	release, err := s.streams.acquire(r)
	if err != nil {
		return err
	}
	defer release()
	want := r.URL.Query().Get("did")
	out, err := startStream(w)
	if err != nil {
		return nil //nolint:nilerr // the client went away
	}
	defer out.stop()
	for {
		list, last, wake := s.decisions.since(after)
		for i, d := range list {
			seq := last - uint64(len(list)-1-i)
			if want != "" && d.Device != want && d.Service != want {
				continue
			}
			b, _ := json.Marshal(d)
			event := "decision"
			if !d.OK && !d.Signed {
				event = "unauthenticated"
			}
			if out.event(strconv.FormatUint(seq, 10), event, b) != nil {
				return nil
			}
		}
		after = last
		if out.flush() != nil {
			return nil
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-out.beat.C:
			if out.keepAlive() != nil {
				return nil
			}
		case <-wake:
		}
	}
}

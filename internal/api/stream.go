package api

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Stream bounds (Config's defaults).
const (
	DefaultMaxStreams          = 256 // open event streams, in total
	DefaultMaxStreamsPerClient = 8   // per client address
	DefaultMaxReplayBlocks     = 1000
	streamKeepAlive            = 15 * time.Second
	streamWriteTimeout         = 30 * time.Second // a client that reads nothing for this long is dropped
)

// streamLimiter bounds the open event streams, in total and per client
// address, so that anonymous streams cannot take a node's memory, CPU or
// connections from everyone else.
type streamLimiter struct {
	mu       sync.Mutex
	total    int
	perIP    map[string]int
	max, per int
}

func newStreamLimiter(max, per int) *streamLimiter {
	return &streamLimiter{perIP: map[string]int{}, max: max, per: per}
}

// clientOf is the client a bound per client counts r against: its IPv4
// address, or the /64 of its IPv6 address (one host commonly holds a
// whole /64, and could otherwise take a slot per address of it).
func clientOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if a = a.Unmap(); a.Is6() {
		p, _ := a.WithZone("").Prefix(64)
		return p.String()
	}
	return a.String()
}

// acquire takes a stream for r's client; the release func gives it back.
func (l *streamLimiter) acquire(r *http.Request) (func(), error) {
	ip := clientOf(r)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= l.max {
		return nil, fail(ReasonTooManyRequests, fmt.Sprintf("the node serves %d event streams already; retry later", l.max))
	}
	if l.perIP[ip] >= l.per {
		return nil, fail(ReasonTooManyRequests, fmt.Sprintf("at most %d event streams per client", l.per))
	}
	l.total++
	l.perIP[ip]++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.total--
		if l.perIP[ip]--; l.perIP[ip] == 0 {
			delete(l.perIP, ip)
		}
	}, nil
}

// sseStream writes server-sent events: each write has a deadline, so that
// a client that stops reading (a half-open connection) is dropped rather
// than held, and keep-alive comments come every streamKeepAlive.
type sseStream struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	beat *time.Ticker
}

// startStream answers a server-sent-event request.
func startStream(w http.ResponseWriter) (*sseStream, error) {
	s := &sseStream{w: w, rc: http.NewResponseController(w)}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if err := s.flush(); err != nil {
		return nil, err
	}
	s.beat = time.NewTicker(streamKeepAlive)
	return s, nil
}

func (s *sseStream) stop() { s.beat.Stop() }

// event writes one event.
func (s *sseStream) event(id, typ string, data []byte) error {
	if err := s.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil {
		return err
	}
	_, err := fmt.Fprintf(s.w, "id: %s\nevent: %s\ndata: %s\n\n", id, typ, data)
	return err
}

// keepAlive writes a keep-alive comment and flushes.
func (s *sseStream) keepAlive() error {
	if err := s.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil {
		return err
	}
	if _, err := fmt.Fprint(s.w, ": keep-alive\n\n"); err != nil {
		return err
	}
	return s.flush()
}

func (s *sseStream) flush() error {
	if err := s.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil {
		return err
	}
	return s.rc.Flush()
}

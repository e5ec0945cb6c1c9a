package sdk

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// TestClientKeepsConcurrentConnections: the connections of 150
// concurrent calls are kept and reused by the next 150, instead of being
// closed at the transport's default limit of 100 idle in all.
func TestClientKeepsConcurrentConnections(t *testing.T) {
	const callers = 150
	var dialled atomic.Int64
	release := make(chan struct{})
	var arrived sync.WaitGroup
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("hold") != "" {
			arrived.Done()
			<-release
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dialled.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c := NewClient(srv.URL)
	round := func(query string) {
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				resp, err := c.HTTP.Get(srv.URL + "/" + query)
				if err != nil {
					t.Error(err)
					return
				}
				_ = resp.Body.Close()
			})
		}
		if query != "" {
			arrived.Wait() // all are in flight at once
			close(release)
		}
		wg.Wait()
	}
	arrived.Add(callers)
	round("?hold=1")
	first := dialled.Load()
	if first != callers {
		t.Fatalf("%d connections for %d concurrent calls", first, callers)
	}
	round("")
	if again := dialled.Load() - first; again != 0 {
		t.Errorf("the second round dialled %d new connections: the first round's were not kept", again)
	}
}

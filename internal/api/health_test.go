package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bias-iot/bias/internal/ledger"
	"github.com/bias-iot/bias/internal/resolver"
	"github.com/bias-iot/bias/sdk"
)

// healthLedger answers Status (and, as readyLedger, Ready) as told.
type healthLedger struct {
	ledger.Ledger
	catchingUp bool
	statusErr  error
}

func (l healthLedger) Status(context.Context) (*ledger.Status, error) {
	if l.statusErr != nil {
		return nil, l.statusErr
	}
	return &ledger.Status{Network: "local", Height: 7, CatchingUp: l.catchingUp}, nil
}

type readyLedger struct {
	healthLedger
	readyErr error
}

func (l readyLedger) Ready(context.Context) error { return l.readyErr }

var _ Readiness = readyLedger{}

// TestReadyz: /readyz is 200 only for a ledger that answers, does not
// catch up and, if it tells, is ready; 503 unhealthy otherwise, while
// /healthz (liveness) stays 200 as long as the ledger answers.
func TestReadyz(t *testing.T) {
	wedged := errors.New("validator wedged")
	for _, tc := range []struct {
		name    string
		l       ledger.Ledger
		ready   int
		healthy int
	}{
		{"ok/ready", readyLedger{}, http.StatusOK, http.StatusOK},
		{"ok/engine-without-readiness", healthLedger{}, http.StatusOK, http.StatusOK},
		{"fail/not-answering", readyLedger{healthLedger: healthLedger{statusErr: errors.New("stopped")}}, http.StatusServiceUnavailable, http.StatusServiceUnavailable},
		{"fail/catching-up", readyLedger{healthLedger: healthLedger{catchingUp: true}}, http.StatusServiceUnavailable, http.StatusOK},
		{"fail/wedged", readyLedger{readyErr: wedged}, http.StatusServiceUnavailable, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Config{Ledger: tc.l, Resolver: resolver.New(tc.l, "local"), Log: slog.New(slog.DiscardHandler)})
			for _, c := range []struct {
				path string
				h    func(http.ResponseWriter, *http.Request) error
				want int
			}{{"/readyz", s.readyz, tc.ready}, {"/healthz", s.healthz, tc.healthy}} {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodGet, c.path, nil)
				if err := c.h(rec, req); err != nil {
					s.renderError(rec, req, err)
				}
				if rec.Code != c.want {
					t.Fatalf("%s: %d %s, want %d", c.path, rec.Code, rec.Body, c.want)
				}
				if c.want == http.StatusOK {
					var body map[string]any
					if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["ok"] != true || body["height"] != 7.0 {
						t.Fatalf("%s: %s", c.path, rec.Body)
					}
					continue
				}
				var eb sdk.ErrorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Reason != string(ReasonUnhealthy) || rec.Header().Get("Retry-After") != "1" {
					t.Fatalf("%s: %d %v %s", c.path, rec.Code, rec.Header(), rec.Body)
				}
				// The cause is for the log only.
				if eb.Message == "" || strings.Contains(eb.Message, "wedged") || strings.Contains(eb.Message, "stopped") {
					t.Fatalf("%s: the message shows the cause: %q", c.path, eb.Message)
				}
			}
		})
	}
}

// Package console is the operator console of bias: a small web server that
// runs on the operator's machine, talks to a node over its HTTP API (the
// SDK's client) and shows the network's health, the provider's entities,
// its pending registrations, its contracts and the live stream of
// decisions and revocations. Its actions (validate, reject, revoke) are
// signed operations made by an Actor that holds the provider's admin key:
// the key never reaches the browser.
//
// Every page and action needs a session, opened with the login token the
// console prints at start; every form carries the session's CSRF token,
// and a POST from another origin is refused. Pages are server-rendered
// (html/template) with one small script for the live stream, all embedded.
//
//	c, err := console.New(console.Config{Client: sdk.NewClient(url), Provider: p, Actor: a, Log: log})
//	ln, _ := net.Listen("tcp", "127.0.0.1:0")
//	fmt.Println(c.LoginURL("http://" + ln.Addr().String()))
//	err = c.Serve(ctx, ln, nil)
package console

import (
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/sdk"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Action is a provider's status operation on an entity, as the operator
// asked for it in a form.
type Action struct {
	Type    string // op.TypeValidate, op.TypeReject or op.TypeRevoke
	DID     string
	Version uint64 // the version the operator saw (0: the current one)
	Reason  string
}

// Actor signs an action with the provider's admin key and submits it,
// waiting for its block: the same operation the CLI makes.
type Actor interface {
	Act(ctx context.Context, a Action) (*sdk.SubmitResult, error)
}

// ActorFunc is an Actor as a function.
type ActorFunc func(ctx context.Context, a Action) (*sdk.SubmitResult, error)

// Act calls f.
func (f ActorFunc) Act(ctx context.Context, a Action) (*sdk.SubmitResult, error) { return f(ctx, a) }

// Config is what a console needs.
type Config struct {
	Client   *sdk.Client // the node's API
	Provider string      // the provider's DID
	Actor    Actor
	Log      *slog.Logger
	// Token is the login token (default: 32 random bytes, base64url).
	Token string
	// MaxIndexed bounds the entities the console lists from the event
	// history (default 50000); search by DID or legacy identifier reaches
	// every entity.
	MaxIndexed int
	// MaxStreams bounds the live streams open at once (default 16).
	MaxStreams int
	// SessionLife is how long a login lasts (default 12 h).
	SessionLife time.Duration
}

// Limits of what a request may carry.
const (
	maxFormBytes  = 8 << 10
	maxQueryLen   = 512
	maxDIDLen     = 512
	maxReasonLen  = 256
	maxSessions   = 64
	pageRows      = 200
	maxVersions   = 20 // contract versions shown per contract
	minTokenBytes = 16
)

// Console is a running console's state.
type Console struct {
	cfg      Config
	provider did.DID
	pages    map[string]*template.Template
	static   http.Handler
	sessions *sessions
	index    *index
	streams  chan struct{} // a slot per open live stream
}

// New checks cfg and makes a console.
func New(cfg Config) (*Console, error) {
	if cfg.Client == nil || cfg.Actor == nil || cfg.Log == nil {
		return nil, errors.New("console: a client, an actor and a logger are needed")
	}
	p, err := did.ParseNoFragment(cfg.Provider)
	if err != nil {
		return nil, fmt.Errorf("console: provider: %w", err)
	}
	if cfg.Token == "" {
		if cfg.Token, err = randomToken(); err != nil {
			return nil, err
		}
	}
	if len(cfg.Token) < minTokenBytes {
		return nil, fmt.Errorf("console: a login token has at least %d characters", minTokenBytes)
	}
	if cfg.MaxIndexed <= 0 {
		cfg.MaxIndexed = 50000
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = 16
	}
	if cfg.SessionLife <= 0 {
		cfg.SessionLife = 12 * time.Hour
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	static, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, err
	}
	return &Console{
		cfg: cfg, provider: p, pages: pages,
		static:   http.StripPrefix("/static/", http.FileServerFS(static)),
		sessions: newSessions(cfg.SessionLife),
		index:    newIndex(cfg.MaxIndexed),
		streams:  make(chan struct{}, cfg.MaxStreams),
	}, nil
}

// LoginURL is the URL that opens a session, for a console served at base
// (scheme://host:port). It carries the login token: print it only to the
// operator.
func (c *Console) LoginURL(base string) string {
	return base + "/login?token=" + c.cfg.Token
}

// Serve follows the provider's events (for the entity list) and serves
// the console on ln until ctx ends; with tlsConf, over TLS (and the
// session cookie is Secure).
func (c *Console) Serve(ctx context.Context, ln net.Listener, tlsConf *tls.Config) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go c.index.follow(ctx, c.cfg.Client, c.provider.String(), c.cfg.Log)
	srv := &http.Server{
		Handler:           c.Handler(tlsConf != nil),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(c.cfg.Log.Handler(), slog.LevelWarn),
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	_ = srv.Shutdown(shutdown) // live streams end with ctx
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Handler is the console's routes, behind its security checks; secure
// says the console is served over TLS.
func (c *Console) Handler(secure bool) http.Handler {
	mux := http.NewServeMux()
	page := func(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
		mux.Handle(pattern, c.authenticated(c.rendered(h)))
	}
	mux.Handle("GET /static/console.css", c.static) // the two files, no listing
	mux.Handle("GET /static/console.js", c.static)
	mux.HandleFunc("GET /login", c.login(secure))
	mux.HandleFunc("POST /login", c.login(secure))
	page("GET /{$}", c.health)
	page("GET /entities", c.entities)
	page("GET /pending", c.pending)
	page("GET /revoke", c.revokePage)
	page("GET /stream", c.streamPage)
	page("GET /contracts", c.contracts)
	mux.Handle("GET /stream/events", c.authenticated(http.HandlerFunc(c.relay)))
	mux.Handle("POST /actions/{verb}", c.authenticated(c.checkedPost(c.rendered(c.act))))
	mux.Handle("POST /logout", c.authenticated(c.checkedPost(http.HandlerFunc(c.logout))))
	return c.headers(mux)
}

// rendered turns a page handler's error into an error page.
func (c *Console) rendered(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			c.fail(w, r, err)
		}
	})
}

// userError is an error whose message the operator may see, with its
// HTTP status.
type userError struct {
	status int
	msg    string
}

func (e *userError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &userError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// fail shows err: a userError or the node's answer (status, reason and
// its safe message) as it is, anything else as a generic message (the
// cause goes to the log).
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusBadGateway, "the console could not do this; its log says why"
	var ue *userError
	var ae *sdk.APIError
	switch {
	case errors.As(err, &ue):
		status, msg = ue.status, ue.msg
	case errors.As(err, &ae):
		msg = fmt.Sprintf("the node refused: %s: %s", ae.Reason, ae.Message)
		if ae.Status/100 == 4 {
			status = ae.Status
		}
	}
	c.cfg.Log.Warn("console request failed", "path", r.URL.Path, "status", status, "err", err)
	w.WriteHeader(status)
	c.render(w, r, "error", map[string]any{"Status": status, "Message": msg})
}

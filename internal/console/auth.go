package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// cookieName is the session cookie.
const cookieName = "bias_console_session"

// csp lets a page load only the console's own script, style and event
// stream: no inline script, no frame, no form to elsewhere.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// session is a logged-in browser: its CSRF token and its end.
type session struct {
	csrf    string
	expires time.Time
}

// sessions holds the open sessions by the hash of their cookie (a lookup
// reveals nothing of a cookie by its timing).
type sessions struct {
	mu   sync.Mutex
	life time.Duration
	m    map[[32]byte]*session
}

func newSessions(life time.Duration) *sessions {
	return &sessions{life: life, m: map[[32]byte]*session{}}
}

// open makes a session and returns its cookie value; past maxSessions
// the one nearest its end goes.
func (s *sessions) open() (string, error) {
	id, err := randomToken()
	if err != nil {
		return "", err
	}
	csrf, err := randomToken()
	if err != nil {
		return "", err
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m {
		if now.After(v.expires) {
			delete(s.m, k)
		}
	}
	if len(s.m) >= maxSessions {
		var oldest [32]byte
		var at time.Time
		for k, v := range s.m {
			if at.IsZero() || v.expires.Before(at) {
				oldest, at = k, v.expires
			}
		}
		delete(s.m, oldest)
	}
	s.m[sha256.Sum256([]byte(id))] = &session{csrf: csrf, expires: now.Add(s.life)}
	return id, nil
}

// get finds the live session of a cookie value.
func (s *sessions) get(id string) *session {
	k := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.m[k]
	if v == nil {
		return nil
	}
	if time.Now().After(v.expires) {
		delete(s.m, k)
		return nil
	}
	return v
}

func (s *sessions) close(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, sha256.Sum256([]byte(id)))
}

type sessionKey struct{}

// sessionOf is the session that authenticated r.
func sessionOf(r *http.Request) *session {
	s, _ := r.Context().Value(sessionKey{}).(*session)
	return s
}

// authenticated lets through only a request with a live session; others
// get 401 (a page shows the login form).
func (c *Console) authenticated(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var s *session
		if ck, err := r.Cookie(cookieName); err == nil && len(ck.Value) <= 64 {
			s = c.sessions.get(ck.Value)
		}
		if s == nil {
			w.WriteHeader(http.StatusUnauthorized)
			if r.Method == http.MethodGet && r.URL.Path != "/stream/events" {
				c.render(w, r, "login", map[string]any{"Message": "Log in with the token that bias console printed."})
			}
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)))
	})
}

// sameOrigin refuses a request that a browser says comes from another
// origin (Origin, Sec-Fetch-Site).
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		scheme := "http://"
		if r.TLS != nil {
			scheme = "https://"
		}
		return o == scheme+r.Host
	}
	return true
}

// checkedPost lets through a POST of at most maxFormBytes from the
// console's own origin whose form carries the session's CSRF token.
func (c *Console) checkedPost(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !sameOrigin(r) {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "the form is malformed or too large", http.StatusBadRequest)
			return
		}
		s := sessionOf(r)
		if got := r.PostForm.Get("csrf"); s == nil || subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) != 1 {
			http.Error(w, "missing or wrong CSRF token", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// login opens a session for the login token, given as ?token= (the URL
// the console prints) or in the login form, and sends the browser home.
func (c *Console) login(secure bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var token string
		if r.Method == http.MethodPost {
			if !sameOrigin(r) {
				http.Error(w, "cross-origin request refused", http.StatusForbidden)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				http.Error(w, "the form is malformed or too large", http.StatusBadRequest)
				return
			}
			token = r.PostForm.Get("token")
		} else {
			token = r.URL.Query().Get("token")
			if token == "" {
				c.render(w, r, "login", nil)
				return
			}
		}
		if subtle.ConstantTimeCompare([]byte(token), []byte(c.cfg.Token)) != 1 {
			c.cfg.Log.Warn("console login refused", "remote", r.RemoteAddr)
			w.WriteHeader(http.StatusForbidden)
			c.render(w, r, "login", map[string]any{"Message": "Wrong token."})
			return
		}
		id, err := c.sessions.open()
		if err != nil {
			c.fail(w, r, err)
			return
		}
		http.SetCookie(w, &http.Cookie{ //nolint:gosec // Secure over TLS; over plain HTTP (loopback only) a browser would drop a Secure cookie
			Name: cookieName, Value: id, Path: "/", HttpOnly: true, Secure: secure,
			SameSite: http.SameSiteStrictMode, MaxAge: int(c.cfg.SessionLife / time.Second),
		})
		c.cfg.Log.Info("console login", "remote", r.RemoteAddr)
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(cookieName); err == nil {
		c.sessions.close(ck.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode}) //nolint:gosec // clears the cookie
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// headers sets the security headers of every answer: pages and data are
// not stored, framed or sniffed.
func (c *Console) headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin") // not no-referrer: a browser then sends "Origin: null" with a form
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		if len(r.URL.Path) < len("/static/") || r.URL.Path[:len("/static/")] != "/static/" {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}

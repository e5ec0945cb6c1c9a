package console

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/record"
	"github.com/bias-iot/bias/sdk"
)

// pageNames are the templates, each rendered inside layout.html.
var pageNames = []string{"health", "entities", "pending", "revoke", "stream", "contracts", "login", "error"}

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"ts": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		},
	}
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// render writes page with data, and what every page shows: the provider,
// the session's CSRF token, the page's name.
func (c *Console) render(w http.ResponseWriter, r *http.Request, page string, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	data["Page"], data["Provider"] = page, c.provider.String()
	if s := sessionOf(r); s != nil {
		data["CSRF"] = s.csrf
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := c.pages[page].Execute(w, data); err != nil {
		c.cfg.Log.Warn("console render failed", "page", page, "err", err)
	}
}

// health is the network's health: the node's status and readiness, its
// validators, peers and block rate.
func (c *Console) health(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st, err := c.cfg.Client.Status(ctx)
	if err != nil {
		return err
	}
	data := map[string]any{"Status": st, "Ready": true, "Node": c.cfg.Client.URL}
	var ae *sdk.APIError
	switch err := c.cfg.Client.Ready(ctx); {
	case errors.As(err, &ae) && ae.Status == http.StatusServiceUnavailable:
		data["Ready"], data["NotReady"] = false, ae.Message
	case err != nil:
		return err
	}
	var power int64
	for _, v := range st.Validators {
		power += v.Power
	}
	data["Power"] = power
	data["Peers"] = c.peers(ctx)
	data["Rate"] = c.blockRate(ctx, st)
	data["Counts"] = c.index.counts(ctx)
	c.render(w, r, "health", data)
	return nil
}

// rateWindow is how many blocks the block rate is measured over.
const rateWindow = 20

// blockRate is the blocks per minute over the last rateWindow blocks, as
// their headers' times say ("" when the chain is too short).
func (c *Console) blockRate(ctx context.Context, st *sdk.StatusView) string {
	n := min(int64(rateWindow), st.Height-1)
	if n < 1 {
		return ""
	}
	old, err := c.cfg.Client.Header(ctx, st.Height-n)
	if err != nil {
		return ""
	}
	span := st.Time.Sub(old.Time)
	if span <= 0 {
		return ""
	}
	return fmt.Sprintf("%.1f blocks/min over the last %d blocks", float64(n)*float64(time.Minute)/float64(span), n)
}

// peers reads CometBFT's peer gauge from the node's /metrics ("" when
// the node does not report it: metrics off, or no peer yet).
func (c *Console) peers(ctx context.Context) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.Client.URL+"/metrics", nil)
	if err != nil {
		return ""
	}
	resp, err := c.cfg.Client.HTTP.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 8<<20))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "cometbft_p2p_peers") {
			continue
		}
		if f := strings.Fields(line); len(f) == 2 {
			return f[1]
		}
	}
	return ""
}

// statuses an entity may have, as the list filters them.
var statuses = []string{op.StatusPending, op.StatusValidated, op.StatusRejected, op.StatusRevoked, op.StatusDeactivated}

// entities lists the provider's entities by status, or finds one by DID
// or legacy identifier (?q=).
func (c *Console) entities(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	search, status := strings.TrimSpace(q.Get("q")), q.Get("status")
	if len(search) > maxQueryLen {
		return badRequest("a search is at most %d characters", maxQueryLen)
	}
	if status != "" && !contains(statuses, status) {
		return badRequest("no status %q", status)
	}
	data := map[string]any{"Q": search, "Status": status, "Statuses": statuses, "Done": doneNotice(q)}
	if search != "" {
		e, err := c.find(r.Context(), search)
		if err != nil {
			return err
		}
		data["Found"] = e
		data["Mine"] = e != nil && e.Provider == c.provider.String()
	} else {
		rows, matched, synced, dropped := c.index.list(r.Context(), status, pageRows)
		data["Rows"], data["Matched"], data["Synced"], data["Dropped"] = rows, matched, synced, dropped
	}
	c.render(w, r, "entities", data)
	return nil
}

// doneNotice is the notice of an action the console just made (after
// its redirect): ?done=VERB&height=H.
func doneNotice(q url.Values) string {
	verb, h := q.Get("done"), q.Get("height")
	if verb == "" || !contains([]string{"validate", "reject", "revoke"}, verb) {
		return ""
	}
	if _, err := strconv.ParseInt(h, 10, 64); err != nil {
		return ""
	}
	return fmt.Sprintf("%s committed at height %s", verb, h)
}

// find reads the entity of a DID, or of a legacy identifier (nil when
// none is registered).
func (c *Console) find(ctx context.Context, q string) (*sdk.EntityView, error) {
	id := q
	if !strings.HasPrefix(q, "did:") {
		res, err := c.cfg.Client.Identify(ctx, q)
		var re *sdk.ResolutionError
		if errors.As(err, &re) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if res.Document == nil {
			return nil, nil
		}
		id = res.Document.ID
	}
	e, err := c.cfg.Client.Entity(ctx, id)
	var ae *sdk.APIError
	if errors.As(err, &ae) && (ae.Status == http.StatusNotFound || ae.Status == http.StatusBadRequest) {
		return nil, nil
	}
	return e, err
}

func (c *Console) pending(w http.ResponseWriter, r *http.Request) error {
	rows, matched, synced, dropped := c.index.list(r.Context(), op.StatusPending, pageRows)
	c.render(w, r, "pending", map[string]any{"Rows": rows, "Matched": matched, "Synced": synced, "Dropped": dropped})
	return nil
}

func (c *Console) revokePage(w http.ResponseWriter, r *http.Request) error {
	id := r.URL.Query().Get("did")
	if len(id) > maxDIDLen {
		return badRequest("a DID is at most %d characters", maxDIDLen)
	}
	c.render(w, r, "revoke", map[string]any{"DID": id})
	return nil
}

func (c *Console) streamPage(w http.ResponseWriter, r *http.Request) error {
	c.render(w, r, "stream", nil)
	return nil
}

// contractView is a contract with its versions.
type contractView struct {
	record.Contract
	Versions []record.Contract // newest first, at most maxVersions
}

func (c *Console) contracts(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	list, err := c.cfg.Client.Contracts(ctx, c.provider.String())
	if err != nil {
		return err
	}
	views := make([]contractView, 0, len(list))
	for _, k := range list {
		v := contractView{Contract: k}
		for ver := k.Version; ver >= 1 && len(v.Versions) < maxVersions; ver-- {
			old, err := c.cfg.Client.Contract(ctx, k.Provider, k.Name, ver)
			if err != nil {
				return err
			}
			v.Versions = append(v.Versions, old.Contract)
		}
		views = append(views, v)
	}
	c.render(w, r, "contracts", map[string]any{"Contracts": views})
	return nil
}

// actionWait bounds how long an action's answer waits for the console's
// lists to hold its event.
const actionWait = 5 * time.Second

// verbs are the actions, by the last part of their path.
var verbs = map[string]string{"validate": op.TypeValidate, "reject": op.TypeReject, "revoke": op.TypeRevoke}

// act makes a validate, reject or revoke with the provider's key, and
// shows the entity after it.
func (c *Console) act(w http.ResponseWriter, r *http.Request) error {
	verb := r.PathValue("verb")
	typ, ok := verbs[verb]
	if !ok {
		return &userError{http.StatusNotFound, "no such action"}
	}
	f := r.PostForm
	a := Action{Type: typ, DID: strings.TrimSpace(f.Get("did")), Reason: f.Get("reason")}
	switch {
	case a.DID == "" || len(a.DID) > maxDIDLen || !strings.HasPrefix(a.DID, "did:"):
		return badRequest("name the entity by its DID (at most %d characters)", maxDIDLen)
	case len(a.Reason) > maxReasonLen:
		return badRequest("a reason is at most %d characters", maxReasonLen)
	}
	if v := f.Get("version"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			return badRequest("a version is a positive integer")
		}
		a.Version = n
	}
	res, err := c.cfg.Actor.Act(r.Context(), a)
	if err != nil {
		return err
	}
	c.cfg.Log.Info("console action", "op", typ, "did", a.DID, "height", res.Height)
	// The lists show the action once its event is in: wait for it a little.
	wait, cancel := context.WithTimeout(r.Context(), actionWait)
	c.index.waitHeight(wait, res.Height)
	cancel()
	http.Redirect(w, r, "/entities?"+url.Values{"q": {a.DID}, "done": {verb}, "height": {strconv.FormatInt(res.Height, 10)}}.Encode(), http.StatusSeeOther)
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

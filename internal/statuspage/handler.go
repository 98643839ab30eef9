package statuspage

import (
	"bytes"
	"compress/gzip"
	"context"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed assets/page.html assets/page.css
var assets embed.FS

var pageTemplate = template.Must(template.New("").Funcs(template.FuncMap{
	"ago": func(now, t time.Time) string { return Ago(now.Sub(t)) },
	"clock": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("15:04:05 UTC")
	},
	"dur":       func(d time.Duration) string { return d.Round(time.Microsecond * 100).String() },
	"num":       formatNumber,
	"short":     func(s string) string { return s[:min(len(s), 12)] },
	"count":     Count,
	"thousands": Thousands,
	// card is a target's card with the view it is drawn in.
	"card": func(v *view, t Target) cardData { return cardData{V: v, T: t} },
}).ParseFS(assets, "assets/page.html"))

// formActions are the actions the form offers; "weight" takes the number
// field.
var formActions = []string{"drain", "maint", "down", "ready", "weight"}

// Overrides is what the page's forms need of the agent's override store.
// Each call returns once the change is in the published reply.
type Overrides interface {
	// Add puts an override in force; an invalid request is an error whose
	// text is shown to the operator.
	Add(ctx context.Context, req AddRequest) error
	// Remove takes one override out of force.
	Remove(ctx context.Context, id string) error
	// Clear takes every override out of force.
	Clear(ctx context.Context) error
}

// AddRequest is an override as the form sends it: an action in rule-file
// syntax ("drain", "weight 10%"), a service (empty for all), a reason and
// a TTL ("1h", "0" for none).
type AddRequest struct {
	Action, Service, Reason, TTL string
}

// Options configure a Handler.
type Options struct {
	// Page returns what to show, with the card of the fleet server named
	// (none for ""); it is called once per page rendered. Its Fleet is
	// shared by every call until the next evaluation: the page only reads
	// it.
	Page func(server string) *Page
	// History feeds the charts and the change list.
	History *History
	// Overrides, when set, puts the forms on the page and accepts their
	// posts; the agent sets it only with --web.enable-lifecycle.
	Overrides Overrides
	// Logger receives rendering failures; nil discards them.
	Logger *slog.Logger
}

// cacheFor is how long a rendered page is served again: a page reloaded
// in a loop costs one render a second, not one per request, so that it
// cannot take CPU from the agent port. A form's change drops it at once.
const cacheFor = time.Second

// maxCached bounds the rendered pages kept, one per query (a filter, a
// sort, a server's card).
const maxCached = 16

// Handler serves the status page, its stylesheet and its forms.
type Handler struct {
	o      Options
	static http.Handler
	csrf   *http.CrossOriginProtection

	// renderMu lets one page render at a time: whatever the number of
	// readers, one page is being built.
	renderMu sync.Mutex
	mu       sync.Mutex
	cached   map[query]*rendered
}

// rendered is a page as sent, and compressed for browsers once one asks.
type rendered struct {
	at      time.Time
	body    []byte
	gzipped []byte
}

// New returns a Handler.
func New(o Options) *Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.History == nil {
		o.History = NewHistory(MinStep)
	}
	sub, _ := fs.Sub(assets, "assets")
	return &Handler{
		o:      o,
		static: http.StripPrefix("/static/", http.FileServerFS(sub)),
		csrf:   http.NewCrossOriginProtection(),
		cached: map[query]*rendered{},
	}
}

// Register mounts the page on mux: GET /, GET /static/page.css and, with
// Overrides, POST /ui/overrides (add) and POST /ui/overrides/clear (one
// with an id, else all). The posts are refused cross-origin.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", h.serve)
	mux.HandleFunc("GET /static/page.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		h.static.ServeHTTP(w, r)
	})
	if h.o.Overrides != nil {
		mux.Handle("POST /ui/overrides", h.csrf.Handler(http.HandlerFunc(h.add)))
		mux.Handle("POST /ui/overrides/clear", h.csrf.Handler(http.HandlerFunc(h.clear)))
	}
}

// view is the template's data: the page plus what the handler adds.
type view struct {
	*Page
	Lifecycle bool
	Actions   []string
	Changes   []Change
	Flash     *flash
	history   *History
	q         query
	// sel are the indexes of the fleet's rows the query lists, in order.
	sel []int32
}

// cardData is what the card template draws: a target in its view.
type cardData struct {
	V *view
	T Target
}

type flash struct {
	Text string
	Err  bool
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	h.respond(w, http.StatusOK, parseQuery(r.URL.Query()), nil, acceptsGzip(r))
}

// acceptsGzip says whether the client takes a gzip-compressed answer.
func acceptsGzip(r *http.Request) bool {
	for _, enc := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		if name, _, _ := strings.Cut(strings.TrimSpace(enc), ";"); name == "gzip" {
			return true
		}
	}
	return false
}

// page returns the page the query asks for, from the cache when it is
// fresh, and compressed when gz is set (the compression is cached too); a
// page with a message is never cached nor compressed.
func (h *Handler) page(q query, f *flash, gz bool) (body []byte, compressed bool, err error) {
	if f == nil {
		if c := h.fresh(q); c != nil {
			return h.send(c, gz)
		}
	}
	h.renderMu.Lock()
	defer h.renderMu.Unlock()
	if f != nil {
		var buf bytes.Buffer
		err := h.render(&buf, h.o.Page(q.Server), q, f)
		return buf.Bytes(), false, err
	}
	// Another load may have rendered it while this one waited.
	c := h.fresh(q)
	if c == nil {
		var buf bytes.Buffer
		if err := h.render(&buf, h.o.Page(q.Server), q, nil); err != nil {
			return nil, false, err
		}
		c = &rendered{at: time.Now(), body: buf.Bytes()}
		h.keep(q, c)
	}
	return h.send(c, gz)
}

// fresh returns the cached page of the query if it is fresh.
func (h *Handler) fresh(q query) *rendered {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c := h.cached[q]; c != nil && time.Since(c.at) < cacheFor {
		return c
	}
	return nil
}

// send returns a rendered page's bytes, compressing them once when gz is
// set.
func (h *Handler) send(c *rendered, gz bool) ([]byte, bool, error) {
	if !gz {
		return c.body, false, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.gzipped == nil {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		_, _ = zw.Write(c.body)
		_ = zw.Close()
		c.gzipped = buf.Bytes()
	}
	return c.gzipped, true, nil
}

// keep caches a rendered page, dropping the stale ones, and any one when
// maxCached are fresh.
func (h *Handler) keep(q query, c *rendered) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, old := range h.cached {
		if time.Since(old.at) >= cacheFor {
			delete(h.cached, k)
		}
	}
	for k := range h.cached {
		if len(h.cached) < maxCached {
			break
		}
		delete(h.cached, k)
	}
	h.cached[q] = c
}

// forget drops the cached pages, after a change the next load must show.
func (h *Handler) forget() {
	h.mu.Lock()
	clear(h.cached)
	h.mu.Unlock()
}

// respond renders the page with an optional message.
func (h *Handler) respond(w http.ResponseWriter, code int, q query, f *flash, gz bool) {
	body, compressed, err := h.page(q, f, gz)
	if err != nil {
		h.o.Logger.Error("status page failed to render", "err", err)
		http.Error(w, "status page failed to render: "+err.Error(), http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Vary", "Accept-Encoding")
	if compressed {
		hd.Set("Content-Encoding", "gzip")
	}
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func (h *Handler) render(w io.Writer, p *Page, q query, f *flash) error {
	if p.Now.IsZero() {
		p.Now = time.Now()
	}
	v := &view{
		Page:      p,
		Lifecycle: h.o.Overrides != nil,
		Actions:   formActions,
		Changes:   h.o.History.Changes(),
		Flash:     f,
		history:   h.o.History,
		q:         q,
	}
	if p.Fleet != nil {
		v.sel = p.Fleet.selectRows(q)
	}
	return pageTemplate.ExecuteTemplate(w, "page", v)
}

// maxForm bounds a form post: a few short fields.
const maxForm = 16 << 10

func (h *Handler) add(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		h.respond(w, http.StatusBadRequest, query{}, &flash{Text: "invalid form: " + err.Error(), Err: true}, false)
		return
	}
	action := strings.TrimSpace(r.PostForm.Get("action"))
	if action == "weight" {
		n, err := strconv.Atoi(strings.TrimSpace(r.PostForm.Get("weight")))
		if err != nil {
			h.respond(w, http.StatusBadRequest, query{}, &flash{Text: "weight: give a whole percent, 0 to 256", Err: true}, false)
			return
		}
		action = fmt.Sprintf("weight %d%%", n)
	}
	req := AddRequest{
		Action:  action,
		Service: r.PostForm.Get("service"),
		Reason:  r.PostForm.Get("reason"),
		TTL:     strings.TrimSpace(r.PostForm.Get("ttl")),
	}
	if err := h.o.Overrides.Add(r.Context(), req); err != nil {
		h.respond(w, http.StatusBadRequest, query{}, &flash{Text: "override not added: " + err.Error(), Err: true}, false)
		return
	}
	h.forget()
	seeOther(w, "../#overrides")
}

func (h *Handler) clear(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		h.respond(w, http.StatusBadRequest, query{}, &flash{Text: "invalid form: " + err.Error(), Err: true}, false)
		return
	}
	var err error
	if id := r.PostForm.Get("id"); id != "" {
		err = h.o.Overrides.Remove(r.Context(), id)
	} else {
		err = h.o.Overrides.Clear(r.Context())
	}
	if err != nil {
		h.respond(w, http.StatusBadRequest, query{}, &flash{Text: "override not cleared: " + err.Error(), Err: true}, false)
		return
	}
	h.forget()
	seeOther(w, "../../#overrides")
}

// formatNumber prints a metric value for people: up to 4 significant
// digits, no exponent for everyday magnitudes.
func formatNumber(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'f', -1, 64)
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// seeOther sends the browser back to the page. The location stays
// relative, so that the page also works under a proxy's path prefix.
func seeOther(w http.ResponseWriter, loc string) {
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusSeeOther)
}

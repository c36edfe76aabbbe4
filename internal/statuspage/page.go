package statuspage

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Handler.
type Options struct {
	// Snapshot returns the state to show; it is called once per request with the request's
	// context. Required.
	Snapshot func(ctx context.Context) Snapshot
	// PageSize is how many tenants one page shows. Zero means 100.
	PageSize int
	// Refresh is the meta refresh interval. Zero means 15 s.
	Refresh time.Duration
	// Now is the clock for uptime and time to expiry. Nil means time.Now.
	Now func() time.Time
}

// Handler serves the status page on GET and HEAD, whatever the path it is mounted at. Query:
// q filters tenants (every space-separated word must occur, case-insensitively, in the alias,
// the tenant ID, the region, the picked region or the token state); page (from 1) selects a
// page of the failing-first order.
type Handler struct {
	snapshot func(context.Context) Snapshot
	pageSize int
	refresh  int // seconds
	now      func() time.Time
	bufs     sync.Pool // *bytes.Buffer
}

// New returns a Handler. It panics when opts.Snapshot is nil (a wiring bug).
func New(opts Options) *Handler {
	if opts.Snapshot == nil {
		panic("statuspage: Options.Snapshot is nil")
	}
	h := &Handler{snapshot: opts.Snapshot, pageSize: opts.PageSize, now: opts.Now,
		refresh: int(opts.Refresh / time.Second)}
	h.bufs.New = func() any { return new(bytes.Buffer) }
	if h.pageSize <= 0 {
		h.pageSize = 100
	}
	if h.refresh <= 0 {
		h.refresh = 15
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h
}

// securityHeaders keep the page from being framed, sniffed, cached, or leaking its URL, and
// allow nothing but its own inline style and a same-origin form.
func securityHeaders(h http.Header) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy",
		"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	snap := h.snapshot(r.Context())
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	v := h.view(&snap, q.Get("q"), page)

	buf := h.bufs.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 1<<20 {
			buf.Reset()
			h.bufs.Put(buf)
		}
	}()
	if err := pageTemplate.Execute(buf, v); err != nil {
		// Only a template bug gets here; the page is not half-written since it is buffered.
		http.Error(w, "status page failed to render", http.StatusInternalServerError)
		return
	}
	securityHeaders(w.Header())
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(buf.Bytes())
}

// view is what the template renders: everything already formatted.
type view struct {
	Refresh                             int
	Version, ConfigFile, Loaded, Uptime string
	Reloads, Refused                    int
	LastRefusal, LastRefusalAt          string

	Total, Failing, Unused, Erroring int
	Query                            string
	Matched, First, Last             int
	Page, Pages                      int
	PrevURL, NextURL                 string
	Rows                             []row

	Regions []regionRow
	Callers []Caller
	Now     string
}

type row struct {
	Alias, ID, Region, Picked string
	State                     TokenState
	Code, Hint                string
	Expiry                    string
	Calls, Errors, Throttled  uint64
	API, Quota                string
	QuotaHigh                 bool
	ConsentURL                string
}

type regionRow struct {
	Name, RTT, Health string
	Healthy           bool
}

// rank orders tenants failing-first: a failing token, then calls failing or throttled in the
// last five minutes, then never used, then healthy.
func rank(t *Tenant) int {
	switch {
	case state(t) == TokenFailing:
		return 0
	case t.Recent.Errors > 0 || t.Recent.Throttled > 0:
		return 1
	case state(t) == TokenUnused:
		return 2
	}
	return 3
}

func state(t *Tenant) TokenState {
	if t.Token == "" {
		return TokenUnused
	}
	return t.Token
}

func (h *Handler) view(s *Snapshot, query string, page int) *view {
	now := h.now()
	v := &view{
		Refresh: h.refresh, Version: orDash(s.Version, "unknown"), ConfigFile: orDash(s.ConfigFile, "none"),
		Loaded: "never", Reloads: s.Reloads, Refused: s.Refused, LastRefusal: s.LastRefusal,
		Total: len(s.Tenants), Query: query, Callers: s.Callers, Now: now.UTC().Format(time.RFC3339),
	}
	if !s.LoadedAt.IsZero() {
		v.Loaded = s.LoadedAt.UTC().Format(time.RFC3339) + " (" + short(now.Sub(s.LoadedAt)) + " ago)"
	}
	if !s.Started.IsZero() {
		v.Uptime = short(now.Sub(s.Started))
	}
	if !s.LastRefusalAt.IsZero() {
		v.LastRefusalAt = s.LastRefusalAt.UTC().Format(time.RFC3339)
	}

	words := strings.Fields(query)
	matched := make([]*Tenant, 0, len(s.Tenants))
	for i := range s.Tenants {
		t := &s.Tenants[i]
		switch rank(t) {
		case 0:
			v.Failing++
		case 1:
			v.Erroring++
		case 2:
			v.Unused++
		}
		if matches(t, words) {
			matched = append(matched, t)
		}
	}
	slices.SortStableFunc(matched, func(a, b *Tenant) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		if a.Recent.Errors != b.Recent.Errors { // the noisiest first among equals
			if a.Recent.Errors > b.Recent.Errors {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Alias, b.Alias)
	})

	v.Matched = len(matched)
	v.Pages = max(1, (len(matched)+h.pageSize-1)/h.pageSize)
	v.Page = min(max(page, 1), v.Pages)
	lo := (v.Page - 1) * h.pageSize
	hi := min(lo+h.pageSize, len(matched))
	if lo < hi {
		v.First, v.Last = lo+1, hi
	}
	if v.Page > 1 {
		v.PrevURL = pageURL(query, v.Page-1)
	}
	if v.Page < v.Pages {
		v.NextURL = pageURL(query, v.Page+1)
	}
	v.Rows = make([]row, 0, hi-lo)
	for _, t := range matched[lo:hi] {
		v.Rows = append(v.Rows, tenantRow(t, now))
	}

	v.Regions = make([]regionRow, 0, len(s.Regions))
	for _, r := range s.Regions {
		rr := regionRow{Name: r.Name, RTT: "not probed", Health: "healthy", Healthy: true}
		if r.RTT > 0 {
			rr.RTT = r.RTT.Round(100 * time.Microsecond).String()
		}
		if r.CoolingUntil.After(now) {
			rr.Healthy = false
			rr.Health = "cooling down until " + r.CoolingUntil.UTC().Format("15:04:05") +
				" (" + short(r.CoolingUntil.Sub(now)) + ")"
		}
		v.Regions = append(v.Regions, rr)
	}
	return v
}

func tenantRow(t *Tenant, now time.Time) row {
	r := row{Alias: t.Alias, ID: t.ID, Region: orDash(t.Region, "default"), Picked: t.Picked,
		State: state(t), Code: t.Code, Hint: t.Hint, Expiry: "—",
		Calls: t.Recent.Calls, Errors: t.Recent.Errors, Throttled: t.Recent.Throttled, API: t.BusiestAPI}
	if !t.Expires.IsZero() {
		if d := t.Expires.Sub(now); d > 0 {
			r.Expiry = "in " + short(d)
		} else {
			r.Expiry = "expired " + short(-d) + " ago"
		}
	}
	if t.BusiestAPI != "" {
		if t.QuotaLimit > 0 {
			r.Quota = fmt.Sprintf("%d/%d", t.QuotaUsed, t.QuotaLimit)
			r.QuotaHigh = t.QuotaUsed*10 >= t.QuotaLimit*8
		} else {
			r.Quota = strconv.Itoa(t.QuotaUsed)
		}
	}
	if r.State == TokenFailing {
		r.ConsentURL = t.ConsentURL
	}
	return r
}

func matches(t *Tenant, words []string) bool {
	for _, w := range words {
		if !containsFold(t.Alias, w) && !containsFold(t.ID, w) && !containsFold(t.Region, w) &&
			!containsFold(t.Picked, w) && !containsFold(string(state(t)), w) {
			return false
		}
	}
	return true
}

// containsFold reports whether sub occurs in s, ignoring ASCII case, without allocating.
func containsFold(s, sub string) bool {
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		if strings.EqualFold(s[i:i+n], sub) {
			return true
		}
	}
	return false
}

func pageURL(query string, page int) string {
	v := url.Values{}
	if query != "" {
		v.Set("q", query)
	}
	v.Set("page", strconv.Itoa(page))
	return "?" + v.Encode()
}

func orDash(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

// short formats a duration for people: "45s", "12m", "3h05m", "2d4h".
func short(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd%dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

package consent

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CallbackPath is where the app's redirect URI points: public_url + CallbackPath.
const CallbackPath = "/consent/callback"

// Options configure a Handler. Signer, Lookup and Roles are required.
type Options struct {
	// Signer verifies the state Entra hands back.
	Signer *Signer
	// Lookup finds a configured tenant by alias or tenant ID, case-insensitively (as
	// routing.Table.Resolve does), and returns its alias and tenant ID; ok is false when the
	// configuration has no such tenant. The page calls it with the state's alias and with the
	// tenant of Entra's redirect.
	Lookup func(key string) (alias, tenantID string, ok bool)
	// Roles fetches a token for the tenant at once (not from a cache: consent may have just
	// landed) and returns the application roles it carries. An error whose type has a
	// `Message() string` method (tokens.Error) is shown by that message, which must be safe
	// for the tenant's admin to read; any other error is shown as a generic failure.
	Roles func(ctx context.Context, tenantID string) (roles []string, err error)
	// Expected are the roles the app needs (the configuration's app.roles). Nil means any
	// granted set is complete.
	Expected []string
	// FetchTimeout bounds Roles. Zero means 20 s.
	FetchTimeout time.Duration
	// PerClient limits each client address (IPv6 by /64). A zero Every means one page per
	// 6 s; a zero Burst means 5.
	PerClient Rate
	// Global limits all clients together. A zero Every means one page per 200 ms; a zero
	// Burst means 20.
	Global Rate
	// MaxClients bounds the addresses the limiter remembers; while that many are all active,
	// new ones are refused. Zero means 10,000.
	MaxClients int
	// Observe, when set, is told every landing that got past the state check, for the
	// gateway's log. Nil means nobody is told.
	Observe func(Result)
	// Now is the clock of the rate limits. Nil means time.Now. (The Signer has its own.)
	Now func() time.Time
}

// Result is one landing that carried a valid state.
type Result struct {
	// Alias is the alias the state names.
	Alias string
	// TenantID is the tenant of Entra's redirect; "" when Entra sent none.
	TenantID string
	// EntraError is Entra's error code ("access_denied"); "" when Entra reported none.
	EntraError string
	// Configured is true when TenantID is already in the configuration.
	Configured bool
	// Mismatch is true when the state's alias is configured with another tenant ID.
	Mismatch bool
	// Consented is true when a token for the tenant was fetched.
	Consented bool
	// Missing are the expected roles the token lacked.
	Missing []string
	// Err is the token fetch's error; nil when it succeeded or was not tried.
	Err error
}

// Handler serves the consent landing page on GET and HEAD.
type Handler struct {
	opts  Options
	limit *limiter
	now   func() time.Time
}

// New returns a Handler. It panics when a required option is nil (a wiring bug).
func New(opts Options) *Handler {
	if opts.Signer == nil || opts.Lookup == nil || opts.Roles == nil {
		panic("consent: Options.Signer, Lookup and Roles are required")
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = 20 * time.Second
	}
	if opts.PerClient.Every <= 0 {
		opts.PerClient.Every = 6 * time.Second
	}
	if opts.PerClient.Burst <= 0 {
		opts.PerClient.Burst = 5
	}
	if opts.Global.Every <= 0 {
		opts.Global.Every = 200 * time.Millisecond
	}
	if opts.Global.Burst <= 0 {
		opts.Global.Burst = 20
	}
	if opts.MaxClients <= 0 {
		opts.MaxClients = 10000
	}
	h := &Handler{opts: opts, now: opts.Now}
	if h.now == nil {
		h.now = time.Now
	}
	h.limit = newLimiter(opts.PerClient, opts.Global, opts.MaxClients)
	return h
}

// guid is the shape of an Entra tenant ID.
var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// maxEntraText bounds how much of Entra's error text is shown.
const maxEntraText = 1000

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.render(w, r, http.StatusMethodNotAllowed, &view{Title: "Method not allowed",
			Problem: "This page is only opened by following a link."})
		return
	}
	if ok, retry := h.limit.allow(r.RemoteAddr, h.now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
		h.render(w, r, http.StatusTooManyRequests, &view{Title: "Too many requests",
			Problem: "This page was opened too often. Wait a minute, then reload it."})
		return
	}
	q := r.URL.Query()
	alias, err := h.opts.Signer.Verify(q.Get("state"))
	if err != nil {
		// Nothing of the request is echoed: no tenant, no Entra text.
		v := &view{Title: "Invalid consent link",
			Problem: "This page was not opened from a valid consent link, so it cannot tell you anything. Ask your partner for a new consent link."}
		if errors.Is(err, ErrExpired) {
			v.Title = "Expired consent link"
			v.Problem = "This consent link has expired. Ask your partner for a new one."
		}
		h.render(w, r, http.StatusBadRequest, v)
		return
	}
	v, res := h.land(r.Context(), alias, q.Get("tenant"), q.Get("error"), q.Get("error_description"))
	if h.opts.Observe != nil {
		h.opts.Observe(res)
	}
	h.render(w, r, http.StatusOK, v)
}

// land works out what a landing with a valid state means.
func (h *Handler) land(ctx context.Context, alias, tenant, entraErr, entraDesc string) (*view, Result) {
	v := &view{Alias: alias}
	res := Result{Alias: alias}
	if entraErr != "" {
		res.EntraError = entraErr
		v.Title = "Consent was not given"
		v.EntraError, v.EntraDescription = clip(entraErr), clip(entraDesc)
		v.Next = []string{
			"If you declined by mistake, open the consent link from your partner again and accept.",
			"Consent must be given by a Global Administrator or Privileged Role Administrator of your tenant.",
			"If the error persists, send your partner the error above.",
		}
		return v, res
	}
	_, stateID, stateKnown := h.opts.Lookup(alias)
	if tenant == "" && stateKnown {
		// The legacy link's reply (response_type=code) names no tenant; the link itself named
		// the state's tenant in its path, so that is where the admin signed in.
		tenant = stateID
	}
	if !guid.MatchString(tenant) {
		v.Title = "No tenant in Entra's answer"
		v.Problem = "Entra's redirect named no tenant. Open the consent link from your partner again."
		return v, res
	}
	tenant = strings.ToLower(tenant)
	v.Tenant, res.TenantID = tenant, tenant

	if stateKnown && !strings.EqualFold(stateID, tenant) {
		// The link was made for another tenant: say nothing about that one, fetch nothing.
		res.Mismatch = true
		v.Title = "Consent given in a different tenant"
		v.Problem = "This consent link was made for another tenant than the one you signed in to."
		v.Next = []string{"Sign in with an administrator account of the tenant your partner meant, and open the consent link again, or ask your partner for a link for this tenant."}
		return v, res
	}
	_, _, res.Configured = h.opts.Lookup(tenant)
	v.Configured = res.Configured

	fctx, cancel := context.WithTimeout(ctx, h.opts.FetchTimeout)
	roles, err := h.opts.Roles(fctx, tenant)
	cancel()
	v.Checked = true
	if err != nil {
		res.Err = err
		v.Title = "Consent is not effective yet"
		v.TokenError = "The gateway could not get a token for your tenant."
		var m interface{ Message() string }
		if errors.As(err, &m) {
			v.TokenError = m.Message()
		}
		v.Next = []string{
			"Entra can take a few minutes to make a new consent effective: reload this page in a minute.",
			"If it still fails, open the consent link again and make sure you accept it as an administrator.",
		}
		return v, res
	}
	res.Consented, v.Consented = true, true
	v.Title = "Consent received"
	for _, e := range h.opts.Expected {
		got := slices.ContainsFunc(roles, func(r string) bool { return strings.EqualFold(r, e) })
		v.Roles = append(v.Roles, roleRow{Name: e, Granted: got})
		if !got {
			res.Missing = append(res.Missing, e)
		}
	}
	for _, r := range roles {
		if !slices.ContainsFunc(h.opts.Expected, func(e string) bool { return strings.EqualFold(r, e) }) {
			v.Extra = append(v.Extra, r)
		}
	}
	v.Missing = res.Missing
	switch {
	case len(res.Missing) > 0:
		v.Title = "Consent received, but roles are missing"
		v.Next = append(v.Next, "Your partner must add the missing roles to the app registration and send you a new consent link; accept it to grant them.")
	case res.Configured:
		v.Next = append(v.Next, "Nothing more to do: the gateway can already call Microsoft Defender for Endpoint for this tenant.")
	}
	if !res.Configured {
		v.YAML = "- name: " + yamlScalar(alias) + "\n  id: " + tenant
		v.Next = append(v.Next, "Nothing more to do on your side: your partner adds the lines below to the tenants list of the gateway's configuration, which takes effect on its next reload.")
	}
	return v, res
}

// yamlScalar quotes an alias unless it is plainly safe as a bare YAML scalar.
var plainAlias = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func yamlScalar(s string) string {
	if plainAlias.MatchString(s) && !slices.Contains([]string{"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}, strings.ToLower(s)) {
		return s
	}
	return strconv.Quote(s)
}

func clip(s string) string {
	if len(s) > maxEntraText {
		return strings.ToValidUTF8(s[:maxEntraText], "") + "…"
	}
	return s
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, v *view) {
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, v); err != nil {
		http.Error(w, "consent page failed to render", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer") // the URL carries the state
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	hd.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

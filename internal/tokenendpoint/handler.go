package tokenendpoint

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Tenant is a configured customer tenant.
type Tenant struct {
	// ID is the tenant ID (a GUID); it goes into the tokens' "tid".
	ID string
	// Alias is the gateway's name for the tenant, for logs; may be "".
	Alias string
}

// Caller is an authenticated gateway caller.
type Caller struct {
	// Name identifies the caller; it becomes the tokens' "sub" and is logged.
	Name string
	// Tenants are the IDs of the tenants the caller may use; "*" is every tenant. Empty: none.
	Tenants []string
}

// mayUse reports whether c may use tenant id.
func (c Caller) mayUse(id string) bool {
	for _, t := range c.Tenants {
		if t == "*" || strings.EqualFold(t, id) {
			return true
		}
	}
	return false
}

func (c Caller) anyTenant() bool {
	for _, t := range c.Tenants {
		if t == "*" {
			return true
		}
	}
	return false
}

// ErrUnknownResource is what Options.Roles returns (wrapped or not) for a resource the gateway
// does not serve; the token endpoint then answers AADSTS500011.
var ErrUnknownResource = errors.New("unknown resource")

// Anonymous is the caller of every token request when Options.Authenticate is nil.
const Anonymous = "anonymous"

// DefaultLifetime and MaxLifetime bound Options.Lifetime.
const (
	DefaultLifetime = time.Hour
	MaxLifetime     = 24 * time.Hour
)

// Options configure a Handler.
type Options struct {
	// Tenant finds a configured tenant by alias or ID (case-insensitively). Required.
	Tenant func(aliasOrID string) (Tenant, bool)
	// Authenticate finds the caller whose key is secret, or returns false. Nil: anonymous mode,
	// where any secret (or none) is accepted and the caller is Anonymous, allowed every tenant.
	Authenticate func(secret string) (Caller, bool)
	// Roles returns the roles of the gateway's own token for the tenant and resource, which the
	// gateway token copies. An error wrapping ErrUnknownResource refuses the resource; any other
	// error refuses the request with 503: its Error text is logged, so it must hold no secret
	// (tokens.Error qualifies), and the tool is shown only what a Message() string method returns,
	// as tokens.Error has. Roles is called on every token request with the request's context: keep
	// it cheap (the gateway's token cache). Nil: tokens carry no roles.
	Roles func(ctx context.Context, tenantID, resource string) ([]string, error)
	// Key signs the tokens. Nil: New generates a P-256 key and logs a warning (tokens die with
	// the process and are not valid on other replicas).
	Key *SigningKey
	// Lifetime of a token. Zero: DefaultLifetime; more than MaxLifetime or negative is an error.
	Lifetime time.Duration
	// Scheme of the URLs in the documents. "": "https" when the request came over TLS, else
	// "http" (set "https" behind a TLS-terminating load balancer).
	Scheme string
	// Hosts are further names ("host" or "host:port") by which tools reach the gateway, that
	// instance discovery vouches for when a tool asks about them through another host (as MSAL
	// does, always through login.microsoftonline.com). Nil: only the request's own Host and
	// Entra's login hosts.
	Hosts []string
	// Now is the clock. Nil: time.Now.
	Now func() time.Time
	// Logger receives "token issued" and "token refused" lines. Zero value: no logging.
	Logger zerolog.Logger
}

// Handler serves the Entra-compatible endpoints. It is safe for concurrent use.
type Handler struct {
	tenant   func(string) (Tenant, bool)
	auth     func(string) (Caller, bool)
	roles    func(context.Context, string, string) ([]string, error)
	key      *SigningKey
	lifetime time.Duration
	scheme   string
	hosts    []string
	now      func() time.Time
	log      zerolog.Logger
	mux      *http.ServeMux
}

var _ http.Handler = (*Handler)(nil)

// New checks the options and returns a Handler.
func New(opts Options) (*Handler, error) {
	if opts.Tenant == nil {
		return nil, errors.New("tokenendpoint: Options.Tenant is required")
	}
	if opts.Lifetime == 0 {
		opts.Lifetime = DefaultLifetime
	}
	if opts.Lifetime < time.Second || opts.Lifetime > MaxLifetime {
		return nil, fmt.Errorf("tokenendpoint: lifetime %s: must be between 1s and %s", opts.Lifetime, MaxLifetime)
	}
	if opts.Scheme != "" && opts.Scheme != "http" && opts.Scheme != "https" {
		return nil, fmt.Errorf("tokenendpoint: scheme %q: must be http or https", opts.Scheme)
	}
	h := &Handler{
		tenant:   opts.Tenant,
		auth:     opts.Authenticate,
		roles:    opts.Roles,
		key:      opts.Key,
		lifetime: opts.Lifetime,
		scheme:   opts.Scheme,
		now:      opts.Now,
		log:      opts.Logger,
	}
	for _, host := range opts.Hosts {
		h.hosts = append(h.hosts, strings.ToLower(host))
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.key == nil {
		k, err := GenerateSigningKey()
		if err != nil {
			return nil, fmt.Errorf("tokenendpoint: %w", err)
		}
		h.key = k
		h.log.Warn().Msg("token endpoint: no signing key configured; using a key made at start: its tokens die with the process and are not valid on other replicas")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/{tenant}/v2.0/.well-known/openid-configuration", h.serveOpenID)
	mux.HandleFunc("/{tenant}/.well-known/openid-configuration", h.serveOpenID)
	mux.HandleFunc("/{tenant}/discovery/instance", h.serveInstance)
	mux.HandleFunc("/{tenant}/discovery/v2.0/keys", h.serveKeys)
	mux.HandleFunc("/{tenant}/discovery/keys", h.serveKeys)
	mux.HandleFunc("/{tenant}/oauth2/v2.0/token", h.serveToken)
	mux.HandleFunc("/{tenant}/oauth2/token", h.serveToken)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.writeError(w, r, &aadError{http.StatusNotFound, "invalid_request", 900561, "The endpoint " + clip(r.URL.Path) + " does not exist on this gateway."})
	})
	h.mux = mux
	return h, nil
}

// ServeHTTP answers the endpoints listed in the package comment, for any Host.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// base is scheme://host of the request, lower-cased host.
func (h *Handler) base(r *http.Request) string {
	scheme := h.scheme
	if scheme == "" {
		scheme = "http"
		if r.TLS != nil {
			scheme = "https"
		}
	}
	return scheme + "://" + strings.ToLower(r.Host)
}

// clip trims a client-supplied value before it goes into an error text or a log line.
func clip(s string) string {
	if len(s) > 128 {
		s = s[:128] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

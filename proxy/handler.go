package proxy

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdegate/mdegate/routing"
	"github.com/mdegate/mdegate/tokens"
)

// Tokens hands out a tenant's bearer token. *tokens.Source implements it.
type Tokens interface {
	Token(ctx context.Context, tenantID string) (tokens.Token, error)
}

// Options configure a Handler.
type Options struct {
	// Routes resolves tenants to endpoints. Required.
	Routes *routing.Table
	// Tokens supplies bearer tokens. Required.
	Tokens Tokens
	// Transport carries requests to MDE. Nil means NewTransport(nil, 0).
	Transport http.RoundTripper
	// TenantHeader is the request header naming the tenant. "" means X-Tenant-ID.
	TenantHeader string
	// Logger gets one line per call. The zero Logger discards them.
	Logger zerolog.Logger
	// Metrics observes every call. Nil means none.
	Metrics Metrics
}

// Handler forwards requests to MDE for the tenant each names.
type Handler struct {
	routes       *routing.Table
	tokens       Tokens
	tenantHeader string // canonical form
	missing      *apiError
	log          zerolog.Logger
	metrics      Metrics
	rp           *httputil.ReverseProxy
}

var _ http.Handler = (*Handler)(nil)

// New builds a Handler.
func New(opts Options) *Handler {
	h := &Handler{
		routes:       opts.Routes,
		tokens:       opts.Tokens,
		tenantHeader: textproto.CanonicalMIMEHeaderKey(opts.TenantHeader),
		log:          opts.Logger,
		metrics:      opts.Metrics,
	}
	if h.tenantHeader == "" {
		h.tenantHeader = "X-Tenant-Id"
	}
	h.missing = missingTenant(opts.TenantHeader)
	if opts.TenantHeader == "" {
		h.missing = missingTenant("X-Tenant-ID")
	}
	transport := opts.Transport
	if transport == nil {
		transport = NewTransport(nil, 0)
	}
	h.rp = &httputil.ReverseProxy{
		Rewrite:        h.rewrite,
		Transport:      transport,
		FlushInterval:  -1, // stream: write each chunk as it arrives (0 would delay Content-Length bodies)
		ModifyResponse: h.modifyResponse,
		ErrorHandler:   h.proxyError,
		BufferPool:     newBufferPool(),
	}
	return h
}

// call is one request's state, from ServeHTTP through Rewrite, ModifyResponse or ErrorHandler
// to the log line. It travels in the request context.
type call struct {
	recorder
	id       string
	tenant   *routing.Tenant
	bearer   []string // Authorization header value to send
	sent     time.Time
	upstream time.Duration
	code     string // error code when the gateway answered itself
	reached  bool   // MDE answered
	failed   bool   // the round trip to MDE failed
}

type callKey struct{}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c := &call{recorder: recorder{ResponseWriter: w}, id: requestID(r.Header["X-Request-Id"])}
	w.Header()["X-Request-Id"] = []string{c.id}
	if h.metrics != nil {
		h.metrics.Start()
	}
	defer func() {
		if p := recover(); p != nil {
			// ReverseProxy aborts a response whose body copy failed mid-stream.
			if c.code == "" {
				c.code = "UpstreamAborted"
			}
			h.logCall(c, r, start)
			h.observe(c, r, start)
			panic(p)
		}
		h.logCall(c, r, start)
		h.observe(c, r, start)
	}()

	if !isAPIPath(r.URL.Path) {
		h.fail(c, errNotAPI)
		return
	}
	name := ""
	if v := r.Header[h.tenantHeader]; len(v) > 0 {
		name = strings.TrimSpace(v[0])
	}
	if name == "" {
		h.fail(c, h.missing)
		return
	}
	tn, err := h.routes.Resolve(name)
	if err != nil {
		h.fail(c, unknownTenant(name))
		return
	}
	c.tenant = tn
	tok, err := h.tokens.Token(r.Context(), tn.ID)
	if err != nil {
		if r.Context().Err() != nil {
			c.code = "ClientClosedRequest"
			c.status = 499
			return
		}
		h.fail(c, err)
		return
	}
	c.bearer = []string{tok.Bearer}
	h.rp.ServeHTTP(&c.recorder, r.WithContext(context.WithValue(r.Context(), callKey{}, c)))
}

func isAPIPath(p string) bool {
	return p == "/api" || strings.HasPrefix(p, "/api/")
}

// rewrite shapes the outbound request. ReverseProxy has already removed hop-by-hop headers,
// any header the client listed in Connection, and inbound Forwarded/X-Forwarded-*, so what is
// set here survives (with Director, "Connection: Authorization" stripped the injected token).
func (h *Handler) rewrite(pr *httputil.ProxyRequest) {
	c := pr.In.Context().Value(callKey{}).(*call)
	pr.SetURL(c.tenant.Endpoint.URL) // scheme, host, path joined; Host becomes the upstream's
	hdr := pr.Out.Header
	delete(hdr, "Cookie")
	delete(hdr, "Proxy-Authorization")
	delete(hdr, "X-Api-Key")
	delete(hdr, h.tenantHeader)
	hdr["Authorization"] = c.bearer
	c.sent = time.Now()
}

func (h *Handler) modifyResponse(resp *http.Response) error {
	c := resp.Request.Context().Value(callKey{}).(*call)
	c.upstream = time.Since(c.sent)
	c.reached = true
	delete(resp.Header, "X-Request-Id") // ours is already set; do not send two
	return nil
}

// proxyError handles a failed round trip to MDE.
func (h *Handler) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	c := r.Context().Value(callKey{}).(*call)
	if !c.sent.IsZero() {
		c.upstream = time.Since(c.sent)
	}
	if errors.Is(r.Context().Err(), context.Canceled) {
		c.code = "ClientClosedRequest" // the caller left: nobody to answer
		c.status = 499
		return
	}
	c.failed = true
	h.log.Warn().Str("request_id", c.id).Str("tenant_id", c.tenant.ID).
		Str("region", c.tenant.Endpoint.Region).Err(err).Msg("upstream failed")
	h.fail(c, err)
}

// fail answers the client in MDE's error shape. Every error the gateway answers itself goes
// through here.
func (h *Handler) fail(c *call, err error) {
	ae := describe(err)
	c.code = ae.Code
	writeError(&c.recorder, c.id, ae)
}

func (h *Handler) logCall(c *call, r *http.Request, start time.Time) {
	ev := h.log.Info()
	if ev == nil {
		return
	}
	ev.Str("request_id", c.id)
	if c.tenant != nil {
		ev.Str("tenant", c.tenant.Name).Str("tenant_id", c.tenant.ID).Str("region", c.tenant.Endpoint.Region)
	}
	ev.Str("method", r.Method).Str("path", r.URL.Path).Int("status", c.statusCode()).
		Int64("bytes_out", c.bytes).
		Float64("duration_ms", ms(time.Since(start))).
		Float64("upstream_ms", ms(c.upstream))
	if c.code != "" {
		ev.Str("error", c.code)
	}
	ev.Msg("request")
}

// observe hands the finished call to the metrics.
func (h *Handler) observe(c *call, r *http.Request, start time.Time) {
	if h.metrics == nil {
		return
	}
	h.metrics.Done(Observation{Tenant: c.tenant, Method: r.Method, Family: FamilyOf(r.URL.Path),
		Status: c.statusCode(), Total: time.Since(start), Upstream: c.upstream, Reached: c.reached, UpstreamFailed: c.failed})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// requestID keeps the caller's X-Request-ID when it is sane (1-128 characters of
// [A-Za-z0-9._:-]), so a tool's own correlation survives; otherwise it makes a random one.
func requestID(v []string) string {
	if len(v) > 0 && saneID(v[0]) {
		return v[0]
	}
	const hexdigits = "0123456789abcdef"
	var b [36]byte
	hi, lo := rand.Uint64(), rand.Uint64()
	j := 0
	for i := range b {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			b[i] = '-'
			continue
		}
		var nib uint64
		if j < 16 {
			nib = hi >> (4 * j) & 0xf
		} else {
			nib = lo >> (4 * (j - 16)) & 0xf
		}
		b[i] = hexdigits[nib]
		j++
	}
	return string(b[:])
}

func saneID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

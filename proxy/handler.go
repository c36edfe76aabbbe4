package proxy

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/mdegate/mdegate/routing"
	"github.com/mdegate/mdegate/tokens"
)

// Tokens hands out a tenant's bearer token for MDE. *tokens.Source implements it.
type Tokens interface {
	Token(ctx context.Context, tenantID string) (tokens.Token, error)
}

// ResourceTokens is a Tokens that also hands out tokens for other resources (Defender XDR,
// Graph): the handler uses it for those APIs when Options.Tokens implements it.
// *tokens.Source implements it.
type ResourceTokens interface {
	TokenFor(ctx context.Context, tenantID, resource string) (tokens.Token, error)
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
	// Limiter shapes requests per (tenant, API) before they leave. Nil means no shaping
	// (MDE's 429s are still waited out and replayed).
	Limiter Limiter
	// MaxWait bounds the wait for a quota slot and for an MDE 429's Retry-After before a
	// replay. Zero means 10 s.
	MaxWait time.Duration
	// Families overrides the documented limits and timeouts of every API of a family, by
	// family name (see FamilyNames); each API still counts on its own. Nil means the
	// documented ones.
	Families map[string]FamilyLimits
	// APIs overrides the limits and timeout of single APIs, by name (see APINames), over
	// Families. Nil means none.
	APIs map[string]Limits
	// CallTimeout bounds the wait for MDE's response headers of a call whose API sets no
	// timeout of its own (limits.upstream_timeout). Zero means DefaultHeaderTimeout.
	CallTimeout time.Duration
	// TransportHeaderTimeout is the ResponseHeaderTimeout Transport was built with, the
	// longest any call may wait; a call with a shorter timeout gets its own timer. Zero means
	// DefaultHeaderTimeout.
	TransportHeaderTimeout time.Duration
	// Clients are the callers allowed in and what each may do (see auth.go). Empty: every
	// request is let through anonymously, so whoever can reach the listener is trusted.
	Clients []Client
	// MaxBody caps a request body in bytes; a larger one is answered 413. Zero means
	// DefaultMaxBody; negative means no cap.
	MaxBody int64

	// HostSuffix, such as ".mdegate.local", makes the Host contoso.mdegate.local name the
	// tenant contoso (see tenant.go for the precedence). "" means the host names no tenant.
	HostSuffix string
	// DefaultTenant (an alias or ID) serves requests that name no tenant at all. "" means such
	// requests get 400 MissingTenant.
	DefaultTenant string

	// PublicURL is the gateway's external base URL (scheme, host, optional path), which links
	// in answers are rewritten to. Nil means the URL is derived from each request (see
	// TrustedProxies).
	PublicURL *url.URL
	// TrustedProxies are the peers whose X-Forwarded-Proto and X-Forwarded-Host are believed
	// when deriving the external base URL, and whose X-Forwarded-For names the client in the
	// access log's remote_addr. Nil means nobody's: Host, TLS and the peer alone decide.
	TrustedProxies []netip.Prefix
	// KeepLinks leaves @odata links and Location headers as MDE wrote them. False (the
	// default) rewrites those that point at an MDE host to the gateway (see links.go).
	KeepLinks bool
	// Metrics observes every call. Nil means none.
	Metrics Metrics
	// Tracer traces every call: a server span continuing the caller's traceparent, with
	// children for the token fetch, quota waits and each upstream attempt (trace.go). The
	// caller's trace headers are never forwarded either way. Nil means no tracing, at no cost.
	Tracer trace.Tracer

	// XDRResource is the token resource of Defender XDR APIs (routing.Cloud.XDRResource).
	// "" means SurfaceXDR.Resource(), the public cloud's.
	XDRResource string
	// GraphResource is the token resource of Graph security APIs
	// (routing.Cloud.GraphResource). "" means SurfaceGraph.Resource(), the public cloud's.
	GraphResource string
	// GraphURL is the Graph host /v1.0/security/... and /beta/security/... are forwarded to
	// (routing.Cloud.Graph). Nil means Graph paths are not forwarded (404 NotFound).
	GraphURL *url.URL
	// BodyTimeout is the time a request body has to arrive whole, counted from the request's
	// arrival (a total, not an idle time); a body still arriving then is answered 408 and its
	// connection closed. Zero means DefaultBodyTimeout; negative means no limit.
	BodyTimeout time.Duration
	// WriteIdleTimeout aborts an answer whose caller has accepted no bytes for this long, and
	// frees its upstream connection. The deadline moves with every write that succeeds, so a
	// slow but moving export is never cut. Zero means DefaultWriteIdleTimeout; negative means
	// none.
	WriteIdleTimeout time.Duration
	// AnonymousMaxConcurrent caps the requests in flight when Clients is empty (every caller
	// is the one anonymous caller); more are answered 429. Zero means DefaultMaxConcurrent;
	// negative means no cap.
	AnonymousMaxConcurrent int
	// TenantMaxConcurrent caps one tenant's requests in flight to Microsoft, so that the
	// callers of one tenant cannot take every upstream connection of a region (see
	// tenantShare); more wait for a slot. Zero means DefaultTenantMaxConcurrent; negative
	// means no cap.
	TenantMaxConcurrent int
	// GatewayTokens checks the gateway's own tokens (gatewaytoken.go): a request whose
	// "Authorization: Bearer" is one is that token's caller, for that token's tenant, and an
	// expired or forged one is refused with 401. Nil: every bearer is a caller key.
	GatewayTokens TokenVerifier
	// InterceptedHost reports whether a request's Host is a Microsoft name that the gateway
	// answers itself (intercept.Proxy.HostClass): links in answers to such a request are
	// rewritten to that name over https, never to PublicURL, so that a tool in proxy mode pages
	// inside its tunnel. Nil: none is.
	InterceptedHost func(host string) bool
}

// Limits on what a caller may hold (issue 14, findings 2 and 4).
const (
	// DefaultBodyTimeout is Options.BodyTimeout when zero: a 10 MiB body at 3 Mbit/s.
	DefaultBodyTimeout = 30 * time.Second
	// DefaultWriteIdleTimeout is Options.WriteIdleTimeout when zero.
	DefaultWriteIdleTimeout = 60 * time.Second
	// DefaultTenantMaxConcurrent is Options.TenantMaxConcurrent when zero: a quarter of the
	// connections the transport opens to one host.
	DefaultTenantMaxConcurrent = maxConnsPerHost / 4
)

// DefaultMaxBody is the request body cap when Options.MaxBody is zero: MDE's largest documented
// bodies are indicator batches, well under it.
const DefaultMaxBody = 10 << 20

// Handler forwards requests to MDE for the tenant each names.
type Handler struct {
	routes       *routing.Table
	tokens       Tokens
	tenantHeader string // canonical form
	missing      *apiError
	log          zerolog.Logger
	metrics      Metrics
	rp           *httputil.ReverseProxy
	tracer       trace.Tracer   // nil: no tracing
	trusted      []netip.Prefix // TrustedProxies
	debug        bool           // the logger passes debug lines

	apis          *apiTable
	resTokens     ResourceTokens // nil: only MDE tokens
	resources     [3]string      // token resource by Surface
	graph         []*routing.Endpoint
	limiter       Limiter
	maxWait       time.Duration
	headerTimeout time.Duration
	auth          *auth // nil: anonymous
	maxBody       int64 // 0: no cap
	tooLarge      *apiError
	headerName    string // the tenant header as configured, for messages
	hostSuffix    string
	defaultTenant string
	links         *linkRewriter // nil when KeepLinks

	bodyTimeout time.Duration   // 0: none
	writeIdle   time.Duration   // 0: none
	anon        *client         // the anonymous caller's in-flight cap; nil: none or not anonymous
	shares      *tenantShare    // nil: no per-tenant cap
	gwTokens    *verifiedTokens // nil: no gateway tokens
}

var _ http.Handler = (*Handler)(nil)

// New builds a Handler. Its error names the client whose entry is wrong: a tenant that
// Routes does not know, an allow pattern that does not parse, or a key given twice.
func New(opts Options) (*Handler, error) {
	header := opts.TenantHeader
	if header == "" {
		header = "X-Tenant-ID"
	}
	h := &Handler{
		routes:       opts.Routes,
		tokens:       opts.Tokens,
		tenantHeader: textproto.CanonicalMIMEHeaderKey(header),
		headerName:   header,
		missing:      missingTenant(header),
		log:          opts.Logger,
		metrics:      opts.Metrics,
		tracer:       opts.Tracer,
		trusted:      opts.TrustedProxies,
	}
	if ev := h.log.Debug(); ev != nil {
		ev.Discard()
		h.debug = true // timing what only a debug line reports is worth it
	}
	a, err := newAuth(opts.Clients, opts.Routes)
	if err != nil {
		return nil, err
	}
	h.auth = a
	switch {
	case opts.MaxBody == 0:
		h.maxBody = DefaultMaxBody
	case opts.MaxBody > 0:
		h.maxBody = opts.MaxBody
	}
	h.tooLarge = bodyTooLarge(h.maxBody)
	h.hostSuffix, h.defaultTenant = opts.HostSuffix, opts.DefaultTenant
	h.resTokens, _ = opts.Tokens.(ResourceTokens)
	h.resources = [3]string{SurfaceMDE.Resource(), SurfaceXDR.Resource(), SurfaceGraph.Resource()}
	if opts.XDRResource != "" {
		h.resources[SurfaceXDR] = opts.XDRResource
	}
	if opts.GraphResource != "" {
		h.resources[SurfaceGraph] = opts.GraphResource
	}
	if opts.GraphURL != nil {
		// Graph has one host per cloud and no regions: its own endpoint, outside the table's
		// health (nothing to fail over to).
		h.graph = []*routing.Endpoint{{Region: "graph", URL: opts.GraphURL}}
	}
	h.bodyTimeout = orDefault(opts.BodyTimeout, DefaultBodyTimeout)
	h.writeIdle = orDefault(opts.WriteIdleTimeout, DefaultWriteIdleTimeout)
	if a == nil {
		h.anon = newAnonymous(opts.AnonymousMaxConcurrent)
	}
	h.shares = newTenantShare(opts.TenantMaxConcurrent, opts.Routes)
	if opts.GatewayTokens != nil {
		h.gwTokens = newVerifiedTokens(opts.GatewayTokens)
	}
	if !opts.KeepLinks {
		h.links = newLinkRewriter(opts)
	}
	transport := opts.Transport
	if transport == nil {
		transport = NewTransport(nil, 0)
	}
	h.initRetry(opts)
	transport = &retrier{next: transport, h: h}
	h.rp = &httputil.ReverseProxy{
		Rewrite:   h.rewrite,
		Transport: transport,
		// Answers without a length (exports, chunked streams, SSE) ReverseProxy flushes at once
		// by itself. An answer with a length is written through the server's 4 KiB buffer as
		// it arrives: flushing it after every write (-1) cost a goroutine, a timer and an extra
		// write(2) per call.
		FlushInterval:  0,
		ModifyResponse: h.modifyResponse,
		ErrorHandler:   h.proxyError,
		BufferPool:     newBufferPool(),
	}
	return h, nil
}

// call is one request's state, from ServeHTTP through Rewrite, ModifyResponse or ErrorHandler
// to the log line. It travels in the request context.
//
// call is itself the context of the forwarded request (callContext): it wraps the caller's
// context and answers Value(callKey{}) with itself, which saves context.WithValue's
// allocation on every call. Its request ID and X-Request-Id header live in it too (requestID),
// for the same reason. A call is never reused, so both may point into it.
type call struct {
	context.Context // the caller's request context
	recorder
	id       string
	idBuf    [36]byte  // backs a generated id
	idHdr    [1]string // backs the X-Request-Id header value
	tenant   *routing.Tenant
	sent     time.Time
	upstream time.Duration
	code     string // error code when the gateway answered itself

	token        tokens.Token        // injected; dropped on a 401
	api          *API                // the API of the table: quota, timeout, replay, token
	cands        []*routing.Endpoint // endpoints in preference order (shared, read-only)
	ep           *routing.Endpoint   // endpoint of the current attempt
	epIdx        int                 // its index in cands
	attempts     int
	failoverFrom string // region of the first attempt, when another one answered
	throttleWait time.Duration
	replayed401  bool
	client       string                    // the caller's name; "" when anonymous or not identified
	path         string                    // the cleaned path forwarded; "" until decided
	in           *http.Request             // the request as the caller sent it
	linkPrefix   string                    // "/tenants/{name}" when the caller used the path prefix
	bodyErr      atomic.Pointer[bodyError] // the caller's body failed (written by the transport's writer)
	reached      bool                      // MDE answered
	failed       bool                      // the round trip to MDE failed
	span         trace.Span                // the call's server span; nil without a tracer
	traced       bool                      // span is recording: children are worth starting
}

type callKey struct{}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c := &call{Context: r.Context(), recorder: recorder{ResponseWriter: w, idle: h.writeIdle}, in: r}
	c.id = requestID(r.Header["X-Request-Id"], &c.idBuf)
	c.idHdr[0] = c.id
	w.Header()["X-Request-Id"] = c.idHdr[:]
	if h.tracer != nil {
		h.startTrace(c, r)
	}
	if h.metrics != nil {
		h.metrics.Start()
	}
	defer func() {
		p := recover()
		if p != nil && c.code == "" {
			c.code = "UpstreamAborted" // ReverseProxy aborts a response whose body copy failed mid-stream
			if c.stalled {
				c.code = "CallerNotReading" // the write idle timeout cut it
			}
		}
		total := time.Since(start)
		h.logCall(c, r, total)
		h.observe(c, r, total)
		c.endTrace()
		if p != nil {
			panic(p)
		}
	}()

	// Who is calling: a gateway token names its caller and tenant, else a key or certificate.
	var cl *client
	var tokenTenant string // the gateway token's tenant ID; "" without one
	fromToken := false
	if h.gwTokens != nil {
		var err error
		if cl, tokenTenant, fromToken, err = h.fromGatewayToken(r); err != nil {
			h.refuse(c, r, err)
			return
		}
		if cl != nil {
			c.client = cl.name
		}
	}
	if h.auth != nil && !fromToken {
		var err error
		if cl, err = h.auth.identify(r); err != nil {
			h.refuse(c, r, err)
			return
		}
		c.client = cl.name
	}
	if err := checkFraming(r); err != nil {
		h.refuse(c, r, err)
		return
	}
	// What it asks for: decided once, on the cleaned path, which is also what is forwarded,
	// so the policy and MDE never see different paths. The tenant prefix is split off the
	// cleaned path too: /tenants/a/../b/api/x names b.
	fwd, lower, ok := cleanPath(r.URL)
	if !ok {
		h.refuse(c, r, errBadPath)
		return
	}
	pathName, fwd, prefixed := splitTenantPath(fwd)
	if prefixed { // the prefix is lower case: cut it off both or neither
		_, lower, _ = splitTenantPath(lower)
	}
	c.path = fwd
	if !isAPIPath(lower) && (h.graph == nil || !isGraphSecurityPath(lower)) {
		h.refuse(c, r, errNotAPI)
		return
	}
	c.api = h.apis.classify(r.Method, fwd)
	if cl != nil {
		if err := cl.mayCall(r.Method, lower); err != nil {
			cl.refusals.Add(1)
			h.refuse(c, r, err)
			return
		}
	}
	if h.maxBody > 0 && r.ContentLength > h.maxBody {
		h.refuse(c, r, h.tooLarge)
		return
	}
	// For which tenant.
	tn, asked, err := h.selectTenant(r, c, cl, pathName, prefixed, tokenTenant)
	if cl != nil && asked != "" {
		if err := cl.mayUse(tn, asked); err != nil {
			cl.refusals.Add(1)
			h.refuse(c, r, err)
			return
		}
	}
	if err != nil {
		if cl != nil && err == error(cl.forbidden) { // a tenant outside its list
			cl.refusals.Add(1)
		}
		h.refuse(c, r, err)
		return
	}
	c.tenant = tn
	c.cands = h.routes.Candidates(tn)
	if c.api.Surface == SurfaceGraph {
		c.cands = h.graph
	}
	c.ep, c.epIdx = h.routes.Pick(c.cands, -1)
	if h.debug && c.ep != nil {
		h.log.Debug().Str("request_id", c.id).Str("tenant", tn.Name).Str("api", c.api.Name).
			Str("region", c.ep.Region).Int("candidates", len(c.cands)).Msg("region chosen")
	}
	if cl == nil {
		cl = h.anon
	}
	if cl != nil {
		if !cl.acquire() {
			cl.refusals.Add(1)
			h.refuse(c, r, cl.busy)
			return
		}
		defer cl.release()
	}
	tok, err := h.callToken(c, c, "call")
	if err != nil {
		if r.Context().Err() != nil {
			c.code = "ClientClosedRequest"
			c.status = 499
			return
		}
		h.refuse(c, r, err)
		return
	}
	c.token = tok
	out := r.WithContext(c)
	if fwd != r.URL.Path || r.URL.RawPath != "" {
		u := *r.URL
		u.Path, u.RawPath = fwd, ""
		out.URL = &u
	}
	if announcesBody(r) {
		out.Body = h.callerBody(c, w, r, start)
	}
	if h.shares != nil {
		slot, err := h.shares.acquire(c, tn.ID)
		if err != nil {
			c.code, c.status = "ClientClosedRequest", 499 // the caller left while it waited
			return
		}
		defer release(slot)
	}
	h.rp.ServeHTTP(&c.recorder, out)
}

// callToken fetches the token of c's tenant and API (usually from the cache), under a span
// and with a debug line when those are on; why is "call" or "401" (a replay's fresh token).
func (h *Handler) callToken(ctx context.Context, c *call, why string) (tokens.Token, error) {
	if !c.traced && !h.debug {
		return h.token(ctx, c.tenant.ID, c.api.Surface)
	}
	start := time.Now()
	var s trace.Span
	if c.traced {
		s = h.child(ctx, spanToken, trace.SpanKindInternal)
		s.SetAttributes(attrTenantID.String(c.tenant.ID), attrResource.String(h.resources[c.api.Surface]),
			attrReason.String(why))
	}
	tok, err := h.token(ctx, c.tenant.ID, c.api.Surface)
	if s != nil {
		endChild(s, err)
	}
	if h.debug {
		ev := h.log.Debug().Str("request_id", c.id).Str("tenant_id", c.tenant.ID).
			Str("resource", h.resources[c.api.Surface]).Str("reason", why).
			Float64("duration_ms", routing.Millis(time.Since(start)))
		if err != nil {
			ev.Str("error", describe(err).Code)
		}
		ev.Msg("token")
	}
	return tok, err
}

// token returns the tenant's token for the surface's resource.
func (h *Handler) token(ctx context.Context, tenantID string, s Surface) (tokens.Token, error) {
	if s == SurfaceMDE {
		return h.tokens.Token(ctx, tenantID)
	}
	if h.resTokens == nil {
		return tokens.Token{}, errNoResourceToken
	}
	return h.resTokens.TokenFor(ctx, tenantID, h.resources[s])
}

func isAPIPath(p string) bool {
	return p == "/api" || strings.HasPrefix(p, "/api/")
}

// rewrite shapes the outbound request. Only the headers forwardedHeader names pass (caller.go);
// ReverseProxy has already removed hop-by-hop headers and any the client listed in
// Connection, so what is set here survives (with Director, "Connection: Authorization"
// stripped the injected token).
func (h *Handler) rewrite(pr *httputil.ProxyRequest) {
	c := pr.In.Context().Value(callKey{}).(*call)
	pr.SetURL(c.ep.URL) // scheme, host, path joined; Host becomes the upstream's
	hdr := pr.Out.Header
	for k := range hdr {
		if !forwardedHeader(k) {
			delete(hdr, k) // Upgrade and Connection too, which ReverseProxy put back
		}
	}
	hdr["Authorization"] = c.token.Header()
	if h.links != nil {
		limitEncoding(hdr)
	}
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
	// The caller's body failed: the caller's fault, answered and logged as such, never the
	// upstream's (issue 14, finding 3). A body timeout also cancels the request's context
	// (net/http does so on any read error), but the caller is still there to get its 408.
	be := c.bodyErr.Load()
	if errors.Is(r.Context().Err(), context.Canceled) && (be == nil || !errors.Is(be.err, os.ErrDeadlineExceeded)) {
		c.code = "ClientClosedRequest" // the caller left: nobody to answer
		c.status = 499
		return
	}
	if be != nil {
		h.log.Info().Str("request_id", c.id).Str("error", describe(be).Code).Err(be.err).Msg("caller body failed")
		h.refuse(c, r, be)
		return
	}
	// A quota refusal or a body over the cap is not the upstream's failure.
	if th := (*ThrottledError)(nil); !errors.As(err, &th) && describe(err).Status >= 500 {
		c.failed = true
		h.log.Warn().Str("request_id", c.id).Str("tenant_id", c.tenant.ID).
			Str("region", c.ep.Region).Err(err).Msg("upstream failed")
	}
	h.fail(c, err)
}

// fail answers the client in MDE's error shape. Every error the gateway answers itself goes
// through here.
func (h *Handler) fail(c *call, err error) {
	ae := describe(err)
	c.code = ae.Code
	if th := (*ThrottledError)(nil); errors.As(err, &th) {
		c.recorder.Header().Set("Retry-After", th.retryAfterHeader())
	}
	writeError(&c.recorder, c.id, ae)
}

func (h *Handler) logCall(c *call, r *http.Request, total time.Duration) {
	ev := h.log.Info()
	if ev == nil {
		return
	}
	ev.Str("request_id", c.id).Str("remote_addr", h.remoteAddr(r))
	if ua := userAgent(r); ua != "" {
		ev.Str("user_agent", ua)
	}
	if c.span != nil {
		var b [32]byte
		if c.traceID(&b) {
			ev.Bytes("trace_id", b[:])
		}
	}
	if c.tenant != nil {
		ev.Str("tenant", c.tenant.Name).Str("tenant_id", c.tenant.ID).Str("region", c.ep.Region)
	}
	logRetries(ev, c)
	if c.client != "" {
		ev.Str("client", c.client)
	}
	p := c.path
	if p == "" {
		p = r.URL.Path
	}
	ev.Str("method", r.Method).Str("path", p).Int("status", c.statusCode()).
		Int64("bytes_out", c.bytes).
		Float64("duration_ms", routing.Millis(total)).
		Float64("upstream_ms", routing.Millis(c.upstream))
	if c.code != "" {
		ev.Str("error", c.code)
	}
	ev.Msg("request")
}

// observe hands the finished call to the metrics.
func (h *Handler) observe(c *call, r *http.Request, total time.Duration) {
	if h.metrics == nil {
		return
	}
	o := Observation{Tenant: c.tenant, Method: r.Method, Family: FamilyOther,
		Status: c.statusCode(), Total: total, Upstream: c.upstream, Reached: c.reached, UpstreamFailed: c.failed,
		Attempts: c.attempts, FailoverFrom: c.failoverFrom, ThrottleWait: c.throttleWait}
	if c.api != nil {
		o.Family, o.API = c.api.family, c.api
	}
	if c.ep != nil && c.bodyErr.Load() == nil { // a caller's broken body is no region's doing
		o.Region = c.ep.Region
	}
	h.metrics.Done(o)
}

// Value makes a call the context of its forwarded request: callKey{} finds the call, every
// other key the caller's context.
func (c *call) Value(key any) any {
	if _, ok := key.(callKey); ok {
		return c
	}
	return c.Context.Value(key)
}

// requestID keeps the caller's X-Request-ID when it is sane (1-128 characters of
// [A-Za-z0-9._:-]), so a tool's own correlation survives; otherwise it makes a random one in
// b, which must never change afterwards (the string shares its memory).
func requestID(v []string, b *[36]byte) string {
	if len(v) > 0 && saneID(v[0]) {
		return v[0]
	}
	const hexdigits = "0123456789abcdef"
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
	return unsafe.String(&b[0], len(b))
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

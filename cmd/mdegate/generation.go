package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/mdegate/mdegate/internal/config"
	"github.com/mdegate/mdegate/internal/intercept"
	"github.com/mdegate/mdegate/internal/tokenendpoint"
	"github.com/mdegate/mdegate/proxy"
	"github.com/mdegate/mdegate/routing"
	"github.com/mdegate/mdegate/tokens"
)

// A generation is everything one configuration builds: routing table, token source, transport
// and proxy handler. A reload builds a new generation and swaps it in atomically; requests
// already running finish on the generation they started with, which is then closed when its
// last request returns.
type generation struct {
	cfg       *config.Config
	routes    *routing.Table
	tokens    *sharedSource
	transport *sharedTransport
	handler   *proxy.Handler
	login     *tokenendpoint.Handler // the token endpoint (facade.go); nil when disabled
	loaded    time.Time
	// stopProber stops this generation's region prober (a no-op when no tenant uses auto).
	stopProber func()
	// redis is the quota limiter when limits.redis is set (nil otherwise), closed on drain.
	redis *proxy.RedisLimiter
	// handlerLimiter is the handler's limiter (nil when limits.shape is false): the next
	// generation continues its state.
	handlerLimiter proxy.Limiter

	// refs is 1 while the generation is current, plus 1 per request running on it. It never
	// rises again once it reached 0: acquire refuses a drained generation.
	refs    atomic.Int64
	drained chan struct{} // closed once the last reference is gone and resources are closed
}

// acquire takes a reference unless the generation is drained.
func (g *generation) acquire() bool {
	for {
		n := g.refs.Load()
		if n <= 0 {
			return false
		}
		if g.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops a reference; the last one closes the generation's resources.
func (g *generation) release() {
	if g.refs.Add(-1) == 0 {
		g.stopProber()
		if g.redis != nil {
			_ = g.redis.Close()
		}
		g.transport.release()
		g.tokens.release()
		close(g.drained)
	}
}

// sharedSource is a token source shared by the generations whose app credentials are the
// same, so a reload that leaves the app alone keeps every cached token.
type sharedSource struct {
	*tokens.Apps
	key  string // credentialKey of the config it was built from
	refs atomic.Int64
}

func (s *sharedSource) release() {
	if s.refs.Add(-1) == 0 {
		s.Close()
	}
}

// sharedTransport is the transport to MDE, shared by the generations with the same trusted
// roots and upstream timeout, so a reload keeps the warm connections.
type sharedTransport struct {
	*http.Transport
	key  string
	refs atomic.Int64
}

func (t *sharedTransport) release() {
	if t.refs.Add(-1) == 0 {
		t.CloseIdleConnections()
	}
}

func transportKey(c *config.Config, headerTimeout time.Duration) string {
	sum := sha256.Sum256(c.Resolved.CAPEM)
	return hex.EncodeToString(sum[:]) + "/" + headerTimeout.String()
}

// credentialKey identifies what the token sources are built from: authority, trusted roots,
// and every app with its credential and the tenants it serves. It is a hash, so no secret is
// kept twice in memory.
func credentialKey(c *config.Config) string {
	h := sha256.New()
	for _, s := range []string{c.Resolved.Cloud.LoginEndpoint, c.App.Identity(c.Resolved.App)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	for i, t := range c.Tenants {
		if t.App != nil {
			h.Write([]byte(t.ID + "=" + t.App.Identity(c.Resolved.TenantApps[i])))
			h.Write([]byte{0})
		}
	}
	h.Write(c.Resolved.CAPEM)
	return hex.EncodeToString(h.Sum(nil))
}

// newGeneration builds a generation from cfg, reusing prev's token source when the app
// credentials are unchanged (newSource reports its fetches to the metrics).
func (gw *gateway) newGeneration(cfg *config.Config, prev *generation) (*generation, error) {
	routes, err := routing.New(cfg.RoutingOptions())
	if err != nil {
		return nil, err
	}
	roots, err := cfg.Roots()
	if err != nil {
		return nil, err
	}
	families, headerTimeout := cfg.Limits.ProxyLimits()
	graphURL, err := url.Parse(cfg.Resolved.Cloud.Graph) // validated by config
	if err != nil || cfg.Resolved.Cloud.Graph == "" {
		graphURL = nil
	}
	key := credentialKey(cfg)
	var src *sharedSource
	if prev != nil && prev.tokens.key == key {
		src = prev.tokens
	} else {
		s, err := gw.newSource(cfg, roots)
		if err != nil {
			return nil, err
		}
		src = &sharedSource{Apps: s, key: key}
	}
	src.refs.Add(1)
	var transport *sharedTransport
	if tkey := transportKey(cfg, headerTimeout); prev != nil && prev.transport.key == tkey {
		transport = prev.transport
	} else {
		transport = &sharedTransport{Transport: proxy.NewTransport(roots, headerTimeout), key: tkey}
	}
	transport.refs.Add(1)
	var redisLimiter *proxy.RedisLimiter
	// fail gives back what this generation took when a later part cannot be built (the quota
	// store, the token endpoint, or a handler refusing a client entry).
	fail := func(err error) (*generation, error) {
		if redisLimiter != nil {
			_ = redisLimiter.Close()
		}
		src.release()
		transport.release()
		return nil, err
	}
	limiter, redisLimiter, err := gw.newLimiter(cfg, routes)
	if err != nil {
		return fail(err)
	}
	if prev != nil {
		// Quota survives a reload (issue 17): the APIs whose limits did not change keep
		// their in-memory history, so a reload grants no fresh burst against MDE.
		proxy.CarryQuota(limiter, prev.handlerLimiter)
	}
	var handler *proxy.Handler
	login, err := gw.newLogin(cfg, routes, src.Apps, &handler)
	if err != nil {
		return fail(err)
	}
	var gwTokens proxy.TokenVerifier
	if login != nil {
		gwTokens = login
	}
	var intercepted func(string) bool
	if p := gw.intercept; p != nil {
		intercepted = func(host string) bool { return p.HostClass(host) != intercept.Refused }
	}
	handler, err = proxy.New(proxy.Options{
		Routes:       routes,
		Tokens:       src.Apps,
		Transport:    transport.Transport,
		TenantHeader: cfg.Routing.TenantHeader,
		// The per-call logger has its level fixed, so a disabled level costs nothing.
		Logger:  gw.log.Level(parseLevel(cfg.Log.Level)),
		Metrics: gw.calls,
		Tracer:  gw.tracing.Tracer(), // nil when off

		Clients:                cfg.ProxyClients(),
		MaxBody:                cfg.Limits.MaxBody,
		Limiter:                limiter,
		MaxWait:                cfg.Limits.MaxWait,
		Families:               families,
		APIs:                   cfg.Limits.APILimits(),
		CallTimeout:            cfg.Limits.UpstreamTimeout,
		TransportHeaderTimeout: headerTimeout,
		HostSuffix:             cfg.Routing.HostSuffix,
		DefaultTenant:          cfg.Routing.DefaultTenant,
		PublicURL:              cfg.PublicBaseURL(),
		TrustedProxies:         cfg.TrustedProxyPrefixes(),
		// What a caller may hold (issue 14); zero values are the proxy's defaults.
		BodyTimeout:            cfg.Limits.BodyTimeout,
		WriteIdleTimeout:       cfg.Limits.WriteIdleTimeout,
		TenantMaxConcurrent:    cfg.Limits.TenantMaxConcurrent,
		AnonymousMaxConcurrent: cfg.Limits.AnonymousMaxConcurrent,
		GatewayTokens:          gwTokens,
		InterceptedHost:        intercepted,

		XDRResource:   cfg.Resolved.Cloud.XDRResource,
		GraphResource: cfg.Resolved.Cloud.GraphResource,
		GraphURL:      graphURL,
	})
	if err != nil {
		return fail(err)
	}
	// Only now that nothing can fail: a refused reload keeps the running tenants' counts.
	gw.calls.retain(routes.Tenants())
	g := &generation{
		redis:          redisLimiter,
		handlerLimiter: limiter,
		cfg:            cfg,
		routes:         routes,
		tokens:         src,
		transport:      transport,
		loaded:         gw.now(),
		stopProber:     func() {},
		handler:        handler,
		login:          login,
	}
	if usesAuto(routes) {
		// The first probe round (bounded to a few seconds) runs before the generation serves.
		g.stopProber = startProber(context.Background(), cfg, routes, roots, gw.log)
	}
	g.refs.Store(1)
	g.drained = make(chan struct{})
	gw.gens = append(gw.gens, g)
	return g, nil
}

func (gw *gateway) newSource(cfg *config.Config, roots *x509.CertPool) (*tokens.Apps, error) {
	onFetch := func(tenantID string, took time.Duration, err *tokens.Error) {
		name := tenantID
		if g := gw.cur.Load(); g != nil {
			if tn, rerr := g.routes.Resolve(tenantID); rerr == nil {
				name = tn.Name
			}
		}
		gw.metrics.TokenFetched(name, took, err)
	}
	return newTokenSources(cfg, &http.Client{Transport: proxy.NewTransport(roots, 0)}, gw.log, onFetch)
}

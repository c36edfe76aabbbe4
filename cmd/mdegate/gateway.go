package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdegate/mdegate/internal/config"
	"github.com/mdegate/mdegate/internal/consent"
	"github.com/mdegate/mdegate/internal/gctuner"
	"github.com/mdegate/mdegate/internal/intercept"
	"github.com/mdegate/mdegate/internal/metrics"
	"github.com/mdegate/mdegate/internal/statuspage"
	"github.com/mdegate/mdegate/internal/tokenendpoint"
	"github.com/mdegate/mdegate/internal/tracing"
	"github.com/mdegate/mdegate/proxy"
)

// gateway is the running server: the current generation behind an atomic pointer, the
// listeners, and the admin endpoints. Reloads run one at a time on the goroutine of run.
type gateway struct {
	path    string // config file; "" when the config did not come from a file (demo)
	sink    *logSink
	log     zerolog.Logger
	metrics *metrics.Registry
	now     func() time.Time
	opts    gatewayOptions

	cur      atomic.Pointer[generation]
	draining atomic.Bool // shutting down: /readyz says so

	srv      *http.Server      // main listener(s)
	adminSrv *http.Server      // admin_listen, when set
	tlsSrv   *http.Server      // tls.listen, when set (its TLS setup is fixed at start)
	tracing  *tracing.Provider // nil: tracing off; shut down when run returns
	started  time.Time
	calls    *callBook                 // the proxy's Metrics: the registry plus the status page's counters
	reloads  reloadBook                // for the status page
	signer   *consent.Signer           // consent.state_key, or a key made at start; fixed for the process
	landing  *consent.Handler          // /consent/callback on the caller-facing listeners
	ls       atomic.Pointer[listeners] // replaced, never modified, by the run goroutine
	adminMux http.Handler              // admin_listen: open to all
	// callerAdmin serves the admin paths on listen and tls.listen when admin_listen is not
	// set: only admin callers see what adminMux shows (admin.go).
	callerAdmin http.Handler
	status      http.Handler // the status page: / of admin_listen, and of listen for admin callers

	intercept *intercept.Proxy          // the proxy mode (facade.go); nil when not configured
	genKey    *tokenendpoint.SigningKey // the token endpoint's key made at start; nil until needed

	wg        sync.WaitGroup // Serve goroutines
	fatal     chan error     // a listener failed for another reason than being closed
	loadedSum [32]byte       // hash of the config file content in use; run goroutine only
	gens      []*generation  // generations not known to be drained; run goroutine only
}

// listeners are the listeners being served.
type listeners struct {
	main  *servedListener
	admin *servedListener // nil when admin paths are served on the main listener
	tls   *servedListener // nil without tls.listen
}

// servedListener is a listener being served; retired ones were closed on purpose, so their
// Serve error is not a failure.
type servedListener struct {
	net.Listener
	addr    string // as configured
	retired atomic.Bool
}

// gatewayOptions are what tests change in a gateway; the zero value is what `mdegate serve`
// runs.
type gatewayOptions struct {
	// Reload makes the gateway reload on each value received, as on SIGHUP, so tests need not
	// signal the whole test process. Nil: only SIGHUP and the config file's watch reload.
	Reload <-chan struct{}
	// QuotaMinute is the quota window in place of a minute (an hour being 60 of them), so
	// tests can match the emulator's short quota window. Zero: a minute.
	QuotaMinute time.Duration
}

func newGateway(cfg *config.Config, stdout io.Writer, opts gatewayOptions) (*gateway, error) {
	gw := &gateway{path: cfg.File, sink: newLogSink(stdout, cfg.Log), now: time.Now, fatal: make(chan error, 3),
		opts: opts}
	gw.log = gw.sink.logger()
	if err := gw.startTracing(cfg); err != nil {
		return nil, err
	}
	gw.metrics = metrics.New(metrics.Options{Tenants: gw.tenantStatus, Regions: gw.regionStatus, QuotaStore: gw.quotaStore,
		Version: buildVersion().Version, Commit: buildVersion().Commit})
	gw.started = gw.now()
	gw.calls = newCallBook(gw.metrics, gw.now)
	key := cfg.Resolved.ConsentKey
	if key == nil {
		key = consent.NewKey() // links made with it die with the process (config.ConsentConfig)
	}
	gw.signer = stateSigner(key, nil)
	gw.status = statuspage.New(statuspage.Options{Snapshot: gw.statusSnapshot, Now: gw.now})
	gw.adminMux = gw.adminHandler()
	gw.callerAdmin = gw.callerAdminHandler()
	var err error
	if gw.intercept, err = gw.newIntercept(cfg); err != nil {
		gw.stopTracing()
		return nil, err
	}
	g, err := gw.newGeneration(cfg, nil)
	if err != nil {
		gw.stopTracing()
		if gw.intercept != nil {
			_ = gw.intercept.Close()
		}
		return nil, err
	}
	gw.cur.Store(g)
	gw.landing = gw.newLanding()
	gw.metrics.Reloaded(true)
	gw.loadedSum = cfg.Sum
	gw.srv = gw.newServer(gw)
	gw.adminSrv = gw.newServer(gw.adminMux)
	return gw, nil
}

// newServer is an http.Server with each timeout explained.
func (gw *gateway) newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler: h,
		// A client gets 10 s to send its headers (slowloris), then its body may take as long
		// as it needs; answers stream without a write deadline (exports take minutes).
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          newStdLogger(gw.log),
	}
}

// ServeHTTP runs the request on the current generation, which stays open until it returns.
func (gw *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if isAdminPath(r.URL.Path) && gw.ls.Load().admin == nil {
		gw.callerAdmin.ServeHTTP(w, r)
		return
	}
	if gw.intercept != nil && intercept.IsProxyRequest(r) {
		gw.intercept.ServeHTTP(w, r) // tunnels hold no generation; the requests inside do
		return
	}
	if r.URL.Path == consent.CallbackPath { // public, no caller key (see landing.go)
		gw.landing.ServeHTTP(w, r)
		return
	}
	if r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) && gw.isAdminCaller(r) {
		gw.status.ServeHTTP(w, r) // anyone else gets the proxy's 404, as for any path outside the APIs
		return
	}
	g := gw.acquireOrRefuse(w)
	if g == nil {
		return
	}
	defer g.release()
	gw.dispatch(g, w, r)
}

// acquireOrRefuse is acquire for a request: with no generation left (a connection that
// outlived the shutdown's cancellation) it answers 503 in MDE's error shape and returns nil.
func (gw *gateway) acquireOrRefuse(w http.ResponseWriter) *generation {
	g := gw.acquire()
	if g == nil {
		writeJSON(w, http.StatusServiceUnavailable, shuttingDown)
	}
	return g
}

// shuttingDown is the answer of acquireOrRefuse.
var shuttingDown = map[string]map[string]string{"error": {
	"code":    "ServiceUnavailable",
	"message": "the gateway is shutting down",
}}

// acquire returns the current generation with a reference taken. A generation swapped out and
// drained between the load and the increment is skipped for the new current one.
func (gw *gateway) acquire() *generation {
	for {
		g := gw.cur.Load()
		if g == nil || g.acquire() {
			return g
		}
	}
}

func isAdminPath(p string) bool {
	return p == "/healthz" || p == "/readyz" || p == "/metrics"
}

// listen opens a plain HTTP listener (host:port or unix:/path). It refuses a request with
// both Content-Length and Transfer-Encoding with 400 and closes its connection (issue 14,
// finding 11), which net/http alone does not.
func (gw *gateway) listen(addr string) (*servedListener, error) {
	ln, err := listen(addr)
	if err != nil {
		return nil, err
	}
	return &servedListener{Listener: proxy.GuardFraming(ln), addr: addr}, nil
}

// listenTLS opens tls.listen's listener; the server's TLS is on top of it, so it cannot be
// guarded like a plain one (proxy.GuardFraming).
func (gw *gateway) listenTLS(addr string) (*servedListener, error) {
	ln, err := listen(addr)
	if err != nil {
		return nil, err
	}
	return &servedListener{Listener: ln, addr: addr}, nil
}

// serveOn serves sl on srv, with TLS when srv is the HTTPS server. (srv.TLSConfig cannot
// tell: Serve sets an empty one on a plain server when it configures HTTP/2.)
func (gw *gateway) serveOn(srv *http.Server, sl *servedListener) {
	gw.wg.Add(1)
	go func() {
		defer gw.wg.Done()
		var err error
		if srv == gw.tlsSrv {
			err = srv.ServeTLS(sl, "", "")
		} else {
			err = srv.Serve(sl)
		}
		if !errors.Is(err, http.ErrServerClosed) && !sl.retired.Load() {
			gw.fatal <- fmt.Errorf("serve %s: %w", sl.Addr(), err)
		}
	}()
}

// retire stops accepting on a listener; connections it accepted are served to the end.
func retire(sl *servedListener) {
	if sl != nil {
		sl.retired.Store(true)
		_ = sl.Close()
	}
}

// run serves until ctx is done, reloading on each trigger, then shuts down: no new
// connections, in-flight requests get shutdown_timeout to finish, then they are cancelled.
func (gw *gateway) run(ctx context.Context) error {
	gw.sink.startBuffer()
	defer gw.sink.stopBuffer() // after the last line ("stopped"), so nothing is lost
	defer gw.stopTracing()     // after the last call's span
	// While the gateway is busy the heap may grow between collections (internal/gctuner).
	defer gctuner.Start(gw.log, 0)()
	cfg := gw.cur.Load().cfg
	ls := &listeners{}
	var err error
	if ls.main, err = gw.listen(cfg.Listen); err != nil {
		gw.close()
		return err
	}
	if cfg.AdminListen != "" {
		if ls.admin, err = gw.listen(cfg.AdminListen); err != nil {
			retire(ls.main)
			gw.close()
			return err
		}
	}
	if cfg.TLS.Listen != "" {
		https, err := newHTTPS(ctx, cfg, gw.log)
		if err == nil {
			ls.tls, err = gw.listenTLS(cfg.TLS.Listen)
			if err != nil {
				https.stop()
				err = fmt.Errorf("tls.%w", err)
			}
		}
		if err != nil {
			retire(ls.main)
			retire(ls.admin)
			gw.close()
			return err
		}
		defer https.stop()
		gw.tlsSrv = gw.newServer(gw)
		gw.tlsSrv.TLSConfig = https.config
		if gw.intercept != nil { // the Microsoft names by SNI, for partners who use DNS instead of a proxy
			https.config.GetCertificate = gw.intercept.GetCertificate(https.config.GetCertificate)
		}
	}
	gw.ls.Store(ls)
	if ls.admin != nil {
		gw.serveOn(gw.adminSrv, ls.admin)
	}
	if ls.tls != nil {
		gw.serveOn(gw.tlsSrv, ls.tls)
	}
	gw.serveOn(gw.srv, ls.main)
	if len(cfg.Clients) == 0 && cfg.AllowAnonymous {
		gw.log.Warn().Msg("allow_anonymous: no clients are configured, so anyone who reaches the gateway can act on every customer's machines")
	}
	for _, w := range cfg.Warnings() {
		gw.log.Warn().Msg(w)
	}
	// SIGHUP is caught before the gateway says it listens: from then on it reloads, never kills.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	gw.logListening(cfg)
	var watch *configWatcher
	if gw.path != "" && cfg.WatchConfig {
		if watch, err = newConfigWatcher(gw.path); err != nil {
			gw.log.Warn().Err(err).Msg("config file not watched; reload with SIGHUP")
			watch, err = nil, nil
		}
	}
	defer watch.close()
	for err == nil {
		select {
		case <-ctx.Done():
			return gw.shutdown()
		case err = <-gw.fatal:
		case <-hup:
			_ = gw.reload(false)
		case <-gw.opts.Reload:
			_ = gw.reload(false)
		case <-watch.events():
			watch.arm()
		case werr := <-watch.errors():
			gw.log.Warn().Err(werr).Msg("config watch error")
		case <-watch.fired():
			_ = gw.reload(true)
		}
	}
	_ = gw.shutdown()
	return err
}

func (gw *gateway) logListening(cfg *config.Config) {
	g, ls := gw.cur.Load(), gw.ls.Load()
	ev := gw.log.Info().Str("listen", ls.main.Addr().String())
	if ls.admin != nil {
		ev.Str("admin_listen", ls.admin.Addr().String())
	}
	if ls.tls != nil {
		ev.Str("tls_listen", ls.tls.Addr().String())
	}
	ev.Int("tenants", len(g.routes.Tenants())).Int("clients", len(cfg.Clients)).Str("cloud", cfg.Cloud.Name).
		Strs("regions", regionNames(g.routes)).Str("version", buildVersion().Version).Msg("mdegate listening")
}

// shutdown stops both servers gracefully within shutdown_timeout, then closes what is left.
func (gw *gateway) shutdown() error {
	gw.draining.Store(true)
	timeout := gw.cur.Load().cfg.ShutdownGrace()
	gw.log.Info().Dur("timeout", timeout).Msg("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var err error
	for _, srv := range []*http.Server{gw.srv, gw.adminSrv, gw.tlsSrv} {
		if srv == nil {
			continue
		}
		if serr := srv.Shutdown(sctx); errors.Is(serr, context.DeadlineExceeded) {
			gw.log.Warn().Msg("shutdown timeout: cancelling the calls still running")
			_ = srv.Close()
		} else if serr != nil && err == nil {
			err = serr
		}
	}
	gw.wg.Wait()
	if gw.intercept != nil {
		_ = gw.intercept.Close() // the tunnels, which Shutdown does not track
	}
	gw.close()
	gw.waitDrained(drainGrace)
	gw.log.Info().Msg("stopped")
	return err
}

// drainGrace bounds the wait, after the servers closed, for handlers that were cancelled to
// return and release their generation (whose token source then stops its refreshes).
const drainGrace = 5 * time.Second

// waitDrained waits until every generation has closed its resources, or d has passed.
func (gw *gateway) waitDrained(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for _, g := range gw.gens {
		select {
		case <-g.drained:
		case <-t.C:
			gw.log.Warn().Msg("calls still running after shutdown")
			return
		}
	}
	gw.gens = nil
}

// forgetDrained drops the generations that have closed, so gens does not grow with reloads.
func (gw *gateway) forgetDrained() {
	live := gw.gens[:0]
	for _, g := range gw.gens {
		select {
		case <-g.drained:
		default:
			live = append(live, g)
		}
	}
	clear(gw.gens[len(live):])
	gw.gens = live
}

// close drops the gateway's reference on the current generation.
func (gw *gateway) close() {
	if g := gw.cur.Swap(nil); g != nil {
		g.release()
	}
}

// tenantStatus feeds the token metrics from the current generation.
func (gw *gateway) tenantStatus() []metrics.TenantStatus {
	g := gw.cur.Load()
	if g == nil {
		return nil
	}
	ts := g.routes.Tenants()
	out := make([]metrics.TenantStatus, len(ts))
	for i, tn := range ts {
		out[i] = metrics.TenantStatus{Name: tn.Name, Region: tn.Endpoint.Region, Status: g.tokens.Status(tn.ID)}
	}
	return out
}

// newStdLogger routes net/http's own complaints (TLS handshake errors, panics) to zerolog.
func newStdLogger(log zerolog.Logger) *stdlog.Logger {
	return stdlog.New(log.With().Str("component", "http").Logger(), "", 0)
}

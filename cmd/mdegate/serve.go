package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/mdegate/mdegate/proxy"
	"github.com/mdegate/mdegate/routing"
	"github.com/mdegate/mdegate/tokens"
)

// serve wires config → routing → tokens → proxy → server and runs until ctx is done.
func serve(ctx context.Context, cfg *Config, stdout io.Writer) error {
	log := newLogger(cfg.Log, stdout)
	routes, err := routing.New(cfg.routingOptions())
	if err != nil {
		return err
	}
	roots, err := cfg.roots()
	if err != nil {
		return err
	}
	src, err := tokens.New(cfg.tokenOptions(&http.Client{Transport: proxy.NewTransport(roots, 0)}, log))
	if err != nil {
		return err
	}
	defer src.Close()
	clients := cfg.proxyClients()
	if err := proxy.CheckClients(clients, routes); err != nil {
		return err
	}
	families, headerTimeout := cfg.Limits.proxyLimits()
	var limiter proxy.Limiter
	if cfg.Limits.shaping() {
		limiter = proxy.NewMemoryLimiter(proxy.MemoryLimiterOptions{TenantIDs: tenantIDs(routes)})
	}
	handler := proxy.New(proxy.Options{
		Clients:         clients,
		MaxBody:         cfg.Limits.MaxBody,
		Routes:          routes,
		Tokens:          src,
		Transport:       proxy.NewTransport(roots, headerTimeout),
		TenantHeader:    cfg.Routing.TenantHeader,
		Logger:          log,
		Limiter:         limiter,
		MaxWait:         cfg.Limits.MaxWait,
		Families:        families,
		UpstreamTimeout: cfg.Limits.UpstreamTimeout,
		HeaderTimeout:   headerTimeout,
		HostSuffix:      cfg.Routing.HostSuffix,
		DefaultTenant:   cfg.Routing.DefaultTenant,
		PublicURL:       cfg.publicURL(),
		TrustedProxies:  cfg.trustedProxies(),
	})
	if usesAuto(routes) {
		stop := startProber(ctx, cfg, routes, roots, log)
		defer stop()
	}
	if len(cfg.Clients) == 0 && cfg.AllowAnonymous {
		log.Warn().Msg("allow_anonymous: no clients are configured, so anyone who reaches the gateway can act on every customer's machines")
	}
	ln, err := listen(cfg.Listen)
	if err != nil {
		return err
	}
	if cfg.TLS.Listen == "" {
		log.Info().Str("listen", ln.Addr().String()).Int("tenants", len(routes.Tenants())).Int("clients", len(cfg.Clients)).
			Str("cloud", cfg.Cloud.Name).Strs("regions", regionNames(routes)).Str("version", version).
			Msg("mdegate listening")
		return runServer(ctx, ln, handler, log, nil)
	}
	return serveBoth(ctx, cfg, ln, handler, log, stdout, func(tlsAddr string) {
		log.Info().Str("listen", ln.Addr().String()).Str("tls_listen", tlsAddr).Int("tenants", len(routes.Tenants())).
			Int("clients", len(cfg.Clients)).Str("cloud", cfg.Cloud.Name).Strs("regions", regionNames(routes)).
			Str("version", version).Msg("mdegate listening")
	})
}

// runServer serves until ctx is done, then shuts down gracefully: no new connections, and
// in-flight requests get up to shutdownTimeout to finish.
// With tlsCfg it serves HTTPS (HTTP/2 included) on ln.
func runServer(ctx context.Context, ln net.Listener, h http.Handler, log zerolog.Logger, tlsCfg *tls.Config) error {
	srv := &http.Server{
		Handler: h,
		// A client gets 10 s to send its headers (slowloris), then its body may take as long
		// as it needs; answers stream without a write deadline (exports take minutes).
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          newStdLogger(log),
		TLSConfig:         tlsCfg,
	}
	errc := make(chan error, 1)
	go func() {
		if tlsCfg != nil {
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close()
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

const shutdownTimeout = 30 * time.Second

func regionNames(t *routing.Table) []string {
	var names []string
	for _, ep := range t.Endpoints() {
		names = append(names, ep.Region)
	}
	return names
}

// routingOptions is the routing table's view of the config.
func (c *Config) routingOptions() routing.Options {
	o := routing.Options{Regions: c.Cloud.cloud.Regions, DefaultRegion: c.Routing.Region}
	for _, t := range c.Tenants {
		o.Tenants = append(o.Tenants, routing.TenantOptions{Name: t.Name, ID: t.ID, Region: t.Region})
	}
	return o
}

// tokenOptions is the token source's view of the config.
func (c *Config) tokenOptions(client *http.Client, log zerolog.Logger) tokens.Options {
	return tokens.Options{
		Authority:  c.Cloud.cloud.LoginEndpoint,
		ClientID:   c.App.ClientID,
		Secret:     c.App.secret,
		Certs:      c.App.certs,
		Key:        c.App.key,
		Scope:      c.App.Scope,
		HTTPClient: client,
		Logger:     log,
	}
}

// roots are the system roots plus cloud.ca_file's certificates.
func (c *Config) roots() (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if len(c.Cloud.caPEM) > 0 && !pool.AppendCertsFromPEM(c.Cloud.caPEM) {
		return nil, errors.New("cloud.ca_file: no PEM certificates")
	}
	return pool, nil
}

func newLogger(lc LogConfig, w io.Writer) zerolog.Logger {
	if lc.Format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	}
	level, err := zerolog.ParseLevel(strings.ToLower(lc.Level))
	if err != nil || lc.Level == "" {
		level = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

// newStdLogger routes net/http's own complaints (TLS handshake errors, panics) to zerolog.
func newStdLogger(log zerolog.Logger) *stdlog.Logger {
	return stdlog.New(log.With().Str("component", "http").Logger(), "", 0)
}

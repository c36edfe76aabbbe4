package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
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
	src, err := cfg.newTokenSources(&http.Client{Transport: proxy.NewTransport(roots, 0)}, log)
	if err != nil {
		return err
	}
	defer src.Close()
	handler := proxy.New(proxy.Options{
		Routes:       routes,
		Tokens:       src,
		Transport:    proxy.NewTransport(roots, cfg.Limits.UpstreamTimeout),
		TenantHeader: cfg.Routing.TenantHeader,
		Logger:       log,
	})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	log.Info().Str("listen", ln.Addr().String()).Int("tenants", len(routes.Tenants())).
		Str("cloud", cfg.Cloud.Name).Strs("regions", regionNames(routes)).Str("version", version).
		Msg("mdegate listening")
	return runServer(ctx, ln, handler, log)
}

// runServer serves until ctx is done, then shuts down gracefully: no new connections, and
// in-flight requests get up to shutdownTimeout to finish.
func runServer(ctx context.Context, ln net.Listener, h http.Handler, log zerolog.Logger) error {
	srv := &http.Server{
		Handler: h,
		// A client gets 10 s to send its headers (slowloris), then its body may take as long
		// as it needs; answers stream without a write deadline (exports take minutes).
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          newStdLogger(log),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
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

// tokenOptions is the token source's view of the config's top-level app; tenants with their
// own app get theirs from newTokenSources.
func (c *Config) tokenOptions(client *http.Client, log zerolog.Logger) tokens.Options {
	return c.sourceOptions(&c.App, client, log)
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

package main

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	stdlog "log"

	"github.com/rs/zerolog"

	"github.com/mdegate/mdegate/routing"
)

// serve wires config → routing → tokens → proxy → server and runs until ctx is done,
// reloading on SIGHUP or a change of the config file (gateway.go, reload.go).
func serve(ctx context.Context, cfg *Config, stdout io.Writer) error {
	cfg.quotaMinute = quotaMinute(ctx)
	gw, err := newGateway(cfg, stdout)
	if err != nil {
		return err
	}
	return gw.run(ctx)
}

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

// newStdLogger routes net/http's own complaints (TLS handshake errors, panics) to zerolog.
func newStdLogger(log zerolog.Logger) *stdlog.Logger {
	return stdlog.New(log.With().Str("component", "http").Logger(), "", 0)
}

package main

import (
	"context"
	"net/url"
	"time"

	"github.com/mdegate/mdegate/internal/config"
	"github.com/mdegate/mdegate/internal/tracing"
)

// tracingShutdownTimeout bounds the export of the spans still pending when the gateway stops.
const tracingShutdownTimeout = 5 * time.Second

// startTracing starts the tracer provider of the tracing section (nil when off). It is read
// once, at start: a reload keeps the provider the gateway started with.
func (gw *gateway) startTracing(cfg *config.Config) error {
	tc := &cfg.Tracing
	p, err := tracing.New(tracing.Options{Endpoint: tc.OTLPEndpoint, SampleRatio: tc.Ratio(),
		ServiceName: tc.Service(), Version: buildVersion().Version, Logger: gw.log})
	if err != nil {
		return err
	}
	gw.tracing = p
	if p != nil {
		gw.log.Info().Str("otlp_endpoint", endpointHost(tc.OTLPEndpoint)).Float64("sample_ratio", tc.Ratio()).
			Str("service_name", tc.Service()).Msg("tracing on")
	}
	return nil
}

// endpointHost is what the log says of tracing.otlp_endpoint: its scheme and host only. A
// collector's token may sit in the URL's user info or query; "" (the endpoint from
// OTEL_EXPORTER_OTLP_ENDPOINT) stays "".
func endpointHost(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// stopTracing exports what is pending and stops the provider.
func (gw *gateway) stopTracing() {
	ctx, cancel := context.WithTimeout(context.Background(), tracingShutdownTimeout)
	defer cancel()
	if err := gw.tracing.Shutdown(ctx); err != nil {
		gw.log.Warn().Err(err).Msg("tracing shutdown")
	}
	gw.tracing = nil
}

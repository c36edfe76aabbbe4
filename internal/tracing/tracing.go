// Package tracing sets up the OpenTelemetry tracer provider the gateway's spans go through:
// an OTLP HTTP exporter, a batch processor and a parent-based ratio sampler, built from the
// configuration's tracing section. The gateway's run loop owns the Provider and shuts it down.
// The exporter's client is the package's own (otlphttp.go), not otlptracehttp, which links gRPC;
// it reads the OTEL_EXPORTER_OTLP_* variables otlptracehttp read (see newOTLPClient).
//
// Only this package depends on the OpenTelemetry SDK; the proxy sees the trace API alone.
package tracing

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"
)

// Options configure a Provider.
type Options struct {
	// Endpoint is the collector's base URL (http://host:4318); spans are posted to its
	// /v1/traces. "" means the OTEL_EXPORTER_OTLP_ENDPOINT or
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT environment variable, and tracing is off when neither
	// is set.
	Endpoint string
	// SampleRatio is the share of calls traced that carry no traceparent; a caller's own
	// sampling decision is followed. Zero traces none of those.
	SampleRatio float64
	// ServiceName is the service.name resource attribute. "" means "mdegate".
	ServiceName string
	// Version is the service.version resource attribute. "" means none.
	Version string
	// Logger gets the exporter's failures (a collector down, a refused batch). The zero
	// Logger discards them.
	Logger zerolog.Logger
}

// Provider is a running tracer provider. A nil *Provider is tracing turned off: its Tracer
// is nil and Shutdown does nothing.
type Provider struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
}

// enabled reports whether opts turn tracing on.
func enabled(opts Options) bool {
	return opts.Endpoint != "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" ||
		os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// New starts a Provider, or returns nil when opts turn tracing off. Nothing is sent until a
// span ends; an unreachable collector is logged, never fatal.
func New(opts Options) (*Provider, error) {
	if !enabled(opts) {
		return nil, nil
	}
	client, err := newOTLPClient(opts)
	if err != nil {
		return nil, err
	}
	// New makes no connection (Start does nothing); the context is not kept.
	exp, err := otlptrace.New(context.Background(), client)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	name := opts.ServiceName
	if name == "" {
		name = "mdegate"
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", name)}
	if opts.Version != "" {
		attrs = append(attrs, attribute.String("service.version", opts.Version))
	}
	// The exporter reports failures through OpenTelemetry's one global handler; it is set
	// here, once per provider, so they reach the gateway's log rather than stderr.
	log := opts.Logger.With().Str("component", "tracing").Logger()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn().Err(err).Msg("tracing export failed")
	}))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
		// The ratio is applied by rootSampler before the SDK is asked; what reaches it is
		// traced, or follows its parent's decision.
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
	)
	return &Provider{tp: tp, tracer: &rootSampler{sdk: tp.Tracer("github.com/mdegate/mdegate/proxy"), ratio: opts.SampleRatio}}, nil
}

// Tracer is the gateway's tracer, or nil when p is nil (tracing off).
func (p *Provider) Tracer() trace.Tracer {
	if p == nil {
		return nil
	}
	return p.tracer
}

// rootSampler decides whether a call without a trace context is traced before the SDK is
// asked: the SDK's own ratio sampler decides only after it has made IDs, options and a
// context for a span it then drops, which at a 5 % ratio was most of tracing's cost per call.
// A left-out call gets a shared no-op span and its context back unchanged: no allocation, no
// trace ID (there is no trace to look up). A span with a parent (the caller's traceparent, or
// one of the gateway's own children) always goes to the SDK, which follows the parent.
type rootSampler struct {
	embedded.Tracer
	sdk   trace.Tracer
	ratio float64
}

// unsampled is the span of a call left out, boxed once.
var unsampled trace.Span = noop.Span{}

func (t *rootSampler) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() && (t.ratio <= 0 || rand.Float64() >= t.ratio) {
		return ctx, unsampled
	}
	return t.sdk.Start(ctx, name, opts...)
}

// Shutdown exports the spans still pending and stops the provider, within ctx.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil {
		return nil
	}
	return p.tp.Shutdown(ctx)
}

package tracing

import (
	"context"
	"testing"
)

// Off by default: no endpoint and no OTEL_EXPORTER_OTLP_ENDPOINT is no provider, whose
// Tracer is nil (the proxy then traces nothing) and whose Shutdown does nothing.
func TestOffWithoutEndpoint(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	p, err := New(Options{SampleRatio: 1})
	if err != nil || p != nil {
		t.Fatalf("got %v, %v; want no provider", p, err)
	}
	if p.Tracer() != nil || p.Shutdown(context.Background()) != nil {
		t.Error("a nil provider traces or fails")
	}
}

// OTEL_EXPORTER_OTLP_ENDPOINT alone turns tracing on.
func TestOnFromEnvironment(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	p, err := New(Options{})
	if err != nil || p == nil || p.Tracer() == nil {
		t.Fatalf("got %v, %v; want a provider", p, err)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

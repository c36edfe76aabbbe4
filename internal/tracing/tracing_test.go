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

// A call without a trace context that the ratio leaves out costs no allocation and gets no
// trace ID; at ratio 1 every one is recorded; a caller's sampled parent is followed at ratio 0.
func TestRootSampler(t *testing.T) {
	p0, err := New(Options{Endpoint: "http://127.0.0.1:4318", SampleRatio: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p0.Shutdown(context.Background()) }()
	ctx := context.Background()
	tr := p0.Tracer()
	if allocs := testing.AllocsPerRun(100, func() {
		_, s := tr.Start(ctx, "call")
		s.End()
	}); allocs != 0 {
		t.Errorf("a left-out call allocates %v times, want 0", allocs)
	}
	if _, s := tr.Start(ctx, "call"); s.IsRecording() || s.SpanContext().HasTraceID() {
		t.Error("ratio 0 recorded a root span")
	}
	p1, err := New(Options{Endpoint: "http://127.0.0.1:4318", SampleRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p1.Shutdown(context.Background()) }()
	pctx, root := p1.Tracer().Start(ctx, "call")
	if !root.IsRecording() {
		t.Fatal("ratio 1 left a root span out")
	}
	if _, child := tr.Start(pctx, "child"); !child.IsRecording() {
		t.Error("ratio 0 dropped a child of a sampled parent")
	}
}

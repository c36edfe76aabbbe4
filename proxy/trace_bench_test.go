package proxy_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rs/zerolog"

	"github.com/mdegate/mdegate/internal/emulator"
	"github.com/mdegate/mdegate/internal/tracing"
	"github.com/mdegate/mdegate/proxy"
	"github.com/mdegate/mdegate/routing"
)

// BenchmarkForwardTracing is BenchmarkForward's whole call (logged, links on) with tracing off
// and on at 5 %, the default sample_ratio, exporting over OTLP HTTP to a loopback collector
// that discards. Run with -count, which alternates the two: paired runs on the same machine
// state.
func BenchmarkForwardTracing(b *testing.B) {
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer collector.Close()
	for _, on := range []bool{false, true} {
		b.Run("tracing="+onOff(on), func(b *testing.B) {
			var p *tracing.Provider
			if on {
				var err error
				if p, err = tracing.New(tracing.Options{Endpoint: collector.URL, SampleRatio: 0.05}); err != nil {
					b.Fatal(err)
				}
				defer func() { _ = p.Shutdown(context.Background()) }()
			}
			benchForwardSpread(b, 1, 1, true, true, nil, p.Tracer())
		})
	}
}

// BenchmarkTracing is BenchmarkHandlerOnly with tracing off, and on at 5 % and 100 %
// sampling, exporting over OTLP HTTP to a collector on loopback that discards. Paired runs
// (-count) compare the CPU per call; README "Tracing" quotes them.
func BenchmarkTracing(b *testing.B) {
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer collector.Close()
	for _, ratio := range []float64{-1, 0.05, 1} {
		name := "off"
		if ratio >= 0 {
			name = fmt.Sprintf("ratio=%v", ratio)
		}
		b.Run(name, func(b *testing.B) {
			var tracer *tracing.Provider
			if ratio >= 0 {
				p, err := tracing.New(tracing.Options{Endpoint: collector.URL, SampleRatio: ratio})
				if err != nil {
					b.Fatal(err)
				}
				defer func() { _ = p.Shutdown(context.Background()) }()
				tracer = p
			}
			src := benchSource(b, []emulator.Tenant{{ID: tenantID(0), Name: "t0", Consented: true}})
			if _, err := src.Token(context.Background(), tenantID(0)); err != nil {
				b.Fatal(err)
			}
			routes, _ := routing.New(routing.Options{Regions: map[string]string{routing.Global: "https://mde.invalid"},
				Tenants: []routing.TenantOptions{{Name: "t0", ID: tenantID(0)}}})
			h := newHandler(b, proxy.Options{Routes: routes, Tokens: src, Transport: roundTripFunc(answer),
				Logger: zerolog.New(io.Discard), Tracer: tracer.Tracer()})
			req := httptest.NewRequest("GET", "/api/alerts", nil)
			req.Header.Set("X-Tenant-ID", "t0")
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				h.ServeHTTP(discard{}, req)
			}
		})
	}
}

package proxy_test

import (
	"context"
	"crypto/sha256"
	"io"
	"net/http/httptest"
	"testing"

	"github.com/rs/zerolog"

	"github.com/mdegate/mdegate/internal/emulator"
	"github.com/mdegate/mdegate/proxy"
	"github.com/mdegate/mdegate/routing"
)

// BenchmarkHandlerWithClient is BenchmarkHandlerOnly with a caller key and an allow list: the
// cost of identifying the caller and checking its policy on every request.
func BenchmarkHandlerWithClient(b *testing.B) {
	src := benchSource(b, []emulator.Tenant{{ID: tenantID(0), Name: "t0", Consented: true}})
	if _, err := src.Token(context.Background(), tenantID(0)); err != nil {
		b.Fatal(err)
	}
	routes, _ := routing.New(routing.Options{Regions: map[string]string{routing.Global: "https://mde.invalid"},
		Tenants: []routing.TenantOptions{{Name: "t0", ID: tenantID(0)}}})
	const key = "mdg_bench_key"
	h := newHandler(b, proxy.Options{Routes: routes, Tokens: src, Transport: roundTripFunc(answer),
		Logger: zerolog.New(io.Discard).With().Timestamp().Logger(),
		Clients: []proxy.Client{{Name: "siem", KeySHA256: sha256.Sum256([]byte(key)), Tenants: []string{"t0"},
			Allow: []string{"GET /api/machines*", "POST /api/advancedqueries/run", "GET /api/alerts*"}}}})
	req := httptest.NewRequest("GET", "/api/alerts", nil)
	req.Header.Set("X-Tenant-ID", "t0")
	req.Header.Set("Authorization", "Bearer "+key)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.ServeHTTP(discard{}, req)
	}
}

package proxy_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/mdegate/mdegate/internal/emulator"
	"github.com/mdegate/mdegate/internal/metrics"
	"github.com/mdegate/mdegate/proxy"
	"github.com/mdegate/mdegate/routing"
	"github.com/mdegate/mdegate/tokens"
)

const benchClient = "6a1c3f0e-2b4d-4e8f-9a7b-0c1d2e3f4a5b"

// alertsBody is the size of a small MDE answer (the shared bench's /api/alerts is 2,120 bytes).
var alertsBody = `{"@odata.context":"https://api.security.microsoft.com/api/$metadata#Alerts","value":[` +
	strings.Repeat(`{"id":"da637","severity":"Medium","status":"New","title":"Suspicious PowerShell"},`, 26) + `{}]}`

var alertsLen = strconv.Itoa(len(alertsBody))

func tenantID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

// BenchmarkForward measures the gateway's whole hot path in process: tenant lookup, cached
// token, header hygiene, ReverseProxy to a TLS upstream with keep-alive, and (with logging) one
// JSON line per call. The upstream and the client run in the same process, so ns/op includes
// them; allocs/op is the figure to watch. links=on rewrites the answer's @odata.context (the
// default); links=off is Options.KeepLinks.
func BenchmarkForward(b *testing.B) {
	for _, tenants := range []int{1, 10000} {
		for _, logging := range []bool{false, true} {
			for _, links := range []bool{false, true} {
				b.Run(fmt.Sprintf("tenants=%d/log=%v/links=%v", tenants, logging, onOff(links)), func(b *testing.B) {
					benchForward(b, tenants, logging, links)
				})
			}
		}
	}
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

func benchForward(b *testing.B, nTenants int, logging, links bool) {
	benchForwardWith(b, nTenants, logging, links, nil)
}

// BenchmarkForwardSpread is the logged path with the load spread over many distinct tenants
// (issue 7: x floor within 5% of the one-tenant run while 1,000 tenants share the load), each
// with its own cached token and metrics series.
func BenchmarkForwardSpread(b *testing.B) {
	for _, c := range []struct{ tenants, spread int }{{1, 1}, {10000, 1000}} {
		b.Run(fmt.Sprintf("tenants=%d/spread=%d", c.tenants, c.spread), func(b *testing.B) {
			benchForwardSpread(b, c.tenants, c.spread, true, true, metrics.New(metrics.Options{}), nil)
		})
	}
}

// BenchmarkForwardMetrics is BenchmarkForward's logged path with the Prometheus metrics on.
func BenchmarkForwardMetrics(b *testing.B) {
	for _, tenants := range []int{1, 10000} {
		b.Run(fmt.Sprintf("tenants=%d", tenants), func(b *testing.B) {
			benchForwardWith(b, tenants, true, true, metrics.New(metrics.Options{}))
		})
	}
}

func benchForwardWith(b *testing.B, nTenants int, logging, links bool, m proxy.Metrics) {
	benchForwardSpread(b, nTenants, 100, logging, links, m, nil)
}

// benchForwardSpread forwards for the first min(used, nTenants) of nTenants tenants in turn.
func benchForwardSpread(b *testing.B, nTenants, used int, logging, links bool, m proxy.Metrics, tracer trace.Tracer) {
	// Entra: the emulator; only the tenants the load uses are warmed.
	et := make([]emulator.Tenant, 0, used)
	for i := range min(used, nTenants) {
		et = append(et, emulator.Tenant{ID: tenantID(i), Name: fmt.Sprintf("t%d", i), Consented: true})
	}
	src := benchSource(b, et)

	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// With its length, as MDE and the shared harness's upstream send a page.
		w.Header()["Content-Type"] = []string{"application/json; charset=utf-8"}
		w.Header()["Content-Length"] = []string{alertsLen}
		_, _ = io.WriteString(w, alertsBody)
	}))
	defer upstream.Close()
	pool := upstream.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs

	ro := routing.Options{Regions: map[string]string{routing.Global: upstream.URL}}
	for i := range nTenants {
		ro.Tenants = append(ro.Tenants, routing.TenantOptions{Name: fmt.Sprintf("t%d", i), ID: tenantID(i)})
	}
	routes, err := routing.New(ro)
	if err != nil {
		b.Fatal(err)
	}
	names := make([]string, min(used, nTenants))
	for i := range names {
		names[i] = fmt.Sprintf("t%d", i)
		if _, err := src.Token(context.Background(), tenantID(i)); err != nil {
			b.Fatal(err)
		}
	}
	log := zerolog.Nop()
	if logging {
		log = zerolog.New(io.Discard).With().Timestamp().Logger()
	}
	h := newHandler(b, proxy.Options{Routes: routes, Tokens: src, Transport: proxy.NewTransport(pool, 0), Logger: log, KeepLinks: !links, Metrics: m,
		Tracer: tracer})
	gw := httptest.NewServer(h)
	defer gw.Close()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	defer func() {
		// CPU per call of the whole process (client, gateway, upstream): what a paired
		// comparison of two settings needs, where ns/op of a parallel run is wall time.
		b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	}()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			req, _ := http.NewRequest("GET", gw.URL+"/api/alerts", nil)
			req.Header.Set("X-Tenant-ID", names[i%len(names)])
			i++
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}

// BenchmarkHandlerOnly is the gateway's own share: the same path with the client side and the
// upstream reduced to what the handler cannot avoid (allocs/op here are the gateway's).
func BenchmarkHandlerOnly(b *testing.B) {
	for _, withMetrics := range []bool{false, true} {
		b.Run(fmt.Sprintf("metrics=%v", withMetrics), func(b *testing.B) { benchHandlerOnly(b, withMetrics) })
	}
}

func benchHandlerOnly(b *testing.B, withMetrics bool) {
	src := benchSource(b, []emulator.Tenant{{ID: tenantID(0), Name: "t0", Consented: true}})
	if _, err := src.Token(context.Background(), tenantID(0)); err != nil {
		b.Fatal(err)
	}
	routes, _ := routing.New(routing.Options{Regions: map[string]string{routing.Global: "https://mde.invalid"},
		Tenants: []routing.TenantOptions{{Name: "t0", ID: tenantID(0)}}})
	opts := proxy.Options{Routes: routes, Tokens: src, Transport: roundTripFunc(answer),
		Logger: zerolog.New(io.Discard).With().Timestamp().Logger()}
	if withMetrics {
		opts.Metrics = metrics.New(metrics.Options{})
	}
	h := newHandler(b, opts)
	req := httptest.NewRequest("GET", "/api/alerts", nil)
	req.Header.Set("X-Tenant-ID", "t0")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.ServeHTTP(discard{}, req)
	}
}

// benchSource is a token source against an emulated Entra that knows tenants; both are closed
// when the benchmark or test ends.
func benchSource(b testing.TB, tenants []emulator.Tenant) *tokens.Source {
	b.Helper()
	emu, err := emulator.Start(emulator.Options{Apps: []emulator.App{{ClientID: benchClient, Secret: "s"}}, Tenants: tenants})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(emu.Close)
	src, err := tokens.New(tokens.Options{Authority: emu.LoginURL(), ClientID: benchClient, Secret: "s",
		Scope: "https://api.securitycenter.microsoft.com/.default", HTTPClient: emu.Client()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(src.Close)
	return src
}

// roundTripFunc and answer stand in for the network only in BenchmarkHandlerOnly, whose point
// is to count the handler's own allocations without a socket's.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func answer(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(alertsBody)), ContentLength: int64(len(alertsBody)), Request: r}, nil
}

type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) WriteHeader(int)             {}

// processCPU is the user and system CPU time the process has used, in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/mdegate/mdegate/internal/tracing"
)

// Issue 18 item 4: the tracing section turns tracing on in a served gateway; the spans reach
// an OTLP HTTP collector by the time the gateway has stopped, under the configured
// service.name, and the access line carries the span's trace_id.
func TestServeExportsSpans(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var services, traceIDs []string
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rss, err := tracing.DecodeExportRequest(body)
		if err != nil {
			t.Errorf("export request: %v", err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, rs := range rss {
			for _, kv := range rs.Resource.Attributes {
				if kv.Key == "service.name" {
					services = append(services, kv.Value.GetStringValue())
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					traceIDs = append(traceIDs, hexString(s.TraceId))
				}
			}
		}
	}))
	defer collector.Close()
	g := startGateway(t, "tracing:\n  otlp_endpoint: "+collector.URL+"\n  sample_ratio: 1\n  service_name: gw-test\n")
	if resp, body := g.do(t, "GET", "/api/alerts", "contoso", nil); resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	req := g.logs.lines(t, "request")
	if len(req) != 1 {
		t.Fatalf("got %d request lines", len(req))
	}
	id, _ := req[0]["trace_id"].(string)
	mu.Lock()
	defer mu.Unlock()
	if len(services) == 0 || services[0] != "gw-test" {
		t.Errorf("service.name %v, want gw-test", services)
	}
	if id == "" || !strings.Contains(strings.Join(traceIDs, " "), id) {
		t.Errorf("access line trace_id %q, spans in traces %v", id, traceIDs)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&0xf])
	}
	return string(out)
}

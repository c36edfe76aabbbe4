package proxy_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/mdegate/mdegate/internal/tracing"
	"github.com/mdegate/mdegate/proxy"
	"github.com/mdegate/mdegate/routing"
)

// otlpReceiver is an OTLP HTTP collector on loopback: it decodes each export request and
// keeps the spans.
type otlpReceiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	spans []*tracepb.Span
}

func startOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	rc := &otlpReceiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("export to %s as %q, want /v1/traces as protobuf", r.URL.Path, r.Header.Get("Content-Type"))
		}
		body, _ := io.ReadAll(r.Body)
		rss, err := tracing.DecodeExportRequest(body)
		if err != nil {
			t.Errorf("export request: %v", err)
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		for _, rs := range rss {
			for _, ss := range rs.ScopeSpans {
				rc.spans = append(rc.spans, ss.Spans...)
			}
		}
		rc.mu.Unlock()
		// An empty ExportTraceServiceResponse: full success.
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func attrs(s *tracepb.Span) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes {
		m[kv.Key] = anyValue(kv.Value)
	}
	return m
}

func anyValue(v *commonpb.AnyValue) string {
	switch x := v.Value.(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	}
	return v.String()
}

// Issue 18 item 4: a call is a server span continuing the caller's traceparent, with the token
// fetch and each upstream attempt as children (a 429 replay is a sibling attempt); the trace
// headers never reach Microsoft; the access line carries trace_id; no secret is in a span.
func TestTracingSpansContinueCallersTrace(t *testing.T) {
	t.Parallel()
	rc := startOTLPReceiver(t)
	p, err := tracing.New(tracing.Options{Endpoint: rc.srv.URL, SampleRatio: 0, ServiceName: "mdegate-test"})
	if err != nil || p == nil {
		t.Fatalf("tracing.New: %v %v", p, err)
	}
	var n atomic.Int32
	saw := make(chan http.Header, 2)
	var logs bytes.Buffer
	var logMu sync.Mutex
	env := startHostile(t, proxy.Options{
		Tracer:  p.Tracer(),
		Logger:  zerolog.New(lockedWriter{&logMu, &logs}),
		Clients: []proxy.Client{{Name: "soc", KeySHA256: keyHash("s3cret-key"), Tenants: []string{"contoso"}}},
	}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		saw <- r.Header.Clone()
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = io.WriteString(w, `{"value":[]}`)
	}))
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest("GET", env.gw.URL+"/api/machines", nil)
	req.Header.Set("X-Tenant-ID", "contoso")
	req.Header.Set("X-Api-Key", "s3cret-key")
	// Sampled by the caller: followed although sample_ratio is 0.
	req.Header.Set("Traceparent", "00-"+traceID+"-"+parentID+"-01")
	req.Header.Set("Tracestate", "vendor=opaque")
	req.Header.Set("Baggage", "user.email=alice@contoso.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for range 2 {
		h := <-saw
		for _, k := range []string{"Traceparent", "Tracestate", "Baggage"} {
			if v, ok := h[k]; ok {
				t.Errorf("%s reached the upstream: %q", k, v)
			}
		}
	}
	env.gw.Close() // the handler has returned: its span has ended
	if err := p.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}

	rc.mu.Lock()
	spans := rc.spans
	rc.mu.Unlock()
	var server *tracepb.Span
	byName := map[string][]*tracepb.Span{}
	for _, s := range spans {
		byName[s.Name] = append(byName[s.Name], s)
		if s.Kind == tracepb.Span_SPAN_KIND_SERVER {
			server = s
		}
		if got := hexID(s.TraceId); got != traceID {
			t.Errorf("span %q in trace %s, want the caller's %s", s.Name, got, traceID)
		}
		for _, kv := range s.Attributes {
			if v := anyValue(kv.Value); strings.Contains(v, "s3cret") || strings.Contains(v, "Bearer") || strings.Contains(v, "alice") {
				t.Errorf("span %q attribute %s = %q holds a secret", s.Name, kv.Key, v)
			}
		}
	}
	if server == nil {
		t.Fatalf("no server span among %d spans", len(spans))
	}
	if got := hexID(server.ParentSpanId); got != parentID {
		t.Errorf("server span's parent %s, want the caller's %s", got, parentID)
	}
	a := attrs(server)
	for k, want := range map[string]string{"mdegate.tenant": "contoso", "mdegate.tenant_id": idContoso, "mdegate.caller": "soc",
		"mdegate.region": "global", "mdegate.api": server.Name, "http.response.status_code": "200", "http.request.method": "GET"} {
		if a[k] != want {
			t.Errorf("server span %s = %q, want %q", k, a[k], want)
		}
	}
	if server.Name == "" || strings.HasPrefix(server.Name, "mdegate ") {
		t.Errorf("server span named %q, want the API's name", server.Name)
	}
	ups := byName["upstream"]
	if len(ups) != 2 || len(byName["token"]) != 1 {
		t.Fatalf("got spans %v, want 1 token and 2 upstream attempts", names(spans))
	}
	statuses := map[string]bool{}
	for _, s := range append(ups, byName["token"]...) {
		if !bytes.Equal(s.ParentSpanId, server.SpanId) {
			t.Errorf("%s span's parent is not the server span", s.Name)
		}
	}
	for _, s := range ups {
		statuses[attrs(s)["http.response.status_code"]] = true
	}
	if !statuses["429"] || !statuses["200"] {
		t.Errorf("attempt statuses %v, want a 429 and its replay's 200", statuses)
	}
	logMu.Lock()
	line := logs.String()
	logMu.Unlock()
	if !strings.Contains(line, `"trace_id":"`+traceID+`"`) {
		t.Errorf("access line %s lacks trace_id %s", line, traceID)
	}
	if strings.Contains(line, "s3cret") || strings.Contains(line, "alice") {
		t.Errorf("log holds a secret: %s", line)
	}
}

func hexID(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&0xf])
	}
	return string(out)
}

func names(spans []*tracepb.Span) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Issue 18 item 3: the access line names the caller's address (the client a trusted proxy
// names in X-Forwarded-For, else the peer) and its User-Agent.
func TestAccessLineRemoteAddrAndUserAgent(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		trusted []netip.Prefix
		xff     string
		want    string
	}{
		{"untrusted peer", nil, "203.0.113.7", "127.0.0.1"},
		{"trusted chain", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")},
			"198.51.100.1, 203.0.113.7, 10.0.0.1", "203.0.113.7"},
		{"malformed entry", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "203.0.113.7, bogus", "127.0.0.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			var mu sync.Mutex
			env := startHostile(t, proxy.Options{TrustedProxies: c.trusted, Logger: zerolog.New(lockedWriter{&mu, &logs})},
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			req, _ := http.NewRequest("GET", env.gw.URL+"/api/machines", nil)
			req.Header.Set("X-Tenant-ID", "contoso")
			req.Header.Set("X-Forwarded-For", c.xff)
			req.Header.Set("User-Agent", "soar/2.1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			env.gw.Close()
			mu.Lock()
			line := logs.String()
			mu.Unlock()
			if !strings.Contains(line, `"remote_addr":"`+c.want+`"`) || !strings.Contains(line, `"user_agent":"soar/2.1"`) {
				t.Errorf("got %s, want remote_addr %s and user_agent soar/2.1", line, c.want)
			}
			if strings.Contains(line, "trace_id") {
				t.Errorf("trace_id logged without tracing: %s", line)
			}
		})
	}
}

// Issue 18 item 4: a failover shows as sibling upstream spans, one per region tried, under a
// root span the gateway started itself (no traceparent, sample_ratio 1).
func TestTracingFailoverAttemptsAreSiblings(t *testing.T) {
	t.Parallel()
	rc := startOTLPReceiver(t)
	p, err := tracing.New(tracing.Options{Endpoint: rc.srv.URL, SampleRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	down := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"value":[]}`)
	}))
	defer up.Close()
	routes, err := routing.New(routing.Options{Regions: map[string]string{routing.Global: up.URL, "eu": down.URL},
		Tenants: []routing.TenantOptions{{Name: "contoso", ID: idContoso, Region: "eu"}}})
	if err != nil {
		t.Fatal(err)
	}
	pool := up.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs // httptest's one certificate
	gw := httptest.NewServer(newHandler(t, proxy.Options{Routes: routes, Tokens: fixedTokens{},
		Transport: proxy.NewTransport(pool, 0), Tracer: p.Tracer()}))
	req, _ := http.NewRequest("GET", gw.URL+"/api/machines", nil)
	req.Header.Set("X-Tenant-ID", "contoso")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	gw.Close()
	if err := p.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var server *tracepb.Span
	var ups []*tracepb.Span
	for _, s := range rc.spans {
		switch {
		case s.Kind == tracepb.Span_SPAN_KIND_SERVER:
			server = s
		case s.Name == "upstream":
			ups = append(ups, s)
		}
	}
	if server == nil || len(server.ParentSpanId) != 0 {
		t.Fatalf("want a root server span, got %v", server)
	}
	if len(ups) != 2 {
		t.Fatalf("got %d upstream spans, want 2", len(ups))
	}
	got := map[string]string{}
	for _, s := range ups {
		if !bytes.Equal(s.ParentSpanId, server.SpanId) {
			t.Errorf("attempt in %s is not a child of the server span", attrs(s)["mdegate.region"])
		}
		got[attrs(s)["mdegate.region"]] = attrs(s)["http.response.status_code"]
	}
	if got["eu"] != "503" || got["global"] != "200" {
		t.Errorf("attempts by region %v, want eu 503 then global 200", got)
	}
	if r := attrs(server)["mdegate.region"]; r != "global" {
		t.Errorf("server span region %q, want the region that answered", r)
	}
}

package tracing

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// collector is an OTLP HTTP receiver on loopback: it answers each export with the next of
// its scripted answers (then 200) and keeps what it received.
type collector struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []export
}

type export struct {
	path   string
	header http.Header
	rss    []*tracepb.ResourceSpans
}

// answer is one scripted response.
type answer struct {
	status      int
	retryAfter  string
	contentType string
	body        string
}

func startCollector(t *testing.T, script ...answer) *collector {
	t.Helper()
	c := &collector{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				t.Errorf("gzip: %v", err)
				return
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		rss, err := DecodeExportRequest(b)
		if err != nil {
			t.Errorf("export request: %v", err)
		}
		c.mu.Lock()
		n := len(c.got)
		c.got = append(c.got, export{path: r.URL.Path, header: r.Header.Clone(), rss: rss})
		c.mu.Unlock()
		if n < len(script) {
			a := script[n]
			if a.retryAfter != "" {
				w.Header().Set("Retry-After", a.retryAfter)
			}
			if a.contentType != "" {
				w.Header().Set("Content-Type", a.contentType)
			}
			w.WriteHeader(a.status)
			_, _ = io.WriteString(w, a.body)
		}
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *collector) exports() []export {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]export(nil), c.got...)
}

// batch is one resource with one span named name.
func batch(name string) []*tracepb.ResourceSpans {
	return []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name",
			Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "svc"}}}}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{Name: name,
			TraceId: bytes.Repeat([]byte{7}, 16), SpanId: bytes.Repeat([]byte{9}, 8)}}}},
	}}
}

// newTestClient is the client of endpoint whose waits are recorded, not slept.
func newTestClient(t *testing.T, endpoint string) (*otlpClient, *[]time.Duration) {
	t.Helper()
	c, err := newOTLPClient(Options{Endpoint: endpoint, Version: "1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	var waits []time.Duration
	c.wait = func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		return nil
	}
	return c, &waits
}

// A batch is posted as protobuf to <endpoint>/v1/traces, and what the collector decodes is
// what was sent.
func TestUploadPostsProtobuf(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "")
	t.Setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "")
	col := startCollector(t)
	c, _ := newTestClient(t, col.srv.URL+"/otlp/")
	sent := batch("call")
	if err := c.UploadTraces(context.Background(), sent); err != nil {
		t.Fatal(err)
	}
	got := col.exports()
	if len(got) != 1 {
		t.Fatalf("got %d exports, want 1", len(got))
	}
	e := got[0]
	if e.path != "/otlp/v1/traces" || e.header.Get("Content-Type") != "application/x-protobuf" ||
		e.header.Get("User-Agent") != "mdegate/1.2.3" {
		t.Errorf("export to %s as %q by %q", e.path, e.header.Get("Content-Type"), e.header.Get("User-Agent"))
	}
	if len(e.rss) != 1 || !proto.Equal(e.rss[0], sent[0]) {
		t.Errorf("collector decoded %v, want %v", e.rss, sent)
	}
}

// A 503 with Retry-After is posted again after the wait it asks for (capped), and a 429
// without one after the default wait; the same batch arrives each time.
func TestUploadRetries503WithRetryAfter(t *testing.T) {
	col := startCollector(t,
		answer{status: 503, retryAfter: "2"},
		answer{status: 503, retryAfter: "3600"},
		answer{status: 200})
	c, waits := newTestClient(t, col.srv.URL)
	if err := c.UploadTraces(context.Background(), batch("call")); err != nil {
		t.Fatalf("got %v, want the third attempt accepted", err)
	}
	if got := col.exports(); len(got) != 3 || !proto.Equal(got[0].rss[0], got[2].rss[0]) {
		t.Fatalf("got %d exports, want the same batch 3 times", len(got))
	}
	if want := []time.Duration{2 * time.Second, maxRetryWait}; !slices.Equal(*waits, want) {
		t.Errorf("waited %v, want %v", *waits, want)
	}

	col = startCollector(t, answer{status: 429}, answer{status: 502}, answer{status: 504})
	c, waits = newTestClient(t, col.srv.URL)
	err := c.UploadTraces(context.Background(), batch("call"))
	if err == nil || !strings.Contains(err.Error(), "504") {
		t.Errorf("got %v, want the last answer, 504", err)
	}
	if n := len(col.exports()); n != maxAttempts {
		t.Errorf("got %d attempts, want %d", n, maxAttempts)
	}
	if want := []time.Duration{defaultRetryWait, 2 * defaultRetryWait}; !slices.Equal(*waits, want) {
		t.Errorf("waited %v, want %v", *waits, want)
	}
}

// A 400 is final: posted once, and the error names the status but neither the collector's
// answer nor the headers (a collector's API key).
func TestUpload400NotRetried(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=s3cret%3Dkey, x-team = blue")
	col := startCollector(t, answer{status: 400, body: "bad request from x-api-key=s3cret=key"})
	c, waits := newTestClient(t, col.srv.URL)
	err := c.UploadTraces(context.Background(), batch("call"))
	if err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("got %v, want a 400", err)
	}
	if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), col.srv.URL) {
		t.Errorf("error %q echoes the answer or the URL", err)
	}
	got := col.exports()
	if len(got) != 1 || len(*waits) != 0 {
		t.Fatalf("got %d attempts and waits %v, want 1 and none", len(got), *waits)
	}
	if h := got[0].header; h.Get("X-Api-Key") != "s3cret=key" || h.Get("X-Team") != "blue" {
		t.Errorf("collector got headers %v", h)
	}
}

// A collector that accepts part of a batch says how many spans it rejected; that is an error.
func TestUploadPartialSuccess(t *testing.T) {
	var ps []byte
	ps = protowire.AppendTag(ps, 1, protowire.VarintType)
	ps = protowire.AppendVarint(ps, 3)
	var resp []byte
	resp = protowire.AppendTag(resp, 1, protowire.BytesType)
	resp = protowire.AppendBytes(resp, ps)
	col := startCollector(t, answer{status: 200, contentType: "application/x-protobuf", body: string(resp)})
	c, _ := newTestClient(t, col.srv.URL)
	if err := c.UploadTraces(context.Background(), batch("call")); err == nil || !strings.Contains(err.Error(), "rejected 3 spans") {
		t.Errorf("got %v, want 3 spans rejected", err)
	}
}

// OTEL_EXPORTER_OTLP_COMPRESSION=gzip compresses the body, as otlptracehttp did.
func TestUploadGzipFromEnvironment(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
	col := startCollector(t)
	c, _ := newTestClient(t, col.srv.URL)
	sent := batch("zipped")
	if err := c.UploadTraces(context.Background(), sent); err != nil {
		t.Fatal(err)
	}
	got := col.exports()
	if len(got) != 1 || got[0].header.Get("Content-Encoding") != "gzip" || len(got[0].rss) != 1 || !proto.Equal(got[0].rss[0], sent[0]) {
		t.Errorf("got %+v", got)
	}
}

// The endpoint rules otlptracehttp followed: the configured endpoint and
// OTEL_EXPORTER_OTLP_ENDPOINT get /v1/traces, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as
// is and wins over OTEL_EXPORTER_OTLP_ENDPOINT; a bad variable is an error that does not echo it.
func TestExportURL(t *testing.T) {
	for _, tc := range []struct {
		endpoint, env, tracesEnv, want, wantErr string
	}{
		{endpoint: "http://c:4318", want: "http://c:4318/v1/traces"},
		{endpoint: "http://c:4318/base/", tracesEnv: "http://other/x", want: "http://c:4318/base/v1/traces"},
		{env: "https://c:4318", want: "https://c:4318/v1/traces"},
		{env: "https://c:4318/base/", want: "https://c:4318/base/v1/traces"},
		{env: "http://c:4318", tracesEnv: "http://t:4318/custom", want: "http://t:4318/custom"},
		{tracesEnv: "http://t:4318", want: "http://t:4318/"},
		{env: "c:4318?token=s3cret", wantErr: "OTEL_EXPORTER_OTLP_ENDPOINT is not an http(s) URL (e.g. http://otel-collector:4318)"},
	} {
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", tc.env)
		t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", tc.tracesEnv)
		got, err := exportURL(tc.endpoint)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%+v: got %q, %v; want error %q", tc, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%+v: got %q, %v; want %q", tc, got, err, tc.want)
		}
	}
}

// A malformed OTEL_EXPORTER_OTLP_HEADERS stops the start, naming the entry but not its value.
func TestMalformedHeadersNotEchoed(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-team=blue,s3cret-token")
	_, err := New(Options{Endpoint: "http://127.0.0.1:4318"})
	if err == nil || err.Error() != "OTEL_EXPORTER_OTLP_HEADERS: entry 2 is not key=value" {
		t.Errorf("got %v", err)
	}
}

// OTEL_EXPORTER_OTLP_CERTIFICATE names the CA a TLS collector is verified against, as
// otlptracehttp read it; without it the collector's self-signed certificate is refused.
func TestUploadTLSWithCertificateFromEnvironment(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", "")
	c, _ := newTestClient(t, srv.URL)
	if err := c.UploadTraces(context.Background(), batch("call")); err == nil {
		t.Error("an unknown CA was trusted")
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", ca)
	c, _ = newTestClient(t, srv.URL)
	if err := c.UploadTraces(context.Background(), batch("call")); err != nil || n.Load() != 1 {
		t.Errorf("got %v after %d exports, want 1 accepted", err, n.Load())
	}
}

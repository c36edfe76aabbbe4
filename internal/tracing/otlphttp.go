package tracing

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The gateway's own OTLP/HTTP client replaces otlptracehttp, which links gRPC, grpc-gateway
// and genproto (through the collector's generated service package) for a POST of a protobuf
// body: 12.8 MB of binary, and page cache, for nothing the gateway calls.

const (
	// exportTimeout bounds one export, retries and their waits included; the batch
	// processor's own limit (30 s) is never reached.
	exportTimeout = 10 * time.Second
	// maxAttempts is how many times one batch is posted when the collector answers 429, 502,
	// 503 or 504.
	maxAttempts = 3
	// maxRetryWait caps the wait a collector's Retry-After asks for; a wait that would end
	// after the export's deadline is not begun and the batch is dropped.
	maxRetryWait = 5 * time.Second
	// defaultRetryWait is the first wait when a retryable answer has no Retry-After; it
	// doubles for the next.
	defaultRetryWait = time.Second
	// maxResponseBody is how much of a collector's answer is read.
	maxResponseBody = 64 << 10
)

// otlpClient is an otlptrace.Client posting OTLP/HTTP protobuf to a collector's traces URL.
type otlpClient struct {
	url       string
	header    http.Header
	gzip      bool
	transport *http.Transport
	// wait sleeps d, or until ctx ends; tests replace it so no test sleeps.
	wait func(ctx context.Context, d time.Duration) error
}

var _ otlptrace.Client = (*otlpClient)(nil)

// newOTLPClient builds the client of opts and the OTEL_EXPORTER_OTLP_* environment that
// otlptracehttp read before it: the endpoint (opts.Endpoint, else *_TRACES_ENDPOINT as is,
// else *_ENDPOINT plus /v1/traces), *_HEADERS, *_COMPRESSION (gzip or none), *_CERTIFICATE,
// *_CLIENT_CERTIFICATE and *_CLIENT_KEY, each with its TRACES_ variant taking precedence.
// *_TIMEOUT and *_PROTOCOL are ignored: an export takes 10 s at most, over http/protobuf.
func newOTLPClient(opts Options) (*otlpClient, error) {
	u, err := exportURL(opts.Endpoint)
	if err != nil {
		return nil, err
	}
	c := &otlpClient{url: u, header: http.Header{}, wait: sleep}
	ua := "mdegate"
	if opts.Version != "" {
		ua += "/" + opts.Version
	}
	c.header.Set("User-Agent", ua)
	if name, v := otlpEnv("HEADERS"); v != "" {
		if err := parseHeaders(c.header, v); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	c.header.Set("Content-Type", "application/x-protobuf")
	switch name, v := otlpEnv("COMPRESSION"); strings.ToLower(v) {
	case "", "none":
	case "gzip":
		c.gzip = true
		c.header.Set("Content-Encoding", "gzip")
	default:
		return nil, fmt.Errorf("%s: %q is neither gzip nor none", name, v)
	}
	tc, err := otlpTLS()
	if err != nil {
		return nil, err
	}
	c.transport = &http.Transport{
		Proxy:                 nil, // never HTTPS_PROXY from the environment, like the calls to MDE (issue 16)
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   2,
		ForceAttemptHTTP2:     true, // a custom TLS config turns HTTP/2 off unless asked
	}
	return c, nil
}

// otlpEnv is OTEL_EXPORTER_OTLP_TRACES_<key> when set, else OTEL_EXPORTER_OTLP_<key>, with
// the variable's name for error messages.
func otlpEnv(key string) (name, value string) {
	name = "OTEL_EXPORTER_OTLP_TRACES_" + key
	if v := strings.TrimSpace(os.Getenv(name)); v != "" {
		return name, v
	}
	name = "OTEL_EXPORTER_OTLP_" + key
	return name, strings.TrimSpace(os.Getenv(name))
}

// exportURL is where spans are posted. endpoint (tracing.otlp_endpoint) and
// OTEL_EXPORTER_OTLP_ENDPOINT name the collector, whose /v1/traces gets them;
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is the URL itself, as the OTLP specification says.
func exportURL(endpoint string) (string, error) {
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil { // not wrapped: url.Parse's error quotes the value, which may hold a token
			return "", errors.New("tracing.otlp_endpoint is not a URL")
		}
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
		return u.String(), nil
	}
	name := "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		name = "OTEL_EXPORTER_OTLP_ENDPOINT"
		v = strings.TrimSpace(os.Getenv(name))
	}
	u, err := url.Parse(v)
	// The value is not echoed: it may carry a token in its query.
	if err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%s is not an http(s) URL (e.g. http://otel-collector:4318)", name)
	}
	switch {
	case name == "OTEL_EXPORTER_OTLP_ENDPOINT":
		u.Path = path.Join("/", u.Path, "v1/traces")
	case u.Path == "":
		u.Path = "/"
	}
	return u.String(), nil
}

// parseHeaders adds the headers of an OTEL_EXPORTER_OTLP_HEADERS value
// (key1=value1,key2=value2, values percent-encoded) to h. A malformed entry is reported by
// its position, never its value: these headers are often a collector's API key.
func parseHeaders(h http.Header, v string) error {
	for i, kv := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t\r\n:") {
			return fmt.Errorf("entry %d is not key=value", i+1)
		}
		val, err := url.PathUnescape(val)
		if err != nil || strings.ContainsAny(val, "\r\n") {
			return fmt.Errorf("entry %d (%s) has a malformed value", i+1, k)
		}
		h.Set(k, strings.TrimSpace(val))
	}
	return nil
}

// otlpTLS is the TLS configuration of OTEL_EXPORTER_OTLP_CERTIFICATE (the collector's CA, a
// PEM file; unset means the system roots) and OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE with
// OTEL_EXPORTER_OTLP_CLIENT_KEY (a client certificate for mutual TLS; unset means none).
func otlpTLS() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if name, file := otlpEnv("CERTIFICATE"); file != "" {
		pem, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: %s holds no PEM certificate", name, file)
		}
	}
	certName, certFile := otlpEnv("CLIENT_CERTIFICATE")
	keyName, keyFile := otlpEnv("CLIENT_KEY")
	if (certFile == "") != (keyFile == "") {
		return nil, fmt.Errorf("%s and %s are set together or not at all", certName, keyName)
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("%s, %s: %w", certName, keyName, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Start does nothing: the client connects on its first export.
func (c *otlpClient) Start(context.Context) error { return nil }

// Stop closes the idle connections. The batch processor calls it after its last export.
func (c *otlpClient) Stop(context.Context) error {
	c.transport.CloseIdleConnections()
	return nil
}

// UploadTraces posts one batch, within exportTimeout, again after a 429, 502, 503 or 504
// (maxAttempts in all), waiting what the collector's Retry-After asks up to maxRetryWait.
func (c *otlpClient) UploadTraces(ctx context.Context, rss []*tracepb.ResourceSpans) error {
	body, err := encodeExportRequest(rss)
	if err != nil {
		return fmt.Errorf("otlp export: %w", err)
	}
	if c.gzip {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(body) // a bytes.Buffer does not fail
		_ = zw.Close()
		body = b.Bytes()
	}
	ctx, cancel := context.WithTimeout(ctx, exportTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		err := c.post(ctx, body)
		var ee *exportError
		if err == nil || !errors.As(err, &ee) || !ee.retryable() || attempt == maxAttempts {
			return err
		}
		d := ee.retryAfter
		if d < 0 {
			d = defaultRetryWait << (attempt - 1)
		}
		d = min(d, maxRetryWait)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			return err
		}
		if c.wait(ctx, d) != nil {
			return err
		}
	}
}

// post sends body once. Its errors carry neither the URL, the headers nor the collector's
// answer: any of them may hold a key.
func (c *otlpClient) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return errors.New("otlp export: cannot build the request")
	}
	req.Header = c.header.Clone()
	resp, err := c.transport.RoundTrip(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("otlp export: %w", ctx.Err())
		}
		return fmt.Errorf("otlp export: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &exportError{status: resp.StatusCode, retryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	}
	if resp.Header.Get("Content-Type") == "application/x-protobuf" {
		if n := rejectedSpans(answer); n > 0 {
			return fmt.Errorf("otlp export: the collector rejected %d spans", n)
		}
	}
	return nil
}

// exportError is a collector's refusal of a batch.
type exportError struct {
	status int
	// retryAfter is the wait the collector asked for; -1 when it named none.
	retryAfter time.Duration
}

func (e *exportError) Error() string {
	return fmt.Sprintf("otlp export: the collector answered %d %s", e.status, http.StatusText(e.status))
}

// retryable reports whether the status says the collector may take the batch later, as the
// OTLP specification lists them.
func (e *exportError) retryable() bool {
	switch e.status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryAfter is a Retry-After header's wait (seconds, or an HTTP date), or -1 without one.
func retryAfter(v string) time.Duration {
	if v == "" {
		return -1
	}
	if s, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return -1
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// encodeExportRequest is the protobuf of an ExportTraceServiceRequest holding rss: its one
// field, resource_spans (1), repeated. Encoding it here spares the collector's generated
// service package and the gRPC it links.
func encodeExportRequest(rss []*tracepb.ResourceSpans) ([]byte, error) {
	var b []byte
	for _, rs := range rss {
		n := proto.Size(rs)
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(n))
		var err error
		if b, err = (proto.MarshalOptions{UseCachedSize: true}).MarshalAppend(b, rs); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// DecodeExportRequest parses the body of an OTLP/HTTP protobuf export request, as a
// collector does: the gateway's tests receive their spans with it. Unknown fields are
// skipped.
func DecodeExportRequest(body []byte) ([]*tracepb.ResourceSpans, error) {
	var out []*tracepb.ResourceSpans
	for len(body) > 0 {
		num, typ, n := protowire.ConsumeTag(body)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		body = body[n:]
		if num != 1 || typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, body); n < 0 {
				return nil, protowire.ParseError(n)
			}
			body = body[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(body)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		body = body[n:]
		rs := new(tracepb.ResourceSpans)
		if err := proto.Unmarshal(v, rs); err != nil {
			return nil, err
		}
		out = append(out, rs)
	}
	return out, nil
}

// rejectedSpans is partial_success.rejected_spans of an ExportTraceServiceResponse (field 1,
// then its field 1), or 0 when the answer is empty or not one.
func rejectedSpans(b []byte) int64 {
	ps := field(b, 1, protowire.BytesType)
	if ps == nil {
		return 0
	}
	v := field(ps, 1, protowire.VarintType)
	if v == nil {
		return 0
	}
	n, m := protowire.ConsumeVarint(v)
	if m < 0 {
		return 0
	}
	return int64(n)
}

// field is the last occurrence of field num of type typ in the message b: its bytes for a
// length-delimited field, else its encoded value. Nil when absent or b is malformed.
func field(b []byte, num protowire.Number, typ protowire.Type) []byte {
	var found []byte
	for len(b) > 0 {
		n, t, m := protowire.ConsumeTag(b)
		if m < 0 {
			return nil
		}
		b = b[m:]
		m = protowire.ConsumeFieldValue(n, t, b)
		if m < 0 {
			return nil
		}
		if n == num && t == typ {
			found = b[:m]
			if t == protowire.BytesType {
				found, _ = protowire.ConsumeBytes(b)
			}
		}
		b = b[m:]
	}
	return found
}

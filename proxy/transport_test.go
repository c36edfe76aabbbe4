package proxy

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Regression (issue 16): the gateway's transport honoured HTTPS_PROXY from its environment,
// which a sidecar pod sets for the tools beside it, so the gateway would send its own calls
// to MDE through the proxy meant for the tools (often itself). With HTTPS_PROXY and
// HTTP_PROXY pointing at a dead address, a call by name still reaches the server directly.
//
// net/http reads the environment once per process and never proxies loopback addresses, so
// the call goes to a non-loopback name (dialled to the test server by DialContext) and the
// Proxy field is checked too: whatever ran first in this test binary, it must be nil.
func TestTransportIgnoresEnvironmentProxy(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	t.Setenv("NO_PROXY", "")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	tr := NewTransport(roots, 0)
	defer tr.CloseIdleConnections()
	if tr.Proxy != nil {
		t.Fatal("the transport to MDE has a Proxy function: it would follow HTTPS_PROXY")
	}
	addr := srv.Listener.Addr().String()
	d := &net.Dialer{}
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	tr.TLSClientConfig.ServerName = "example.com" // httptest's certificate names example.com
	resp, err := (&http.Client{Transport: tr}).Get("https://example.com/api/machines")
	if err != nil {
		t.Fatalf("with HTTPS_PROXY dead: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Errorf("status %d, want the server's 204", resp.StatusCode)
	}
}

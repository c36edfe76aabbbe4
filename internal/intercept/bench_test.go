package intercept

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkRequest compares one request inside an established CONNECT tunnel with the same
// request sent directly over TLS to a server with the same handler and the same kind of leaf
// (issue 16: a call in a tunnel costs no more than a direct one after the handshake). Client
// and server share the process, so ns/op and allocs/op include both sides.
func BenchmarkRequest(b *testing.B) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"value":[{"id":"1"}]}`)
	})
	ca := newTestCA(b)
	g := startGateway(b, Options{CA: ca, Login: handler, API: handler})
	leaf, err := g.p.leaves.get(b.Context(), "api.security.microsoft.com")
	if err != nil {
		b.Fatal(err)
	}
	direct := httptest.NewUnstartedServer(handler)
	direct.TLS = &tls.Config{Certificates: []tls.Certificate{*leaf}}
	direct.EnableHTTP2 = true
	direct.StartTLS()
	b.Cleanup(direct.Close)

	for _, h2 := range []bool{false, true} {
		proto := "h1"
		if h2 {
			proto = "h2"
		}
		tunnel := g.client(ca, "", "", h2)
		b.Run("tunnel/"+proto, func(b *testing.B) {
			run(b, tunnel, "https://api.security.microsoft.com/api/machines", "")
		})
		dc := g.client(ca, "", "", h2)
		dc.Transport.(*http.Transport).Proxy = nil
		dc.Transport.(*http.Transport).TLSClientConfig.ServerName = "api.security.microsoft.com"
		b.Run("direct/"+proto, func(b *testing.B) {
			run(b, dc, direct.URL+"/api/machines", "api.security.microsoft.com")
		})
	}
}

func run(b *testing.B, c *http.Client, url, host string) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Host = host
	get := func() {
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get() // the handshake is not what is measured
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		get()
	}
}

// BenchmarkNewTunnel is the cost of a fresh CONNECT and TLS handshake (leaf from the cache),
// what a tool that opens one connection per call pays on top of BenchmarkRequest.
func BenchmarkNewTunnel(b *testing.B) {
	ca := newTestCA(b)
	g := startGateway(b, Options{CA: ca})
	c := g.client(ca, "", "", false)
	c.Transport.(*http.Transport).DisableKeepAlives = true
	run(b, c, "https://api.security.microsoft.com/api/machines", "")
	if n := g.p.leaves.minted.Load(); n != 1 {
		b.Errorf("minted %d leaves, want 1", n)
	}
}

package intercept

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const testKey = "k-3f9a-secret"

// gateway is a loopback HTTP server that hands proxy requests to a Proxy, as mdegate will.
type gateway struct {
	p        *Proxy
	url      *url.URL
	dials    atomic.Int64
	connects atomic.Int64
}

// innerHandler answers with what it saw, so tests assert on what reached the handler.
func innerHandler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, _ := TunnelFrom(r.Context())
		json.NewEncoder(w).Encode(map[string]any{
			"handler": name, "host": r.Host, "path": r.URL.Path, "tls": r.TLS != nil, "proto": r.Proto,
			"caller": t.Caller, "authenticated": t.Authenticated, "tunnel_host": t.Host,
		})
	})
}

func startGateway(t testing.TB, opts Options) *gateway {
	t.Helper()
	g := &gateway{}
	if opts.Login == nil {
		opts.Login = innerHandler("login")
	}
	if opts.API == nil {
		opts.API = innerHandler("api")
	}
	if opts.Hosts.Login == nil && opts.Hosts.API == nil {
		h, err := CloudHosts("public")
		if err != nil {
			t.Fatal(err)
		}
		opts.Hosts = h
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	opts.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		g.dials.Add(1)
		return d.DialContext(ctx, network, addr)
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	g.p = p
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if IsProxyRequest(r) {
			if r.Method == http.MethodConnect {
				g.connects.Add(1)
			}
			p.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(func() { p.Close(); srv.Close() })
	g.url, _ = url.Parse(srv.URL)
	return g
}

func authenticate(user, pass string) (string, bool) {
	if pass == testKey {
		return "caller-" + user, true
	}
	return "", false
}

// client goes through the gateway as a tool with HTTPS_PROXY=http://user:key@gw would.
func (g *gateway) client(ca *CA, user, key string, h2 bool) *http.Client {
	u := *g.url
	if key != "" {
		u.User = url.UserPassword(user, key)
	}
	tr := &http.Transport{
		Proxy:             http.ProxyURL(&u),
		TLSClientConfig:   &tls.Config{RootCAs: ca.Pool()},
		ForceAttemptHTTP2: h2,
	}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func getJSON(t *testing.T, c *http.Client, rawURL string, reused *bool) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
	if reused != nil {
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { *reused = i.Reused },
		}))
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("GET %s: status %d: %v", rawURL, resp.StatusCode, err)
	}
	return m
}

func TestInterceptServesInnerRequests(t *testing.T) {
	t.Parallel()
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			t.Parallel()
			ca := newTestCA(t)
			g := startGateway(t, Options{CA: ca, Authenticate: authenticate})
			c := g.client(ca, "soar", testKey, h2)
			wantProto := "HTTP/1.1"
			if h2 {
				wantProto = "HTTP/2.0"
			}

			m := getJSON(t, c, "https://login.microsoftonline.com/contoso/oauth2/v2.0/token", nil)
			for k, want := range map[string]any{"handler": "login", "host": "login.microsoftonline.com", "tls": true,
				"proto": wantProto, "caller": "caller-soar", "authenticated": true, "path": "/contoso/oauth2/v2.0/token"} {
				if m[k] != want {
					t.Errorf("login: %s = %v, want %v", k, m[k], want)
				}
			}
			var reused bool
			m = getJSON(t, c, "https://login.microsoftonline.com/common/discovery/instance", &reused)
			if !reused {
				t.Error("second request in the same tunnel did not reuse the connection")
			}
			m = getJSON(t, c, "https://eu.api.security.microsoft.com/api/machines", nil)
			if m["handler"] != "api" || m["host"] != "eu.api.security.microsoft.com" {
				t.Errorf("api: got %v", m)
			}
			if got := g.connects.Load(); got != 2 {
				t.Errorf("%d CONNECTs for two hosts with keep-alive, want 2", got)
			}
			if got := g.dials.Load(); got != 0 {
				t.Errorf("intercepted hosts were dialled %d times", got)
			}

			// A second tool (new tunnels, new TLS sessions) does not cause new mints.
			c2 := g.client(ca, "", "", h2)
			m = getJSON(t, c2, "https://login.microsoftonline.com/x", nil)
			if m["caller"] != "" || m["authenticated"] != false {
				t.Errorf("anonymous tunnel: caller %v authenticated %v", m["caller"], m["authenticated"])
			}
			if got := g.p.leaves.minted.Load(); got != 2 {
				t.Errorf("minted %d leaves for 2 hosts over 3 tunnels, want 2", got)
			}
		})
	}
}

// A tool that names a host in its Host header other than the one it dialled still reaches the
// handler as the dialled host, which its certificate was minted for.
func TestInnerHostIsTheDialledName(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	g := startGateway(t, Options{CA: ca})
	c := g.client(ca, "", "", false)
	req, _ := http.NewRequest(http.MethodGet, "https://api.security.microsoft.com/api/alerts", nil)
	req.Host = "evil.example"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	if m["host"] != "api.security.microsoft.com" {
		t.Errorf("handler saw host %v, want api.security.microsoft.com", m["host"])
	}
}

// rawConnect sends a CONNECT by hand and returns the connection and the response head.
func rawConnect(t *testing.T, g *gateway, target, auth string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	conn, err := net.Dial("tcp", g.url.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	req := "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n"
	if auth != "" {
		req += "Proxy-Authorization: " + auth + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	return conn, br, resp
}

func basic(user, pass string) string {
	r := &http.Request{Header: http.Header{}}
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

func errorCode(t *testing.T, resp *http.Response) string {
	t.Helper()
	var b errorBody
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		t.Fatalf("error body: %v", err)
	}
	return b.Error.Code
}

// startEcho is a loopback TCP server that sends back what it reads, then closes its side.
func startEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.Copy(c, c)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

func TestPassthroughBytesUntouched(t *testing.T) {
	t.Parallel()
	echo := startEcho(t)
	g := startGateway(t, Options{CA: newTestCA(t), Passthrough: []string{echo}, Authenticate: authenticate})
	conn, br, resp := rawConnect(t, g, echo, basic("soar", testKey))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT status %d", resp.StatusCode)
	}
	payload := make([]byte, 1<<20)
	rand.Read(payload)
	go func() {
		conn.Write(payload)
		conn.(*net.TCPConn).CloseWrite() // the echo sees EOF, closes, and the tunnel ends
	}()
	got, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("got %d bytes back, want the same %d bytes", len(got), len(payload))
	}
	if g.dials.Load() != 1 {
		t.Errorf("dials %d, want 1", g.dials.Load())
	}
}

// TLS end to end through a passthrough tunnel: the gateway never sees inside.
func TestPassthroughTLS(t *testing.T) {
	t.Parallel()
	backend := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "sas blob "+r.URL.Path)
	}))
	t.Cleanup(backend.Close)
	bu, _ := url.Parse(backend.URL)
	g := startGateway(t, Options{CA: newTestCA(t), Passthrough: []string{"127.0.0.1"}, Authenticate: authenticate})
	u := *g.url
	u.User = url.UserPassword("soar", testKey)
	tr := backend.Client().Transport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyURL(&u)
	resp, err := (&http.Client{Transport: tr}).Get("https://" + bu.Host + "/exports/1.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "sas blob /exports/1.gz" {
		t.Errorf("body %q", body)
	}
}

func TestPassthroughNeedsKnownCaller(t *testing.T) {
	t.Parallel()
	echo := startEcho(t)
	g := startGateway(t, Options{CA: newTestCA(t), Passthrough: []string{echo}, Authenticate: authenticate})
	for _, auth := range []string{"", basic("soar", "wrong"), "Bearer " + testKey, "Basic !!!"} {
		_, _, resp := rawConnect(t, g, echo, auth)
		if resp.StatusCode != http.StatusProxyAuthRequired {
			t.Errorf("auth %q: status %d, want 407", auth, resp.StatusCode)
		}
		if got := resp.Header.Get("Proxy-Authenticate"); got != `Basic realm="mdegate"` {
			t.Errorf("Proxy-Authenticate %q", got)
		}
		if code := errorCode(t, resp); code != "ProxyAuthenticationRequired" {
			t.Errorf("code %q", code)
		}
	}
	// An intercepted host with wrong credentials is told so, too.
	_, _, resp := rawConnect(t, g, "login.microsoftonline.com:443", basic("soar", "wrong"))
	if resp.StatusCode != http.StatusProxyAuthRequired {
		t.Errorf("intercepted host, wrong key: status %d, want 407", resp.StatusCode)
	}
	if g.dials.Load() != 0 {
		t.Errorf("%d connections made without valid credentials", g.dials.Load())
	}
}

// Without authentication configured (anonymous loopback mode) passthrough is open.
func TestPassthroughAnonymousMode(t *testing.T) {
	t.Parallel()
	echo := startEcho(t)
	g := startGateway(t, Options{CA: newTestCA(t), Passthrough: []string{echo}})
	_, _, resp := rawConnect(t, g, echo, "")
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status %d, want 200", resp.StatusCode)
	}
}

func TestRefusedBeforeAnyConnection(t *testing.T) {
	t.Parallel()
	echo := startEcho(t)
	_, echoPort, _ := net.SplitHostPort(echo)
	g := startGateway(t, Options{CA: newTestCA(t), Passthrough: []string{"*.blob.core.windows.net", echo}, Authenticate: authenticate})
	for _, target := range []string{
		"www.example.com:443",
		"127.0.0.1:1",                   // loopback, another port
		"localhost:" + echoPort,         // the passthrough host by another name
		"login.microsoftonline.com:80",  // intercepted only on 443
		"blob.core.windows.net:443",     // "*." needs a label
		"a.b.blob.core.windows.net:443", // and only one
		"login.microsoftonline.com.evil.example:443",
	} {
		_, _, resp := rawConnect(t, g, target, basic("soar", testKey))
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("CONNECT %s: status %d, want 403", target, resp.StatusCode)
			continue
		}
		if code := errorCode(t, resp); code != "ProxyForbidden" {
			t.Errorf("CONNECT %s: code %q", target, code)
		}
	}
	// Absolute-form requests are refused whatever the host.
	for _, target := range []string{"http://www.example.com/", "http://login.microsoftonline.com/common/discovery/instance", "http://" + echo + "/"} {
		u := *g.url
		u.User = url.UserPassword("soar", testKey)
		c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(&u)}}
		resp, err := c.Get(target)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusForbidden || errorCode(t, resp) != "ProxyForbidden" {
			t.Errorf("GET %s through the proxy: status %d, want 403 ProxyForbidden", target, resp.StatusCode)
		}
		resp.Body.Close()
	}
	if g.dials.Load() != 0 {
		t.Errorf("%d connections made for refused targets", g.dials.Load())
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	hosts, err := CloudHosts("public", "gcc-high")
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{CA: newTestCA(t), Hosts: hosts, Login: http.NotFoundHandler(), API: http.NotFoundHandler(),
		Passthrough: []string{"*.blob.core.windows.net", "files.example:8443", "[::1]:9"}})
	if err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]Class{
		"login.microsoftonline.com:443":            Login,
		"LOGIN.MicrosoftOnline.com.:443":           Login,
		"login.microsoftonline.us:443":             Login,
		"api.security.microsoft.com:443":           API,
		"aea.api.security.microsoft.com:443":       API,
		"api-us.security.microsoft.com:443":        API,
		"api-eu3.securitycenter.microsoft.com:443": API,
		"api-gov.securitycenter.microsoft.us:443":  API,
		"graph.microsoft.com:443":                  API,
		"x.api.security.microsoft.com:443":         Refused,
		"api-gcc.securitycenter.microsoft.us:443":  Refused, // gcc not configured
		"acct.blob.core.windows.net:443":           Passthrough,
		"acct.blob.core.windows.net:80":            Passthrough,
		"files.example:8443":                       Passthrough,
		"files.example:443":                        Refused,
		"[::1]:9":                                  Passthrough,
		"no-port":                                  Refused,
	} {
		if got := p.Classify(target); got != want {
			t.Errorf("Classify(%q) = %v, want %v", target, got, want)
		}
	}
	for host, want := range map[string]Class{"login.microsoftonline.com": Login, "graph.microsoft.us:8443": API,
		"acct.blob.core.windows.net": Refused, "www.example.com": Refused} {
		if got := p.HostClass(host); got != want {
			t.Errorf("HostClass(%q) = %v, want %v", host, got, want)
		}
	}
	if _, err := CloudHosts("azure-china"); err == nil {
		t.Error("unknown cloud accepted")
	}
}

func TestCloseEndsTunnels(t *testing.T) {
	t.Parallel()
	echo := startEcho(t)
	ca := newTestCA(t)
	g := startGateway(t, Options{CA: ca, Passthrough: []string{echo}})
	conn, br, resp := rawConnect(t, g, echo, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatal(resp.Status)
	}
	conn.Write([]byte("ping"))
	if b, _ := br.Peek(4); string(b) != "ping" {
		t.Fatalf("echo %q", b)
	}
	itconn, _, resp := rawConnect(t, g, "login.microsoftonline.com:443", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatal(resp.Status)
	}
	tc := tls.Client(itconn, &tls.Config{RootCAs: ca.Pool(), ServerName: "login.microsoftonline.com"})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	g.p.Close() // returns only once both tunnels' goroutines have
	if _, err := io.ReadAll(br); err != nil {
		t.Errorf("passthrough tunnel: %v", err)
	}
	if _, err := tc.Read(make([]byte, 1)); err == nil {
		t.Error("intercepted tunnel still open")
	}
	_, _, resp = rawConnect(t, g, echo, "")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("CONNECT after Close: status %d, want 503", resp.StatusCode)
	}
}

func TestIdleTunnelCloses(t *testing.T) {
	t.Parallel()
	echo := startEcho(t)
	g := startGateway(t, Options{CA: newTestCA(t), Passthrough: []string{echo}, IdleTimeout: 50 * time.Millisecond})
	_, br, resp := rawConnect(t, g, echo, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatal(resp.Status)
	}
	// Nothing is sent: the tunnel ends by itself (the test only waits for that, never times it).
	io.ReadAll(br)
}

func TestSNI(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	own := httptest.NewTLSServer(http.NotFoundHandler()) // its certificate stands for the gateway's own
	t.Cleanup(own.Close)
	hosts, _ := CloudHosts()
	p, err := New(Options{CA: ca, Hosts: hosts, Login: innerHandler("login"), API: innerHandler("api")})
	if err != nil {
		t.Fatal(err)
	}
	fallback := func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &own.TLS.Certificates[0], nil }
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, p.HostClass(r.Host).String())
	}))
	srv.TLS = &tls.Config{GetCertificate: p.GetCertificate(fallback)}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	dialTo := func(roots *tls.Config) *http.Client {
		return &http.Client{Transport: &http.Transport{
			TLSClientConfig: roots,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr) // the partner's DNS points name at the gateway
			},
		}}
	}
	resp, err := dialTo(&tls.Config{RootCAs: ca.Pool()}).Get("https://login.microsoftonline.com/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "login" {
		t.Errorf("routed as %q", body)
	}
	// Another name gets the gateway's own certificate.
	resp, err = dialTo(&tls.Config{RootCAs: own.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}).Get("https://example.com/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	noFallback := p.GetCertificate(nil)
	if _, err := noFallback(&tls.ClientHelloInfo{ServerName: "example.com"}); err == nil {
		t.Error("a certificate for a foreign name without fallback")
	}
}

// TestCurl drives the real curl through the proxy. It fails, never skips, under CI when curl
// is missing.
func TestCurl(t *testing.T) {
	t.Parallel()
	curl, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl is needed under CI=true: ", err)
		}
		t.Skip("curl not installed")
	}
	ca := newTestCA(t)
	dir := t.TempDir()
	if err := ca.WriteCA(dir); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, Options{CA: ca, Authenticate: authenticate})
	proxyURL := "http://soar:" + testKey + "@" + g.url.Host
	for _, tc := range []struct{ url, flag, handler, proto string }{
		{"https://login.microsoftonline.com/contoso/oauth2/v2.0/token", "--http1.1", "login", "HTTP/1.1"},
		{"https://api.security.microsoft.com/api/machines", "--http2", "api", "HTTP/2.0"},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		out, err := exec.CommandContext(ctx, curl, "-sS", "--fail", tc.flag, "--noproxy", "", "-x", proxyURL,
			"--cacert", filepath.Join(dir, "ca.pem"), tc.url).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("curl %s: %v: %s", tc.url, err, out)
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("curl %s: %s", tc.url, out)
		}
		if m["handler"] != tc.handler || m["proto"] != tc.proto || m["caller"] != "caller-soar" {
			t.Errorf("curl %s: got %v", tc.url, m)
		}
	}
	out, _ := exec.Command(curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-x", "http://"+g.url.Host,
		"--cacert", filepath.Join(dir, "ca.pem"), "https://www.example.com/").CombinedOutput()
	if !strings.Contains(string(out), "403") {
		t.Errorf("curl to a foreign host: %s, want 403", out)
	}
}

// Bytes a client sends right behind its CONNECT, before the 200 came back, are in the
// gateway's read buffer when it hijacks; losing them would break the tunnel's first message.
func TestEarlyBytesAfterConnect(t *testing.T) {
	t.Parallel()
	echo := startEcho(t)
	ca := newTestCA(t)
	g := startGateway(t, Options{CA: ca, Passthrough: []string{echo}})

	t.Run("passthrough", func(t *testing.T) {
		conn, err := net.Dial("tcp", g.url.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, "CONNECT "+echo+" HTTP/1.1\r\nHost: "+echo+"\r\n\r\nearly")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("CONNECT: %v %v", resp, err)
		}
		conn.(*net.TCPConn).CloseWrite()
		if got, _ := io.ReadAll(br); string(got) != "early" {
			t.Errorf("echo %q, want \"early\"", got)
		}
	})
	t.Run("intercepted", func(t *testing.T) {
		conn, err := net.Dial("tcp", g.url.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, "CONNECT login.microsoftonline.com:443 HTTP/1.1\r\nHost: login.microsoftonline.com:443\r\n\r\n")
		// The ClientHello goes out before the 200 is read.
		pc := &afterConnect{Conn: conn, br: bufio.NewReader(conn)}
		tc := tls.Client(pc, &tls.Config{RootCAs: ca.Pool(), ServerName: "login.microsoftonline.com"})
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		if pc.status != http.StatusOK {
			t.Errorf("CONNECT status %d", pc.status)
		}
	})
}

// afterConnect reads the CONNECT's answer on its first Read, then the tunnel.
type afterConnect struct {
	net.Conn
	br     *bufio.Reader
	status int
}

func (c *afterConnect) Read(b []byte) (int, error) {
	if c.status == 0 {
		resp, err := http.ReadResponse(c.br, &http.Request{Method: http.MethodConnect})
		if err != nil {
			return 0, err
		}
		c.status = resp.StatusCode
	}
	return c.br.Read(b)
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	h := http.NotFoundHandler()
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no CA", Options{Hosts: Hosts{Login: []string{"login.microsoftonline.com"}}, Login: h},
			"intercept: a CA is needed to intercept hosts"},
		{"host outside the CA", Options{CA: newTestCA(t), Hosts: Hosts{API: []string{"api.example.com"}}, API: h},
			"intercept: host api.example.com is outside the CA's name constraints (make a new CA)"},
		{"bad passthrough", Options{Passthrough: []string{"http://x/"}},
			`passthrough pattern "http://x/" is not a host or host:port`},
	} {
		if _, err := New(tc.opts); err == nil || err.Error() != tc.want {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}

package proxy_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdegate/mdegate/internal/emulator"
	"github.com/mdegate/mdegate/proxy"
	"github.com/mdegate/mdegate/routing"
	"github.com/mdegate/mdegate/tokens"
)

// Issue 14: the gateway against hostile callers. Each test runs a real gateway
// (http.Server + proxy.Handler) and a real upstream on loopback; raw sockets where the attack
// needs them. No test depends on speed: limits the attack must hit are short and set here,
// and waits are for events, with a long guard only against hanging.

const (
	idContoso   = "8f0d1c0e-3c2a-4b1e-9d53-1f2a3b4c5d6e"
	idFabrikam  = "0b7e4c1a-5f2d-4e8b-a1c3-9d8e7f6a5b4c"
	idNorthwind = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"
	guard       = 20 * time.Second // only against a hang
)

type hostileEnv struct {
	routes *routing.Table
	gw     *httptest.Server
}

// startHostile runs upstream behind a gateway with opts (Routes, Tokens and Transport filled
// in unless set).
func startHostile(t *testing.T, opts proxy.Options, upstream http.Handler) *hostileEnv {
	t.Helper()
	up := httptest.NewTLSServer(upstream)
	t.Cleanup(up.Close)
	routes, err := routing.New(routing.Options{Regions: map[string]string{routing.Global: up.URL},
		CoolDown: time.Hour, MaxCoolDown: time.Hour,
		Tenants: []routing.TenantOptions{{Name: "contoso", ID: idContoso}, {Name: "fabrikam", ID: idFabrikam}, {Name: "northwind", ID: idNorthwind}}})
	if err != nil {
		t.Fatal(err)
	}
	opts.Routes = routes
	if opts.Tokens == nil {
		opts.Tokens = fixedTokens{}
	}
	pool := up.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	opts.Transport = proxy.NewTransport(pool, 0)
	gw := httptest.NewServer(newHandler(t, opts))
	t.Cleanup(gw.Close)
	return &hostileEnv{routes: routes, gw: gw}
}

// raw sends a raw HTTP/1.1 request and reads the answer's head.
func raw(t *testing.T, addr, req string) (*http.Response, net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(guard))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	return resp, conn, br
}

func errCode(t *testing.T, body io.Reader) (code, message string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.NewDecoder(body).Decode(&e); err != nil {
		t.Fatalf("not an MDE error body: %v", err)
	}
	return e.Error.Code, e.Error.Message
}

func keyHash(k string) [32]byte { return sha256.Sum256([]byte(k)) }

// Issue 14, finding 8 (and 7): only the headers Microsoft's APIs use reach it; method and
// URL overrides, network details, trace context and Upgrade stay at the gateway.
func TestRequestHeadersByAllowlist(t *testing.T) {
	t.Parallel()
	saw := make(chan http.Header, 1)
	env := startHostile(t, proxy.Options{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		saw <- r.Header.Clone()
	}))
	dropped := []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override", "X-Original-Url", "X-Rewrite-Url",
		"X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Server", "X-Forwarded-Host", "X-Real-Ip", "Via", "True-Client-Ip",
		"X-Client-Ip", "Traceparent", "Tracestate", "Baggage", "Cookie", "X-Api-Key", "X-Tenant-Id", "Upgrade", "Forwarded", "X-Custom"}
	kept := map[string]string{"Accept": "application/json", "Accept-Language": "en", "Prefer": "odata.maxpagesize=10",
		"If-None-Match": `W/"1"`, "Client-Request-Id": "c1", "Return-Client-Request-Id": "true", "Consistencylevel": "eventual",
		"User-Agent": "soar/1.0"}
	var b strings.Builder
	b.WriteString("GET /api/machines HTTP/1.1\r\nHost: gw\r\nX-Tenant-ID: contoso\r\nConnection: Upgrade\r\n")
	for _, h := range dropped {
		if h != "Upgrade" {
			b.WriteString(h + ": 1\r\n")
		}
	}
	b.WriteString("Upgrade: websocket\r\n")
	for k, v := range kept {
		b.WriteString(k + ": " + v + "\r\n")
	}
	b.WriteString("\r\n")
	resp, _, _ := raw(t, env.gw.Listener.Addr().String(), b.String())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	got := <-saw
	for _, h := range append(dropped, "Connection") {
		if v, ok := got[h]; ok {
			t.Errorf("%s reached the upstream: %q", h, v)
		}
	}
	for k, v := range kept {
		if got.Get(k) != v {
			t.Errorf("%s: upstream saw %q, want %q", k, got.Get(k), v)
		}
	}
	if got.Get("Authorization") != "Bearer test" {
		t.Errorf("Authorization %q", got.Get("Authorization"))
	}
}

// Regression: the tenant prefix was cut off the lower-cased path whatever its case but off
// the forwarded path only in lower case, so /Tenants/contoso/api/... had its allow rules
// judged on /api/... while /Tenants/contoso/api/... went to Microsoft: the policy and the
// upstream saw different paths. The prefix is lower case; any other case is no API path.
func TestTenantPrefixCaseIsOnePath(t *testing.T) {
	t.Parallel()
	reached := make(chan string, 1)
	env := startHostile(t, proxy.Options{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case reached <- r.URL.Path:
		default:
		}
		_, _ = io.WriteString(w, `{"value":[]}`)
	}))
	req, _ := http.NewRequest("GET", env.gw.URL+"/Tenants/contoso/api/alerts", nil)
	req.Header.Set("X-Tenant-ID", "contoso")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if code, _ := errCode(t, resp.Body); resp.StatusCode != http.StatusNotFound || code != "NotFound" {
		t.Errorf("got %d %s, want 404 NotFound", resp.StatusCode, code)
	}
	select {
	case p := <-reached:
		t.Errorf("forwarded as %s", p)
	default:
	}
}

// Issue 14, finding 7: an upstream 101 gave the caller a raw pipe past policy, quota and
// logging. It is a 502 now.
func TestUpstreamUpgradeIs502(t *testing.T) {
	t.Parallel()
	env := startHostile(t, proxy.Options{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		_ = brw.Flush()
		_, _ = io.Copy(io.Discard, brw) // hold the pipe until the gateway drops it
	}))
	resp, _, _ := raw(t, env.gw.Listener.Addr().String(),
		"GET /api/machines HTTP/1.1\r\nHost: gw\r\nX-Tenant-ID: contoso\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}
}

// Issue 14, finding 2: a keyless request announcing a body was not answered until Go had
// drained up to 256 KiB of it, so 3,000 trickling callers held 3,000 connections. Now the 401
// comes at once, with Connection: close, and the connection is closed.
func TestRefusedWithoutReadingBody(t *testing.T) {
	t.Parallel()
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("a refused request reached the upstream") })
	env := startHostile(t, proxy.Options{Clients: []proxy.Client{{Name: "soc", KeySHA256: keyHash("k"), Tenants: []string{"contoso"}},
		{Name: "rw", KeySHA256: keyHash("k3"), Tenants: []string{"contoso"}, Allow: []string{"*"}}}}, upstream)
	addr := env.gw.Listener.Addr().String()
	for _, tt := range []struct {
		name, req string
		status    int
	}{
		{"no key", "POST /api/machines/m/isolate HTTP/1.1\r\nHost: gw\r\nX-Tenant-ID: contoso\r\nContent-Length: 262000\r\n\r\n{", 401},
		{"not an API path", "POST /nope HTTP/1.1\r\nHost: gw\r\nX-Api-Key: k\r\nContent-Length: 262000\r\n\r\n{", 404},
		{"read-only caller", "POST /api/machines/m/isolate HTTP/1.1\r\nHost: gw\r\nX-Api-Key: k\r\nX-Tenant-ID: contoso\r\nContent-Length: 262000\r\n\r\n{", 403},
		{"chunked, no key", "POST /api/machines/m/isolate HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n", 401},
		{"over max body", "POST /api/indicators HTTP/1.1\r\nHost: gw\r\nX-Api-Key: k3\r\nX-Tenant-ID: contoso\r\nContent-Length: 20000000\r\n\r\n{", 413},
		{"GET with a body", "GET /api/machines HTTP/1.1\r\nHost: gw\r\nX-Api-Key: k\r\nX-Tenant-ID: contoso\r\nContent-Length: 10\r\n\r\n{", 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, conn, br := raw(t, addr, tt.req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if !resp.Close {
				t.Error("no Connection: close")
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = conn.SetReadDeadline(time.Now().Add(guard))
			if n, err := br.Read(make([]byte, 1)); err == nil {
				t.Errorf("the connection stayed open (read %d bytes)", n)
			}
		})
	}
}

// Issue 14, finding 2: a body has BodyTimeout to arrive whole, else 408.
func TestBodyTimeout(t *testing.T) {
	t.Parallel()
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("a body that never came reached the upstream") })
	env := startHostile(t, proxy.Options{BodyTimeout: 100 * time.Millisecond}, upstream)
	resp, _, _ := raw(t, env.gw.Listener.Addr().String(),
		"POST /api/indicators HTTP/1.1\r\nHost: gw\r\nX-Tenant-ID: contoso\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":")
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("status %d, want 408", resp.StatusCode)
	}
	if code, _ := errCode(t, resp.Body); code != "RequestTimeout" {
		t.Fatalf("code %s", code)
	}
}

// Issue 14, finding 3: errors in the caller's own body counted as upstream failures, so ten
// of them marked the region down for every caller. They are the caller's 400 and 413 now,
// and the region stays up.
func TestCallerBodyFaultsAreTheCallers(t *testing.T) {
	t.Parallel()
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) })
	env := startHostile(t, proxy.Options{MaxBody: 16}, upstream)
	addr := env.gw.Listener.Addr().String()
	for _, tt := range []struct {
		name, body string
		status     int
	}{
		{"malformed chunk", "zz\r\n{}\r\n0\r\n\r\n", 400},
		{"chunked over max body", "20\r\n" + strings.Repeat("x", 32) + "\r\n0\r\n\r\n", 413},
	} {
		for range 3 {
			resp, _, _ := raw(t, addr, "POST /api/indicators HTTP/1.1\r\nHost: gw\r\nX-Tenant-ID: contoso\r\nTransfer-Encoding: chunked\r\n\r\n"+tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("%s: status %d, want %d", tt.name, resp.StatusCode, tt.status)
			}
		}
	}
	for _, ep := range env.routes.Endpoints() {
		if !env.routes.Healthy(ep) {
			t.Errorf("region %s marked down by the caller's bodies", ep.Region)
		}
	}
}

// Issue 14, finding 4: a caller that never reads held its answer, and the upstream
// connection under it, for as long as it liked. After WriteIdleTimeout without progress the
// answer is aborted and the upstream request ends.
func TestStalledReaderIsCut(t *testing.T) {
	t.Parallel()
	ended := make(chan struct{})
	env := startHostile(t, proxy.Options{WriteIdleTimeout: 100 * time.Millisecond}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(ended)
		w.Header().Set("Content-Type", "application/octet-stream")
		chunk := make([]byte, 32<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			http.NewResponseController(w).Flush()
		}
	}))
	conn, err := net.Dial("tcp", env.gw.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	_, _ = io.WriteString(conn, "GET /api/machines/export HTTP/1.1\r\nHost: gw\r\nX-Tenant-ID: contoso\r\n\r\n")
	select {
	case <-ended: // never read a byte: the upstream request was cancelled
	case <-time.After(guard):
		t.Fatal("the upstream request still runs for a caller that reads nothing")
	}
}

// blocking is an upstream that holds each request until release is closed, and reports
// each arrival by tenant.
type blocking struct {
	arrived chan string
	release chan struct{}
}

func newBlocking() *blocking {
	return &blocking{arrived: make(chan string, 16), release: make(chan struct{})}
}

func (b *blocking) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.arrived <- r.URL.Query().Get("t")
	<-b.release
}

// Issue 14, finding 4: one tenant's callers could take all of a region's connections; a
// tenant holds at most TenantMaxConcurrent now (more wait), and another tenant still gets
// through.
func TestTenantShare(t *testing.T) {
	t.Parallel()
	up := newBlocking()
	env := startHostile(t, proxy.Options{TenantMaxConcurrent: 2, AnonymousMaxConcurrent: -1}, up)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(up.release)
	get := func(tenant string) int {
		req, _ := http.NewRequest("GET", env.gw.URL+"/api/machines?t="+tenant, nil)
		req.Header.Set("X-Tenant-ID", tenant)
		resp, err := env.gw.Client().Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); get("contoso") }()
	}
	<-up.arrived
	<-up.arrived
	wg.Add(2)
	go func() { defer wg.Done(); get("contoso") }() // waits for one of contoso's slots
	go func() { defer wg.Done(); get("fabrikam") }()
	select {
	case tn := <-up.arrived:
		if tn != "fabrikam" {
			t.Errorf("%s arrived while contoso held its whole share", tn)
		}
	case <-time.After(guard):
		t.Error("fabrikam's request did not reach the upstream while contoso held its share")
	}
}

// Issue 14, finding 4: the anonymous mode had no concurrency cap at all.
func TestAnonymousCap(t *testing.T) {
	t.Parallel()
	up := newBlocking()
	env := startHostile(t, proxy.Options{AnonymousMaxConcurrent: 1}, up)
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequest("GET", env.gw.URL+"/api/machines", nil)
		req.Header.Set("X-Tenant-ID", "contoso")
		if resp, err := env.gw.Client().Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	<-up.arrived
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", env.gw.URL+"/api/machines", nil)
	req.Header.Set("X-Tenant-ID", "fabrikam")
	resp, err := env.gw.Client().Do(req)
	close(up.release)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", resp.StatusCode)
	}
}

// Issue 14, finding 6: a caller limited to contoso learnt which other customers exist (400
// TenantConflict for a real one, 403 for the rest) and the 403 of a default tenant named it.
// Every tenant outside its list now gets the same 403, naming none.
func TestTenantAnswersRevealNothing(t *testing.T) {
	t.Parallel()
	env := startHostile(t, proxy.Options{DefaultTenant: "northwind", Clients: []proxy.Client{
		{Name: "soc", KeySHA256: keyHash("k"), Tenants: []string{"contoso"}},
		{Name: "two", KeySHA256: keyHash("k2"), Tenants: []string{"contoso", "fabrikam"}},
	}}, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	do := func(key, path, header string) (int, string, string) {
		req, _ := http.NewRequest("GET", env.gw.URL+path, nil)
		req.Header.Set("X-Api-Key", key)
		if header != "" {
			req.Header.Set("X-Tenant-ID", header)
		}
		resp, err := env.gw.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		code, msg := errCode(t, resp.Body)
		return resp.StatusCode, code, msg
	}
	var first string
	for _, tt := range []struct{ name, path, header string }{
		{"configured", "/api/machines", "fabrikam"},
		{"configured by ID", "/api/machines", idFabrikam},
		{"not configured", "/api/machines", "nosuch"},
		{"conflict with a configured one", "/tenants/contoso/api/machines", "fabrikam"},
		{"conflict with one not configured", "/tenants/contoso/api/machines", "nosuch"},
		{"default tenant", "/api/machines", ""},
	} {
		status, code, msg := do("k", tt.path, tt.header)
		if status != http.StatusForbidden || code != "Forbidden" {
			t.Errorf("%s: %d %s, want 403 Forbidden", tt.name, status, code)
		}
		for _, name := range []string{"fabrikam", "nosuch", "northwind", idFabrikam} {
			if strings.Contains(msg, name) {
				t.Errorf("%s: the answer names %s: %s", tt.name, name, msg)
			}
		}
		if first == "" {
			first = msg
		} else if msg != first {
			t.Errorf("%s: message %q differs from %q", tt.name, msg, first)
		}
	}
	if status, code, _ := do("k2", "/tenants/contoso/api/machines", "fabrikam"); status != http.StatusBadRequest || code != "TenantConflict" {
		t.Errorf("a conflict between two allowed tenants: %d %s, want 400 TenantConflict", status, code)
	}
}

// Issue 14, finding 10: an upstream answering 401 to everything made one token request per
// call. A tenant's token is dropped at most once per 30 s now; the 401s pass on.
func TestUnauthorizedStormFetchesOnce(t *testing.T) {
	t.Parallel()
	const app = "6a1c3f0e-2b4d-4e8f-9a7b-0c1d2e3f4a5b"
	emu, err := emulator.Start(emulator.Options{Apps: []emulator.App{{ClientID: app, Secret: "s"}},
		Tenants: []emulator.Tenant{{ID: idContoso, Name: "contoso", Consented: true}}})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	src, err := tokens.New(tokens.Options{Authority: emu.LoginURL(), ClientID: app, Secret: "s",
		Scope: "https://api.securitycenter.microsoft.com/.default", HTTPClient: emu.Client()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	env := startHostile(t, proxy.Options{Tokens: src}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	for range 20 {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", env.gw.URL+"/api/machines", nil)
		req.Header.Set("X-Tenant-ID", "contoso")
		resp, err := env.gw.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d, want the upstream's 401", resp.StatusCode)
		}
	}
	if n := emu.TokenRequests(idContoso); n > 2 {
		t.Fatalf("%d token requests for 20 calls, want at most 2", n)
	}
}

// Issue 14, finding 5: a nextLink after any other "@odata. key (@odata.count, Graph's
// @odata.type in every item) left the gateway pointing at Microsoft, and a tool following it
// took its gateway key there. Through a real gateway, in MDE's and Graph's shapes.
func TestPagingLinksThroughGateway(t *testing.T) {
	t.Parallel()
	answers := map[string]string{
		"/api/machines": `{"@odata.context":"https://api.securitycenter.microsoft.com/api/$metadata#Machines","@odata.count":1,` +
			`"value":[{"id":"m1"}],"@odata.nextLink":"https://api.securitycenter.microsoft.com/api/machines?$skip=1"}`,
		"/api/incidents": `{"@odata.context":"https://api-eu.security.microsoft.com/api/$metadata#Incidents","value":[{"@odata.type":"#Incident"}],` +
			`"@odata.nextLink":"https://api-eu.security.microsoft.com/api/incidents?$skip=1"}`,
		"/api/alerts": `{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#security/alerts_v2","value":[{"@odata.type":"#microsoft.graph.security.alert"},` +
			`{"@odata.type":"#microsoft.graph.security.alert"}],"@odata.nextLink":"https://graph.microsoft.com/v1.0/security/alerts_v2?$skiptoken=x"}`,
	}
	env := startHostile(t, proxy.Options{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answers[r.URL.Path])
	}))
	for path := range answers {
		req, _ := http.NewRequest("GET", env.gw.URL+"/tenants/contoso"+path, nil)
		resp, err := env.gw.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var page struct {
			Context  string `json:"@odata.context"`
			NextLink string `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, link := range []string{page.Context, page.NextLink} {
			if !strings.HasPrefix(link, env.gw.URL+"/tenants/contoso/") {
				t.Errorf("%s: link %s does not point at the gateway", path, link)
			}
		}
	}
}

// The same limits over HTTP/2, where deadlines are per stream: a body that stops coming is
// 408, and a refused request is answered while its body is still open (issue 14, finding 2).
func TestBodyLimitsOverHTTP2(t *testing.T) {
	t.Parallel()
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	routes, err := routing.New(routing.Options{Regions: map[string]string{routing.Global: up.URL},
		Tenants: []routing.TenantOptions{{Name: "contoso", ID: idContoso}}})
	if err != nil {
		t.Fatal(err)
	}
	pool := up.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	gw := httptest.NewUnstartedServer(newHandler(t, proxy.Options{Routes: routes, Tokens: fixedTokens{},
		Transport: proxy.NewTransport(pool, 0), BodyTimeout: 100 * time.Millisecond,
		Clients: []proxy.Client{{Name: "rw", KeySHA256: keyHash("k"), Tenants: []string{"contoso"}, Allow: []string{"*"}}}}))
	gw.EnableHTTP2 = true
	gw.StartTLS()
	defer gw.Close()
	for _, tt := range []struct {
		name, key string
		status    int
	}{{"no key", "", 401}, {"body never ends", "k", 408}} {
		pr, pw := io.Pipe()
		defer pw.Close()
		go func() { _, _ = pw.Write([]byte(`{"a":`)) }() // and nothing more
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "POST", gw.URL+"/api/indicators", pr)
		req.Header.Set("X-Tenant-ID", "contoso")
		if tt.key != "" {
			req.Header.Set("X-Api-Key", tt.key)
		}
		resp, err := gw.Client().Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		resp.Body.Close()
		if resp.ProtoMajor != 2 || resp.StatusCode != tt.status {
			t.Errorf("%s: HTTP/%d %d, want HTTP/2 %d", tt.name, resp.ProtoMajor, resp.StatusCode, tt.status)
		}
	}
}

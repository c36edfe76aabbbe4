package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Issue 14 against the real gateway: `mdegate serve` with a config file, in front of the
// emulator, attacked as the issue's findings were found (raw sockets where the attack needs
// them). The library's own tests are in proxy/hostile_test.go; these check what the gateway
// wires: the admin answers, the listeners and the limits keys. Limits the attack must hit are
// short and set in the YAML, and waits are for events, with hostileGuard only against a hang
// (which is how each test fails on the code before the fix).

const hostileGuard = 15 * time.Second

// rawHostile sends req as raw bytes to the gateway at base (http://host:port) and reads the
// head of the answer; the body is left on resp.Body.
func rawHostile(t *testing.T, base, req string) (*http.Response, net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(hostileGuard))
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

// checkClosed fails t unless the gateway closed conn after the answer whose head was read.
func checkClosed(t *testing.T, resp *http.Response, br *bufio.Reader) {
	t.Helper()
	if !resp.Close {
		t.Error("the answer has no Connection: close")
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	if n, err := br.Read(make([]byte, 1)); err == nil {
		t.Errorf("the connection stayed open (read %d bytes)", n)
	}
}

// getWith GETs url with the header pairs hdr and returns the status and the body.
func getWith(t *testing.T, url string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	resp, b := getURL(t, url, hdr...)
	return resp.StatusCode, string(b), resp.Header
}

// Issue 14, finding 1: with clients set, /readyz and /metrics on the caller-facing listener
// told anyone every customer's name, tenant ID, region and consent state, and per-tenant
// call counts. Now only a client with admin: true sees them; anyone else gets /healthz, a
// bare /readyz status and a 401 for /metrics.
func TestAdminAnswersNeedAdminCaller(t *testing.T) {
	t.Parallel()
	reader, readerSum := newTestKey(t)
	admin, adminSum := newTestKey(t)
	wrong, _ := newTestKey(t)
	g := startGateway(t, fmt.Sprintf(`clients:
  - {name: reader, key_sha256: %s, tenants: ["*"]}
  - {name: prometheus, key_sha256: %s, admin: true}
`, readerSum, adminSum))
	g.keys = []string{reader, admin, wrong}
	// One call, so the metrics have a per-tenant series to leak.
	if resp, body := g.do(t, "GET", "/api/alerts", "contoso", nil, "X-Api-Key", reader); resp.StatusCode != 200 {
		t.Fatalf("reader: %d %s", resp.StatusCode, body)
	}
	customer := []string{"contoso", demoContoso, "fabrikam", demoFabrikam, "northwind", demoNorthwind}
	for _, tt := range []struct {
		name string
		hdr  []string
	}{
		{"no key", nil},
		{"a caller without admin", []string{"Authorization", "Bearer " + reader}},
		{"a wrong key", []string{"Authorization", "Bearer " + wrong}},
		{"a wrong key in X-Api-Key", []string{"X-Api-Key", wrong}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if status, body, _ := getWith(t, g.URL+"/healthz", tt.hdr...); status != 200 {
				t.Errorf("/healthz %d %s", status, body)
			}
			status, body, _ := getWith(t, g.URL+"/readyz", tt.hdr...)
			var bare map[string]any
			if err := json.Unmarshal([]byte(body), &bare); status != 200 || err != nil || len(bare) != 1 || bare["status"] != "ready" {
				t.Errorf(`/readyz %d %s, want 200 {"status":"ready"} alone`, status, body)
			}
			status, body, h := getWith(t, g.URL+"/metrics", tt.hdr...)
			if status != http.StatusUnauthorized || h.Get("WWW-Authenticate") == "" {
				t.Errorf("/metrics %d (WWW-Authenticate %q), want 401 with a challenge", status, h.Get("WWW-Authenticate"))
			}
			if code, _, _ := mdeError(t, []byte(body)); code != "Unauthorized" {
				t.Errorf("/metrics code %s, want Unauthorized", code)
			}
			checkMessage(t, body, nil, customer)
		})
	}
	for _, hdr := range [][]string{{"Authorization", "Bearer " + admin}, {"X-Api-Key", admin}} {
		t.Run("admin by "+hdr[0], func(t *testing.T) {
			status, body, _ := getWith(t, g.URL+"/readyz", hdr...)
			_, _ = g.adminBodies.Write([]byte(body))
			var rd readiness
			if err := json.Unmarshal([]byte(body), &rd); status != 200 || err != nil || len(rd.Tenants) != 3 {
				t.Errorf("/readyz %d %s, want the per-tenant detail", status, body)
			}
			status, body, _ = getWith(t, g.URL+"/metrics", hdr...)
			_, _ = g.adminBodies.Write([]byte(body))
			if status != 200 || !strings.Contains(body, `tenant="contoso"`) {
				t.Errorf("/metrics %d, want 200 with contoso's series:\n%.300s", status, body)
			}
		})
	}
}

// Issue 14, finding 1: admin_listen stays open to all, clients or not.
func TestAdminListenOpenWithClients(t *testing.T) {
	t.Parallel()
	_, sum := newTestKey(t)
	g := startGateway(t, fmt.Sprintf("admin_listen: 127.0.0.1:0\nclients:\n  - {name: reader, key_sha256: %s, tenants: [\"*\"]}\n", sum))
	status, body, _ := getWith(t, g.Admin+"/readyz")
	_, _ = g.adminBodies.Write([]byte(body))
	var rd readiness
	if err := json.Unmarshal([]byte(body), &rd); status != 200 || err != nil || len(rd.Tenants) != 3 {
		t.Errorf("admin_listen /readyz %d %s, want the per-tenant detail", status, body)
	}
	if status, _, _ := getWith(t, g.Admin+"/metrics"); status != 200 {
		t.Errorf("admin_listen /metrics %d, want 200", status)
	}
}

// Issue 14, finding 1: check-config said nothing about a shared gateway whose admin answers
// are reachable from other hosts. It warns now, and only then.
func TestCheckConfigWarnsWithoutAdminListen(t *testing.T) {
	t.Parallel()
	_, sum := newTestKey(t)
	clients := fmt.Sprintf("clients:\n  - {name: reader, key_sha256: %s, tenants: [\"*\"]}\n", sum)
	for _, tt := range []struct {
		name, listen, extra string
		warn                bool
	}{
		{"clients on every interface", "0.0.0.0:8080", clients, true},
		{"with admin_listen", "0.0.0.0:8080", clients + "admin_listen: 127.0.0.1:9090\n", false},
		{"on loopback", "127.0.0.1:8080", clients, false},
		{"no clients", "127.0.0.1:8080", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mdegate.yaml")
			y := fmt.Sprintf("listen: %q\napp: {client_id: %s, client_secret: x}\n", tt.listen, demoClientID) + demoTenantsYAML + tt.extra
			if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			if err := run(context.Background(), []string{"check-config", "-config", path}, &stdout, &stderr); err != nil {
				t.Fatalf("check-config: %v\n%s", err, stderr.String())
			}
			if got := strings.Contains(stderr.String(), "warning: admin_listen"); got != tt.warn {
				t.Errorf("warned %v, want %v; stderr:\n%s", got, tt.warn, stderr.String())
			}
		})
	}
}

// Issue 14, finding 2: keyless connections announcing a body that trickled in were held
// (Go drains up to 256 KiB before it answers), and a body had no deadline at all. Through
// the real listener and config: the 401 comes at once and the connection closes, and a
// caller's body gets limits.body_timeout to arrive, else 408.
func TestKeylessTricklersAnsweredAndClosed(t *testing.T) {
	t.Parallel()
	key, sum := newTestKey(t)
	g := startGateway(t, fmt.Sprintf("limits: {body_timeout: 200ms}\nclients:\n  - {name: soar, key_sha256: %s, tenants: [\"*\"], allow: [\"*\"]}\n", sum))
	g.keys = []string{key}
	t.Run("no key", func(t *testing.T) {
		resp, _, br := rawHostile(t, g.URL, "POST /api/indicators HTTP/1.1\r\nHost: gw\r\nX-Tenant-ID: contoso\r\n"+
			"Content-Type: application/json\r\nContent-Length: 262000\r\n\r\n{")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", resp.StatusCode)
		}
		checkClosed(t, resp, br)
	})
	t.Run("no key, chunked", func(t *testing.T) {
		resp, _, br := rawHostile(t, g.URL, "POST /api/indicators HTTP/1.1\r\nHost: gw\r\nX-Tenant-ID: contoso\r\n"+
			"Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", resp.StatusCode)
		}
		checkClosed(t, resp, br)
	})
	t.Run("a body slower than body_timeout", func(t *testing.T) {
		resp, _, _ := rawHostile(t, g.URL, "POST /api/indicators HTTP/1.1\r\nHost: gw\r\nX-Tenant-ID: contoso\r\nX-Api-Key: "+key+"\r\n"+
			"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":")
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("status %d, want 408", resp.StatusCode)
		}
	})
}

// Issue 14, finding 3: a caller's broken body (malformed chunking, a chunked body over
// max_body) counted as an upstream failure, so a few of them moved every caller of the
// region to another one. With two regions in the config, contoso's calls stay on eu.
func TestCallerBodyFaultsKeepRegion(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "limits: {max_body: 16}\n")
	for _, tt := range []struct {
		name, body string
		status     int
	}{
		{"malformed chunk", "zz\r\n{}\r\n0\r\n\r\n", 400},
		{"chunked over max_body", "20\r\n" + strings.Repeat("x", 32) + "\r\n0\r\n\r\n", 413},
	} {
		for range 10 {
			resp, _, _ := rawHostile(t, g.URL, "POST /api/indicators HTTP/1.1\r\nHost: gw\r\nX-Tenant-ID: contoso\r\n"+
				"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"+tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("%s: status %d, want %d", tt.name, resp.StatusCode, tt.status)
			}
		}
	}
	g.emu.ResetRequests()
	if resp, body := g.do(t, "GET", "/api/alerts", "contoso", nil); resp.StatusCode != 200 {
		t.Fatalf("contoso after the bad bodies: %d %s", resp.StatusCode, body)
	}
	for _, s := range apiRequests(g.emu, demoContoso) {
		if s.Region != "eu" {
			t.Errorf("contoso's call went to %s, want eu: the caller's bodies marked eu down", s.Region)
		}
	}
	for _, l := range g.logs.lines(t, "request") {
		if l["failover_from"] != nil {
			t.Errorf("a caller's bad body failed over: %v", l)
		}
	}
}

// Issue 14, finding 4: the anonymous caller had no concurrency cap; limits.anonymous_max_concurrent
// sets one.
func TestAnonymousCapFromConfig(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "limits: {anonymous_max_concurrent: 1}\n")
	g.emu.SetRegionLatency("eu", time.Hour) // contoso's call is held until its caller leaves
	ctx, cancel := context.WithCancel(context.Background())
	held := make(chan struct{})
	go func() {
		defer close(held)
		req, _ := http.NewRequestWithContext(ctx, "GET", g.URL+"/api/alerts", nil)
		req.Header.Set("X-Tenant-ID", "contoso")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	defer func() { cancel(); <-held }()
	deadline := time.Now().Add(hostileGuard)
	arrived := func() bool { // Seen's TenantID is filled after the latency; its region is not
		for _, s := range g.emu.Requests() {
			if s.Region == "eu" && s.Path == "/api/alerts" {
				return true
			}
		}
		return false
	}
	for !arrived() {
		if time.Now().After(deadline) {
			t.Fatal("contoso's call never reached the emulator")
		}
		time.Sleep(5 * time.Millisecond)
	}
	resp, body := g.do(t, "GET", "/api/alerts", "fabrikam", nil)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second anonymous call: %d %s, want 429", resp.StatusCode, body)
	}
}

// Issue 14, finding 4: an answer whose caller never reads held its upstream connection for
// as long as the caller liked. With limits.write_idle_timeout the gateway cuts it.
func TestStalledReaderCutByConfig(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "limits: {write_idle_timeout: 100ms}\n")
	conn, err := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	// A page of 50,000 inventory records (some 25 MB): far more than the socket buffers hold.
	_, _ = io.WriteString(conn, "GET /api/machines/SoftwareInventoryByMachine HTTP/1.1\r\nHost: gw\r\nX-Tenant-ID: contoso\r\n\r\n")
	deadline := time.Now().Add(hostileGuard)
	for {
		var done bool
		for _, l := range g.logs.lines(t, "request") {
			done = done || strings.Contains(fmt.Sprint(l["path"]), "SoftwareInventoryByMachine")
		}
		if done {
			return // the call ended while its caller read nothing: the answer was cut
		}
		if time.Now().After(deadline) {
			t.Fatal("the answer still runs for a caller that reads nothing")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Issue 14, finding 9: config errors, also logged as "config reload refused", echoed
// secrets pasted in the wrong place. The refused reload's log line names keys, never them.
func TestReloadRefusedEchoesNoSecret(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "")
	listen := strings.TrimPrefix(g.URL, "http://")
	const secret = "Zq8~hunter2-pasted-secret"
	g.secrets = append(g.secrets, secret)
	for _, tt := range []struct {
		name  string
		extra string
		edit  func(string) string
	}{
		{"redis password after the slash", "limits: {redis: {url: 'redis://host:6379/" + secret + "'}}\n", nil},
		{"redis password in a query value", "limits: {redis: {url: 'redis://host:6379/0?dial_timeout=" + secret + "'}}\n", nil},
		{"secret pasted as a key", secret + ": x\n", nil},
		{"secret pasted into client_id", "", func(y string) string { return strings.Replace(y, demoClientID, secret, 1) }},
	} {
		var edits []func(string) string
		if tt.edit != nil {
			edits = append(edits, tt.edit)
		}
		g.writeConfig(t, listen, tt.extra, edits...)
		if g.reload(t) {
			t.Fatalf("%s: the reload was applied", tt.name)
		}
	}
	if n := len(g.logs.lines(t, "config reload refused")); n != 4 {
		t.Fatalf("%d reloads refused, want 4", n)
	}
	if strings.Contains(g.logs.String(), "hunter2") {
		t.Errorf("the log holds a pasted secret:\n%s", g.logs)
	}
}

// Issue 14, finding 11: a request with both Content-Length and Transfer-Encoding (the shape
// of request smuggling) was served and its connection kept open. On the real listeners it
// is answered 400 and the connection closed.
func TestContentLengthAndChunkedRefused(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "admin_listen: 127.0.0.1:0\n")
	const smuggle = "POST /api/indicators HTTP/1.1\r\nHost: gw\r\nX-Tenant-ID: contoso\r\nContent-Type: application/json\r\n" +
		"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/machines HTTP/1.1\r\nHost: gw\r\nX-Tenant-ID: contoso\r\n\r\n"
	for _, base := range []string{g.URL, g.Admin} {
		resp, _, br := rawHostile(t, base, smuggle)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", base, resp.StatusCode)
		}
		checkClosed(t, resp, br)
	}
	for _, s := range g.emu.Requests() {
		t.Errorf("the emulator saw %s %s", s.Method, s.Path)
	}
}

// Issue 14, finding 1, on tls.listen: the same guard, and a client certificate can name the
// admin caller (mTLS) as it names any caller.
func TestAdminAnswersOverTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	serverCA, clientCA := newTestCA(t, "server ca"), newTestCA(t, "client ca")
	cp, kp := serverCA.issue(t, "mdegate", true)
	certFile, keyFile := writeFile(t, dir, "tls.crt", cp), writeFile(t, dir, "tls.key", kp)
	caFile := writeFile(t, dir, "clients.pem", clientCA.pem)
	g := startGateway(t, fmt.Sprintf(`tls: {listen: "127.0.0.1:0", cert_file: %q, key_file: %q, client_ca_file: %q}
clients:
  - {name: prometheus, cert_subject: prometheus.partner.example, admin: true}
  - {name: soar, cert_subject: soar.partner.example, tenants: ["*"], allow: ["*"]}
`, certFile, keyFile, caFile))
	roots := x509.NewCertPool()
	roots.AddCert(serverCA.cert)
	as := func(cn string) *http.Client {
		c, k := clientCA.issue(t, cn, false)
		p, err := tls.X509KeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		return tlsClient(roots, p)
	}
	for _, tt := range []struct {
		cn    string
		admin bool
	}{{"soar.partner.example", false}, {"prometheus.partner.example", true}} {
		client := as(tt.cn)
		resp, err := client.Get(g.TLSURL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 { // the 401 shows how to send a key: "Bearer <key>"
			_, _ = g.adminBodies.Write(body)
		}
		if want := map[bool]int{false: 401, true: 200}[tt.admin]; resp.StatusCode != want {
			t.Errorf("%s: /metrics %d, want %d", tt.cn, resp.StatusCode, want)
		}
		resp, err = client.Get(g.TLSURL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		_, _ = g.adminBodies.Write(body)
		if got := strings.Contains(string(body), demoContoso); got != tt.admin {
			t.Errorf("%s: /readyz shows tenant IDs: %v, want %v\n%s", tt.cn, got, tt.admin, body)
		}
	}
}

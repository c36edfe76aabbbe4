package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// newTestKey runs `mdegate key` and returns the key and its hash as printed.
func newTestKey(t *testing.T) (key, sum string) {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"key"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		switch k {
		case "key":
			key = v
		case "key_sha256":
			sum = v
		}
	}
	if key == "" || len(sum) != 64 {
		t.Fatalf("mdegate key printed %q", out.String())
	}
	return key, sum
}

func TestKeyCommand(t *testing.T) {
	t.Parallel()
	k1, s1 := newTestKey(t)
	k2, _ := newTestKey(t)
	if got := sha256.Sum256([]byte(k1)); hex.EncodeToString(got[:]) != s1 {
		t.Errorf("key_sha256 %s is not the SHA-256 of the key", s1)
	}
	if k1 == k2 || len(k1) < 40 {
		t.Errorf("keys %q and %q: want long random keys", k1, k2)
	}
}

// callers is a gateway with three callers: a read-only one limited to contoso, one allowed a
// few operations, and a SOAR allowed everything everywhere.
type callers struct {
	*testGateway
	reader, exporter, soar string // keys
}

func startWithCallers(t *testing.T, extra string) *callers {
	t.Helper()
	kr, sr := newTestKey(t)
	ke, se := newTestKey(t)
	ks, ss := newTestKey(t)
	g := startGateway(t, fmt.Sprintf(`clients:
  - {name: reader, key_sha256: %s, tenants: [contoso]}
  - name: exporter
    key_sha256: %s
    tenants: [contoso, %s]
    allow: ["GET /api/alerts*", "POST /api/advancedqueries/run", "POST /api/machines/*/isolate"]
  - {name: soar, key_sha256: %s, tenants: ["*"], allow: ["*"], max_concurrent: 1}
`, sr, se, demoFabrikam, ss)+extra)
	g.keys = []string{kr, ke, ks}
	return &callers{g, kr, ke, ks}
}

func TestCallers(t *testing.T) {
	t.Parallel()
	c := startWithCallers(t, "")
	wrongKey, _ := newTestKey(t)
	c.keys = append(c.keys, wrongKey) // a refused key must not be logged either
	isolate := `{"Comment":"t","IsolationType":"Full"}`
	tests := []struct {
		name, method, path, tenant string
		hdr                        []string
		body                       string
		status                     int
		code                       string
		msgHas, msgHasNot          []string
	}{
		{"no key", "GET", "/api/alerts", "contoso", nil, "", 401, "Unauthorized", []string{"Bearer"}, nil},
		{"unknown key", "GET", "/api/alerts", "contoso", []string{"Authorization", "Bearer " + wrongKey}, "", 401, "Unauthorized", nil, nil},
		{"basic auth is no key", "GET", "/api/alerts", "contoso", []string{"Authorization", "Basic " + c.reader}, "", 401, "Unauthorized", nil, nil},
		{"key unknown even for a non-API path", "GET", "/admin", "", []string{"X-Api-Key", "nope"}, "", 401, "Unauthorized", nil, nil},
		{"bearer key", "GET", "/api/alerts", "contoso", []string{"Authorization", "Bearer " + c.reader}, "", 200, "", nil, nil},
		{"bearer scheme any case", "GET", "/api/alerts", "contoso", []string{"Authorization", "bEaReR " + c.reader}, "", 200, "", nil, nil},
		{"x-api-key", "GET", "/api/machines", "contoso", []string{"X-Api-Key", c.reader}, "", 200, "", nil, nil},
		{"head is read-only (MDE answers 405)", "HEAD", "/api/alerts", "contoso", []string{"X-Api-Key", c.reader}, "", 405, "", nil, nil},
		{"reader: other tenant", "GET", "/api/alerts", "fabrikam", []string{"X-Api-Key", c.reader}, "", 403, "Forbidden", []string{`"reader"`, "tenants"}, []string{"contoso", demoContoso, "fabrikam"}}, // issue 14 (6): names no tenant
		{"reader: unknown tenant looks the same", "GET", "/api/alerts", "tailspin", []string{"X-Api-Key", c.reader}, "", 403, "Forbidden", []string{`"reader"`, "tenants"}, []string{"contoso", "tailspin"}},
		{"reader: tenant by GUID", "GET", "/api/alerts", demoContoso, []string{"X-Api-Key", c.reader}, "", 200, "", nil, nil},
		{"reader: isolate", "POST", "/api/machines/contoso-m01/isolate", "contoso", []string{"X-Api-Key", c.reader}, isolate, 403, "Forbidden", []string{`"reader"`, "POST", "read-only"}, nil},
		{"exporter: alerts", "GET", "/api/alerts/x/domains", "fabrikam", []string{"X-Api-Key", c.exporter}, "", 404, "NotFound", nil, nil},
		{"exporter: machines", "GET", "/api/machines", "contoso", []string{"X-Api-Key", c.exporter}, "", 403, "Forbidden", []string{`"exporter"`, "allow"}, nil},
		{"exporter: query", "POST", "/api/advancedqueries/run", "contoso", []string{"X-Api-Key", c.exporter}, `{"Query":"DeviceInfo | take 1"}`, 200, "", nil, nil},
		{"exporter: isolate by segment wildcard", "POST", "/api/machines/contoso-m01/isolate", "contoso", []string{"X-Api-Key", c.exporter}, isolate, 201, "", nil, nil},
		{"exporter: wildcard is one segment", "POST", "/api/machines/a/b/isolate", "contoso", []string{"X-Api-Key", c.exporter}, isolate, 403, "Forbidden", nil, nil},
		{"soar: anything anywhere", "POST", "/api/machines/fabrikam-m01/isolate", "fabrikam", []string{"X-Api-Key", c.soar}, isolate, 201, "", nil, nil},
		{"soar: unknown tenant is 404", "GET", "/api/alerts", "tailspin", []string{"X-Api-Key", c.soar}, "", 404, "UnknownTenant", nil, nil},
		{"soar: still only /api/", "GET", "/admin", "contoso", []string{"X-Api-Key", c.soar}, "", 404, "NotFound", nil, nil},
	}
	// Refused callers cost no token: fabrikam's is never fetched.
	c.do(t, "GET", "/api/alerts", "fabrikam", nil)
	c.do(t, "GET", "/api/alerts", "fabrikam", nil, "X-Api-Key", c.reader)
	c.do(t, "GET", "/api/machines", "fabrikam", nil, "X-Api-Key", c.exporter)
	if n := c.emu.TokenRequests(demoFabrikam); n != 0 {
		t.Errorf("%d token requests for refused calls, want 0", n)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.emu.ResetRequests()
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
				tt.hdr = append(tt.hdr, "Content-Type", "application/json")
			}
			resp, got := c.do(t, tt.method, tt.path, tt.tenant, body, tt.hdr...)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, got)
			}
			seen := c.emu.Requests()
			if tt.status == 401 || tt.status == 403 || tt.code == "UnknownTenant" || tt.path == "/admin" {
				if len(seen) != 0 {
					t.Errorf("MDE saw %d requests for a refused call", len(seen))
				}
			}
			for _, s := range seen {
				for _, k := range []string{c.reader, c.exporter, c.soar} {
					if strings.Contains(fmt.Sprint(s.Header), k) {
						t.Errorf("MDE saw a caller's key in %v", s.Header)
					}
				}
			}
			if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
			if tt.code == "" {
				return
			}
			code, msg, _ := mdeError(t, got)
			if code != tt.code {
				t.Errorf("code %q, want %q (%s)", code, tt.code, msg)
			}
			checkMessage(t, msg, tt.msgHas, tt.msgHasNot)
		})
	}
	// The per-call log line names the caller.
	var named map[string]any
	for _, l := range c.logs.waitLines(t, "request", len(tests)) {
		if l["status"] == float64(403) && l["client"] == "reader" {
			named = l
		}
	}
	if named == nil {
		t.Errorf("no request log line with client=reader for a 403")
	}
}

// Every spelling of a forbidden operation that a path parser might read differently is refused
// before MDE sees it: the read-only caller may never reach isolate, and the alerts-only caller
// never machines.
func TestPathNormalisationAttacks(t *testing.T) {
	t.Parallel()
	c := startWithCallers(t, "")
	addr := strings.TrimPrefix(c.URL, "http://")
	tests := []struct {
		key, method, target string
		status              int
		upstreamPath        string // what MDE must see when the call is forwarded
	}{
		{c.reader, "POST", "/api/machines/m1/isolate", 403, ""},
		{c.reader, "POST", "/api/../api/machines/m1/isolate", 403, ""},
		{c.reader, "POST", "/api/./machines/m1/isolate", 403, ""},
		{c.reader, "POST", "/api/%2e%2e/api/machines/m1/isolate", 403, ""},
		{c.reader, "POST", "/api/%2E%2E/api/machines/m1/isolate", 403, ""},
		{c.reader, "POST", "//api//machines//m1//isolate", 403, ""},
		{c.reader, "POST", "/API/Machines/M1/Isolate", 403, ""},
		{c.reader, "POST", "/api/machines;x=1/m1/isolate", 403, ""},
		{c.reader, "POST", "/api/machines/m1/isolate;.json", 403, ""},
		{c.reader, "POST", "/api/machines%2fm1%2fisolate", 400, ""},
		{c.reader, "POST", "/api/machines%2Fm1%2Fisolate", 400, ""},
		{c.reader, "POST", "/api/machines%5cm1%5cisolate", 400, ""},
		{c.reader, "POST", "/api/machines\\m1\\isolate", 400, ""},
		{c.reader, "POST", "/api/%252e%252e/machines/m1/isolate", 400, ""},
		{c.reader, "POST", "/api/machines/m1/isolate%00", 400, ""},
		{c.reader, "GET", "/api/../admin", 404, ""},
		{c.reader, "GET", "/api/%2e%2e/admin", 404, ""},
		{c.reader, "GET", "/apix/alerts", 404, ""},
		{c.reader, "GET", "/api/alerts/../../../etc/passwd", 404, ""},
		{c.exporter, "GET", "/api/alerts/../machines", 403, ""},
		{c.exporter, "GET", "/api/alerts/%2e%2e/machines", 403, ""},
		{c.exporter, "GET", "/api/alerts;/../machines", 403, ""},
		{c.exporter, "GET", "/api/alerts/..;/machines", 403, ""},
		{c.exporter, "GET", "/API/MACHINES", 403, ""},
		// Allowed: MDE sees the path the policy decided on.
		{c.exporter, "GET", "/api//alerts", 200, "/api/alerts"},
		{c.exporter, "GET", "/api/x/../alerts", 200, "/api/alerts"},
		{c.exporter, "GET", "/api/alerts;jsessionid=1", 200, "/api/alerts"},
		{c.exporter, "GET", "/API/Alerts", 200, "/API/Alerts"},
		{c.reader, "GET", "/api/machines/", 200, "/api/machines"},
	}
	for _, tt := range tests {
		who := map[string]string{c.reader: "reader", c.exporter: "exporter"}[tt.key]
		t.Run(who+" "+tt.method+" "+tt.target, func(t *testing.T) {
			c.emu.ResetRequests()
			status := rawRequest(t, addr, tt.method, tt.target, "X-Tenant-ID: contoso", "X-Api-Key: "+tt.key)
			if status != tt.status {
				t.Fatalf("status %d, want %d", status, tt.status)
			}
			seen := c.emu.Requests()
			if tt.upstreamPath == "" {
				if len(seen) != 0 {
					t.Fatalf("MDE saw %s %s", seen[0].Method, seen[0].Path)
				}
				return
			}
			if len(seen) != 1 || seen[0].Path != tt.upstreamPath {
				t.Fatalf("MDE saw %v, want one request for %s", seen, tt.upstreamPath)
			}
		})
	}
}

// rawRequest writes a request line byte for byte (no client library cleans the target) and
// returns the status.
func rawRequest(t *testing.T, addr, method, target string, hdr ...string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, target, addr)
	for _, h := range hdr {
		b.WriteString(h + "\r\n")
	}
	if method == "POST" {
		b.WriteString("Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
	} else {
		b.WriteString("\r\n")
	}
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	c := startWithCallers(t, "limits: {max_body: 1000}\n")
	big := `{"Query":"` + strings.Repeat("x", 2000) + `"}`
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			c.emu.ResetRequests()
			var body io.Reader = strings.NewReader(big)
			if chunked {
				body = io.MultiReader(body) // unknown length: sent chunked
			}
			resp, got := c.do(t, "POST", "/api/advancedqueries/run", "contoso", body, "X-Api-Key", c.soar, "Content-Type", "application/json")
			if code, _, _ := mdeError(t, got); resp.StatusCode != 413 || code != "RequestEntityTooLarge" {
				t.Fatalf("got %d %s, want 413 RequestEntityTooLarge", resp.StatusCode, got)
			}
			if !chunked && len(c.emu.Requests()) != 0 {
				t.Errorf("MDE saw a request whose declared body is over the cap")
			}
		})
	}
	resp, got := c.do(t, "POST", "/api/advancedqueries/run", "contoso", strings.NewReader(`{"Query":"DeviceInfo"}`), "X-Api-Key", c.soar, "Content-Type", "application/json")
	if resp.StatusCode != 200 {
		t.Errorf("a small body: %d %s", resp.StatusCode, got)
	}
}

func TestConcurrencyCapPerCaller(t *testing.T) {
	t.Parallel()
	c := startWithCallers(t, "")
	c.emu.SetRegionLatency("eu", 700*time.Millisecond)
	var wg sync.WaitGroup
	statuses := make(chan int, 3)
	call := func(key string) {
		defer wg.Done()
		resp, got := c.do(t, "GET", "/api/alerts", "contoso", nil, "X-Api-Key", key)
		if resp.StatusCode == 429 {
			if code, _, _ := mdeError(t, got); code != "TooManyRequests" || resp.Header.Get("Retry-After") == "" {
				t.Errorf("429 %s without Retry-After or code", got)
			}
		}
		statuses <- resp.StatusCode
	}
	wg.Add(1)
	go call(c.soar)
	// The first holds soar's one slot once MDE has it (it answers 700 ms later).
	waitFor(t, "the first call to reach MDE", func() bool { return reached(c.emu, "/api/alerts") > 0 })
	wg.Add(2)
	go call(c.soar)   // soar's max_concurrent is 1
	go call(c.reader) // another caller is not affected
	wg.Wait()
	close(statuses)
	got := map[int]int{}
	for s := range statuses {
		got[s]++
	}
	if got[200] != 2 || got[429] != 1 {
		t.Errorf("statuses %v, want two 200 and one 429", got)
	}
}

// Without clients the gateway refuses to listen where others can reach it, saying why (the
// rule itself is tested in internal/config).
func TestServeRefusesAnonymousOnAllInterfaces(t *testing.T) {
	t.Parallel()
	base := minimal
	// serve refuses to start, saying why.
	cfg := filepath.Join(t.TempDir(), "mdegate.yaml")
	writeFile(t, filepath.Dir(cfg), "mdegate.yaml", []byte(base+"listen: 0.0.0.0:0\n"))
	err := run(context.Background(), []string{"serve", "-config", cfg}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no clients are configured") {
		t.Errorf("serve on 0.0.0.0 without clients: %v", err)
	}
}

func TestUnixSocket(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "mdegate.sock")
	g := startGatewayAt(t, "unix:"+sock, "")
	g.URL = "http://unix"
	g.client = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	resp, body := g.do(t, "GET", "/api/alerts", "contoso", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
}

// allow_anonymous is said out loud at start.
func TestAllowAnonymousWarns(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "allow_anonymous: true\n")
	if w := g.logs.lines(t, "allow_anonymous: no clients are configured, so anyone who reaches the gateway can act on every customer's machines"); len(w) != 1 || w[0]["level"] != "warn" {
		t.Errorf("want one warning at start, got %v", w)
	}
	if w := startGateway(t, "").logs.String(); strings.Contains(w, "allow_anonymous") {
		t.Errorf("a loopback gateway without allow_anonymous warns: %s", w)
	}
}

// The default caps: 10 MiB of body (refused from the declared length, before reading it or
// fetching a token) and 64 KiB of headers.
func TestDefaultLimits(t *testing.T) {
	t.Parallel()
	c := startWithCallers(t, "")
	addr := strings.TrimPrefix(c.URL, "http://")
	if got := rawRequest(t, addr, "PUT", "/api/indicators", "X-Tenant-ID: contoso", "X-Api-Key: "+c.soar, "Content-Length: 10485761"); got != 413 {
		t.Errorf("a declared 10 MiB + 1 body: status %d, want 413", got)
	}
	if got := rawRequest(t, addr, "GET", "/api/alerts", "X-Tenant-ID: contoso", "X-Api-Key: "+c.soar, "X-Big: "+strings.Repeat("a", 70<<10)); got != 431 {
		t.Errorf("70 KiB of headers: status %d, want 431", got)
	}
	if len(c.emu.Requests()) != 0 {
		t.Errorf("MDE saw a refused request")
	}
}

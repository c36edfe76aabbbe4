package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdegate/mdegate/internal/emulator"
)

func TestRoutesByAliasAndGUID(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "")
	tests := []struct {
		key, wantTenant, wantTID, wantRegion string
	}{
		{"contoso", "contoso", demoContoso, "eu"},
		{"CoNtOsO", "contoso", demoContoso, "eu"},
		{demoContoso, "contoso", demoContoso, "eu"},
		{strings.ToUpper(demoContoso), "contoso", demoContoso, "eu"},
		{"fabrikam", "fabrikam", demoFabrikam, "us"},
		{demoFabrikam, "fabrikam", demoFabrikam, "us"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			g.emu.ResetRequests()
			resp, body := g.do(t, "GET", "/api/machines?$top=2", tt.key, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var page struct {
				Value []struct{ ID, RbacGroupName string }
			}
			if err := json.Unmarshal(body, &page); err != nil || len(page.Value) != 2 {
				t.Fatalf("page %q: %v", body, err)
			}
			for _, m := range page.Value {
				if !strings.HasPrefix(m.ID, tt.wantTenant+"-") {
					t.Errorf("machine %q is not %s's", m.ID, tt.wantTenant)
				}
			}
			seen := g.emu.Requests()
			if len(seen) != 1 {
				t.Fatalf("upstream saw %d requests, want 1", len(seen))
			}
			if seen[0].TenantID != tt.wantTID || seen[0].Region != tt.wantRegion {
				t.Errorf("upstream saw tenant %s in %s, want %s in %s", seen[0].TenantID, seen[0].Region, tt.wantTID, tt.wantRegion)
			}
			if seen[0].RawQuery != "$top=2" {
				t.Errorf("upstream query %q, want $top=2", seen[0].RawQuery)
			}
		})
	}
	// One log line per forwarded call, with the fields the issue lists.
	calls := g.logs.waitLines(t, "request", len(tests))
	if len(calls) != len(tests) {
		t.Fatalf("%d request log lines, want %d", len(calls), len(tests))
	}
	for _, k := range []string{"request_id", "tenant", "tenant_id", "region", "method", "path", "status", "bytes_out", "duration_ms", "upstream_ms"} {
		if _, ok := calls[0][k]; !ok {
			t.Errorf("log line lacks %q: %v", k, calls[0])
		}
	}
}

// What the upstream received is what matters: only the injected token, none of the caller's
// credentials, the upstream's Host, and only the headers MDE uses (issue 14, finding 8).
func TestHeaderHygiene(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "")
	body := `{"indicatorValue":"203.0.113.9","indicatorType":"IpAddress","action":"Alert","title":"t","description":"d"}`
	resp, got := g.do(t, "POST", "/api/indicators?x=1&y=%2F", "contoso", strings.NewReader(body),
		"Authorization", "Bearer caller-own-key",
		"Proxy-Authorization", "Basic cHJveHk6cGFzcw==",
		"Cookie", "session=caller",
		"X-Api-Key", "caller-api-key",
		"X-Forwarded-For", "198.51.100.7",
		"Forwarded", "for=198.51.100.7",
		"Connection", "Authorization, X-Custom-Hop",
		"X-Custom-Hop", "hop",
		"X-Custom", "kept",
		"Content-Type", "application/json",
	)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, got)
	}
	seen := g.emu.Requests()
	if len(seen) != 1 {
		t.Fatalf("upstream saw %d requests, want 1", len(seen))
	}
	s := seen[0]
	if s.TenantID != demoContoso {
		t.Errorf("upstream token is for tenant %q, want contoso's (the caller's Authorization must not pass)", s.TenantID)
	}
	if auth := s.Header.Values("Authorization"); len(auth) != 1 || !strings.HasPrefix(auth[0], "Bearer ey") {
		t.Errorf("upstream Authorization %q, want exactly the injected token", auth)
	}
	for _, h := range []string{"Proxy-Authorization", "Cookie", "X-Api-Key", "X-Tenant-Id", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "X-Custom-Hop", "X-Custom"} {
		if v := s.Header.Values(h); len(v) > 0 {
			t.Errorf("upstream saw %s: %q", h, v)
		}
	}
	if s.Header.Get("Content-Type") != "application/json" {
		t.Errorf("upstream lost ordinary headers: %v", s.Header)
	}
	if u, _ := url.Parse(g.emu.RegionURL("eu")); s.Host != u.Host {
		t.Errorf("upstream Host %q, want %q", s.Host, u.Host)
	}
	if s.Path != "/api/indicators" || s.RawQuery != "x=1&y=%2F" || string(s.Body) != body {
		t.Errorf("upstream got %s ?%s %q, want the caller's path, query and body", s.Path, s.RawQuery, s.Body)
	}
}

func TestGatewayErrors(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "")
	tests := []struct {
		name, method, path, tenant string
		status                     int
		code                       string
		msgHas                     []string
		msgHasNot                  []string
	}{
		{"missing tenant", "GET", "/api/alerts", "", 400, "MissingTenant", []string{"X-Tenant-ID"}, nil},
		{"unknown alias", "GET", "/api/alerts", "tailspin", 404, "UnknownTenant", []string{"tailspin"}, []string{"contoso", "fabrikam"}},
		{"unknown GUID", "GET", "/api/alerts", "11111111-2222-3333-4444-555555555555", 404, "UnknownTenant", nil, []string{"contoso", "fabrikam"}},
		{"not an API path", "GET", "/admin", "contoso", 404, "NotFound", []string{"/api/"}, nil},
		{"unconsented", "GET", "/api/alerts", "northwind", 503, "TokenUnavailable", []string{demoNorthwind, "AADSTS700016", "consent"}, []string{"Trace ID", "Correlation", "error_codes"}},
		{"upstream's own 404 passes", "GET", "/api/nope", "contoso", 404, "NotFound", []string{"/api/nope"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := g.do(t, tt.method, tt.path, tt.tenant, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			code, msg, target := mdeError(t, body)
			if code != tt.code {
				t.Errorf("code %q, want %q", code, tt.code)
			}
			checkMessage(t, msg, tt.msgHas, tt.msgHasNot)
			if rid := resp.Header.Get("X-Request-ID"); rid == "" || (resp.StatusCode != 404 || code != "NotFound" || tt.path != "/api/nope") && target != rid {
				t.Errorf("X-Request-ID %q, target %q: want the same, non-empty", rid, target)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	// Alias and GUID of an unknown tenant get the same answer but for what was asked.
	_, a := g.do(t, "GET", "/api/alerts", "nobody", nil, "X-Request-ID", "same")
	_, b := g.do(t, "GET", "/api/alerts", "00000000-0000-0000-0000-000000000000", nil, "X-Request-ID", "same")
	if strings.Replace(string(a), "nobody", "X", 1) != strings.Replace(string(b), "00000000-0000-0000-0000-000000000000", "X", 1) {
		t.Errorf("unknown alias and GUID answered differently:\n%s\n%s", a, b)
	}

	t.Run("upstream unreachable", func(t *testing.T) {
		// us fails over to global (failover_test.go); with both down there is nowhere to go.
		g.emu.StopRegion("us")
		g.emu.StopRegion("global")
		defer g.emu.StartRegion("us")
		defer g.emu.StartRegion("global")
		resp, body := g.do(t, "GET", "/api/alerts", "fabrikam", nil)
		if code, _, _ := mdeError(t, body); resp.StatusCode != 502 || code != "UpstreamUnavailable" {
			t.Errorf("got %d %s, want 502 UpstreamUnavailable", resp.StatusCode, body)
		}
	})
	if errs := g.logs.lines(t, "request"); len(errs) == 0 || errs[0]["error"] != "MissingTenant" {
		t.Errorf("the log does not carry the gateway's error code: %v", errs)
	}
}

func TestUpstreamTimeout(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "limits: {upstream_timeout: 300ms}\n")
	g.emu.SetRegionLatency("eu", 3*time.Second)
	resp, body := g.do(t, "GET", "/api/alerts", "contoso", nil)
	if code, _, _ := mdeError(t, body); resp.StatusCode != 504 || code != "UpstreamTimeout" {
		t.Errorf("got %d %s, want 504 UpstreamTimeout", resp.StatusCode, body)
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "")
	for _, tt := range []struct{ sent, want string }{
		{"abc-123:x.y_z", "abc-123:x.y_z"},
		{"has space", ""},
		{strings.Repeat("a", 200), ""},
	} {
		resp, _ := g.do(t, "GET", "/api/alerts", "contoso", nil, "X-Request-ID", tt.sent)
		got := resp.Header.Values("X-Request-Id")
		if len(got) != 1 || tt.want != "" && got[0] != tt.want || tt.want == "" && (got[0] == tt.sent || len(got[0]) != 36) {
			t.Errorf("sent %q: X-Request-ID %q, want %q (or a fresh one)", tt.sent, got, tt.want)
		}
	}
}

// 1,000 callers arrive for a tenant with no token yet: Entra sees one token request.
func TestColdStartSingleFlight(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "limits: {shape: false, anonymous_max_concurrent: -1}\n") // 1,000 calls at once: over MDE's quota and the anonymous cap
	g.emu.SetTokenLatency(300 * time.Millisecond)
	const n = 1000
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _ := getAll(client, g.URL+"/api/alerts?$top=1", "contoso")
			statuses <- status
		}()
	}
	wg.Wait()
	close(statuses)
	bad := map[int]int{}
	for s := range statuses {
		if s != 200 {
			bad[s]++
		}
	}
	if len(bad) > 0 {
		t.Errorf("non-200 answers: %v", bad)
		for i, l := range g.logs.lines(t, "upstream failed") {
			if i < 3 {
				t.Log(l)
			}
		}
	}
	if got := g.emu.TokenRequests(demoContoso); got != 1 {
		t.Errorf("%d token requests for %d concurrent first calls, want 1", got, n)
	}
}

// A 4-second token is refreshed in the background before it expires; callers keep being
// served, and MDE never sees an expired token.
func TestRefreshAheadShortToken(t *testing.T) {
	t.Parallel()
	// A call every 50 ms can go over alerts' 100 a minute, which the sliding-window limiter
	// (merged from main) grants at once and then holds for a minute; this test is not about it.
	const lifetime = 4 * time.Second
	g := startGateway(t, "limits: {shape: false}\n", func(o *emulator.Options) { o.TokenLifetime = lifetime })
	g.emu.SetTokenLatency(200 * time.Millisecond)
	// Calls run until the first token has expired and a second was fetched (it is due from
	// three quarters of the lifetime), or 10 s.
	start := time.Now()
	for deadline := start.Add(10 * time.Second); time.Now().Before(deadline); {
		if time.Since(start) > lifetime+250*time.Millisecond && g.emu.TokenRequests(demoContoso) >= 2 {
			break
		}
		resp, body := g.do(t, "GET", "/api/alerts?$top=1", "contoso", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := g.emu.TokenRequests(demoContoso); got < 2 {
		t.Errorf("%d token requests in %v of %v tokens, want a refresh", got, time.Since(start).Round(time.Millisecond), lifetime)
	}
	tokens := map[string]bool{}
	for _, s := range g.emu.Requests() {
		tokens[s.Header.Get("Authorization")] = true
		if s.Status != 200 {
			t.Errorf("upstream answered %d at %v", s.Status, s.At)
		}
	}
	if len(tokens) < 2 {
		t.Errorf("MDE saw %d distinct tokens, want the refreshed one too", len(tokens))
	}
}

// A 64 MiB answer streams through without the gateway holding it: the live heap (what the
// garbage collector found reachable) stays flat while it flows.
func TestStreamsLargeAnswer(t *testing.T) {
	g := startGateway(t, "")
	const records = 128 << 10                        // ~500 bytes each: ~64 MiB
	defer debug.SetGCPercent(debug.SetGCPercent(10)) // collect often, so garbage is not counted
	runtime.GC()
	base := liveHeap()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	peak := make(chan uint64, 1)
	go func() {
		var max uint64
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				peak <- max
				return
			case <-tick.C:
				max = maxU(max, liveHeap())
			}
		}
	}()
	req, _ := http.NewRequest("GET", g.URL+fmt.Sprintf("/api/machines/SoftwareInventoryByMachine?pageSize=%d", records), nil)
	req.Header.Set("X-Tenant-ID", "contoso")
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	cancel()
	growth := int64(<-peak) - int64(base)
	if err != nil || resp.StatusCode != 200 || n < 32<<20 {
		t.Fatalf("status %d, %d bytes, err %v", resp.StatusCode, n, err)
	}
	t.Logf("streamed %d MiB; live heap grew by at most %.1f MiB", n>>20, float64(growth)/(1<<20))
	if growth > 8<<20 {
		t.Errorf("live heap grew by %d MiB while streaming %d MiB: the answer is being buffered", growth>>20, n>>20)
	}
}

// liveHeap is the heap the last garbage collection found reachable.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

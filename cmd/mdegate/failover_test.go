package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mdegate/mdegate/internal/config"
	"github.com/mdegate/mdegate/internal/emulator"
)

// A fourth customer, consented, whose region is auto.
const demoTailwind = "3a4b5c6d-7e8f-4a0b-9c1d-2e3f4a5b6c7d"

func withTailwind(o *emulator.Options) {
	o.Tenants = append(o.Tenants, emulator.Tenant{ID: demoTailwind, Name: "tailwind", Consented: true})
}

// tailwindAuto appends tailwind (region auto) to demoYAML's tenant list.
const tailwindAuto = "  - {name: tailwind, id: " + demoTailwind + ", region: auto}\n"

// apiRequests are the authenticated requests MDE saw (probes carry no token).
func apiRequests(emu *emulator.Emulator, tenantID string) []emulator.Seen {
	var out []emulator.Seen
	for _, s := range emu.Requests() {
		if s.TenantID == tenantID {
			out = append(out, s)
		}
	}
	return out
}

// auto picks the fastest of three regional listeners, follows a change of latencies at the
// next probe round, and `mdegate regions` shows the same pick.
func TestAutoPicksFastestRegion(t *testing.T) {
	t.Parallel()
	g := startGateway(t, tailwindAuto+"routing: {probe_interval: 100ms}\n", withTailwind)
	if len(g.logs.waitLines(t, "region probe", 1)) == 0 {
		t.Fatal("no probe round at start")
	}
	for _, tt := range []struct {
		global, eu, us time.Duration
		want           string
	}{
		// Gaps of 250 ms: a loaded test machine adds its own noise to every handshake. No
		// region is slower than that: each probe round waits for the slowest.
		{250 * time.Millisecond, 250 * time.Millisecond, 0, "us"},
		{250 * time.Millisecond, 0, 250 * time.Millisecond, "eu"},
	} {
		g.emu.SetRegionLatency("global", tt.global)
		g.emu.SetRegionLatency("eu", tt.eu)
		g.emu.SetRegionLatency("us", tt.us)
		deadline := time.Now().Add(5 * time.Second)
		for {
			probes := g.logs.lines(t, "region probe")
			if probes[len(probes)-1]["nearest"] == tt.want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("auto never picked %s: last probe %v", tt.want, probes[len(probes)-1])
			}
			time.Sleep(20 * time.Millisecond)
		}
		g.emu.ResetRequests()
		resp, body := g.do(t, "GET", "/api/alerts?$top=1", "tailwind", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if seen := apiRequests(g.emu, demoTailwind); len(seen) != 1 || seen[0].Region != tt.want {
			t.Errorf("latencies %v: request went to %v, want %s", tt, seen, tt.want)
		}

		var out bytes.Buffer
		if err := run(context.Background(), []string{"regions", "-config", g.config}, &out, io.Discard); err != nil {
			t.Fatalf("mdegate regions: %v", err)
		}
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.HasSuffix(line, "<- auto") && !strings.HasPrefix(line, tt.want+" ") {
				t.Errorf("mdegate regions picks %q, want %s:\n%s", line, tt.want, out.String())
			}
		}
		if !strings.Contains(out.String(), "REACHABLE") || strings.Count(out.String(), " yes ") < 3 {
			t.Errorf("mdegate regions output:\n%s", out.String())
		}
	}
}

// A region dies in the middle of load: every GET still succeeds (in-flight ones are replayed
// on global, later ones go there directly), and the log says who failed over.
func TestFailoverUnderLoadNoFailedGET(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "limits: {shape: false}\n")
	g.emu.SetRegionLatency("eu", 20*time.Millisecond) // so requests are in flight when eu dies
	const workers = 16
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	var ok, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if status, _ := getAll(client, g.URL+"/api/alerts?$top=2", "contoso"); status != 200 {
					failed.Add(1)
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	// Load is flowing through eu, then eu dies while calls are in flight, then every worker
	// gets a few more calls through.
	waitFor(t, "GETs through eu", func() bool { return ok.Load() >= 2*workers })
	before := ok.Load()
	g.emu.StopRegion("eu")
	waitFor(t, "GETs after the outage", func() bool { return ok.Load() >= before+4*workers || failed.Load() > 0 })
	close(stop)
	wg.Wait()
	t.Logf("%d GETs ok (%d before the outage), %d failed", ok.Load(), before, failed.Load())
	if failed.Load() != 0 {
		t.Errorf("%d GETs failed during a region outage, want 0", failed.Load())
	}
	if ok.Load() <= before {
		t.Fatal("no GET succeeded after the outage")
	}
	byRegion := map[string]int{}
	for _, s := range apiRequests(g.emu, demoContoso) {
		byRegion[s.Region]++
	}
	if byRegion["global"] == 0 || byRegion["us"] != 0 {
		t.Errorf("requests by region %v: want contoso's on eu, then global", byRegion)
	}
	var failovers int
	for _, l := range g.logs.waitLines(t, "request", int(ok.Load())) {
		if l["failover_from"] == "eu" {
			failovers++
			if l["region"] != "global" || l["attempts"].(float64) < 2 {
				t.Errorf("failover line %v: want region global after 2+ attempts", l)
			}
		}
	}
	if failovers == 0 {
		t.Error("no log line has failover_from eu")
	}
}

func isolate(t *testing.T, g *testGateway) (*http.Response, []byte) {
	return g.do(t, "POST", "/api/machines/contoso-m01/isolate", "contoso",
		strings.NewReader(`{"Comment":"incident 42","IsolationType":"Full"}`), "Content-Type", "application/json")
}

// A machine isolation must not run twice: one that failed mid-request is not replayed; one
// whose connection was never made is sent to the next endpoint.
func TestIsolateReplayRules(t *testing.T) {
	t.Parallel()
	t.Run("mid-request failure is not replayed", func(t *testing.T) {
		g := startGateway(t, "")
		g.emu.SetRegionLatency("eu", 2*time.Second)
		type answer struct {
			status int
			body   []byte
		}
		done := make(chan answer, 1)
		go func() {
			resp, body := isolate(t, g)
			done <- answer{resp.StatusCode, body}
		}()
		deadline := time.Now().Add(5 * time.Second)
		for len(g.emu.Requests()) == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond) // (the tenant is known only after the latency)
		}
		g.emu.StopRegion("eu") // the request is on the wire, waiting for its answer
		a := <-done
		if a.status != 502 {
			t.Errorf("status %d %s, want 502", a.status, a.body)
		}
		seen := g.emu.Requests()
		if len(seen) != 1 || seen[0].Region != "eu" {
			t.Errorf("MDE saw the isolation %d times (%v), want once, on eu", len(seen), seen)
		}
		if n := g.emu.Isolations(demoContoso); n != 0 {
			t.Errorf("%d isolations ran", n)
		}
	})
	t.Run("never connected is sent elsewhere", func(t *testing.T) {
		g := startGateway(t, "")
		g.emu.StopRegion("eu") // connection refused: the request never left
		resp, body := isolate(t, g)
		if resp.StatusCode != 201 {
			t.Fatalf("status %d %s, want 201 from global", resp.StatusCode, body)
		}
		if n := g.emu.Isolations(demoContoso); n != 1 {
			t.Errorf("%d isolations ran, want 1", n)
		}
		if seen := apiRequests(g.emu, demoContoso); len(seen) != 1 || seen[0].Region != "global" {
			t.Errorf("MDE saw %v, want one isolation on global", seen)
		}
	})
}

// A revoked token is dropped, a fresh one fetched and the call replayed once; when the fresh
// one is refused too, MDE's 401 reaches the caller and nothing loops.
func Test401RefreshAndReplay(t *testing.T) {
	t.Parallel()
	t.Run("replayed", func(t *testing.T) {
		g := startGateway(t, "")
		if resp, _ := g.do(t, "GET", "/api/alerts", "contoso", nil); resp.StatusCode != 200 {
			t.Fatal("warm-up failed")
		}
		g.emu.RevokeTokens(demoContoso)
		resp, body := g.do(t, "POST", "/api/machines/contoso-m02/isolate", "contoso",
			strings.NewReader(`{"Comment":"c"}`))
		if resp.StatusCode != 201 {
			t.Fatalf("status %d %s, want 201 after a replay", resp.StatusCode, body)
		}
		if n := g.emu.TokenRequests(demoContoso); n != 2 {
			t.Errorf("%d token requests, want 2", n)
		}
		if n := g.emu.Isolations(demoContoso); n != 1 {
			t.Errorf("%d isolations, want 1", n)
		}
		lines := g.logs.waitLines(t, "request", 2)
		if last := lines[len(lines)-1]; last["replayed_401"] != true || last["attempts"] != 2.0 {
			t.Errorf("log line %v, want replayed_401 and 2 attempts", last)
		}
	})
	t.Run("second 401 passes through", func(t *testing.T) {
		// With the emulator's clock frozen, every token is issued at the instant of the
		// revocation, so the fresh one is refused too.
		frozen := time.Now()
		g := startGateway(t, "", func(o *emulator.Options) { o.Now = func() time.Time { return frozen } })
		if resp, _ := g.do(t, "GET", "/api/alerts", "contoso", nil); resp.StatusCode != 200 {
			t.Fatal("warm-up failed")
		}
		g.emu.RevokeTokens(demoContoso)
		resp, body := g.do(t, "GET", "/api/alerts", "contoso", nil)
		if code, _, _ := mdeError(t, body); resp.StatusCode != 401 || code != "Unauthorized" {
			t.Errorf("got %d %s, want MDE's 401", resp.StatusCode, body)
		}
		if n := len(apiRequests(g.emu, "")); n != 2 {
			t.Errorf("MDE saw %d refused requests, want 2 (one replay, no loop)", n)
		}
		if n := g.emu.TokenRequests(demoContoso); n != 2 {
			t.Errorf("%d token requests, want 2", n)
		}
	})
}

// An MDE 429 with a short Retry-After is waited out and replayed; a long one, or one on a
// request that must not run twice, reaches the caller with its Retry-After.
func Test429(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "limits: {max_wait: 2s}\n")
	tests := []struct {
		name, method, path, body string
		retryAfter               time.Duration
		wantStatus               int
		wantUpstream             int
	}{
		{"short wait replayed", "GET", "/api/alerts", "", time.Second, 200, 2},
		{"hunting replayed", "POST", "/api/advancedqueries/run", `{"Query":"DeviceInfo | take 1"}`, time.Second, 200, 2},
		{"isolate passes through", "POST", "/api/machines/contoso-m03/isolate", `{"Comment":"c"}`, time.Second, 429, 1},
		{"too long passes through", "GET", "/api/machines", "", 5 * time.Second, 429, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g.emu.ResetRequests()
			g.emu.Throttle(demoContoso, tt.retryAfter)
			start := time.Now()
			resp, body := g.do(t, tt.method, tt.path, "contoso", strings.NewReader(tt.body))
			took := time.Since(start)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, body, tt.wantStatus)
			}
			if n := len(apiRequests(g.emu, demoContoso)); n != tt.wantUpstream {
				t.Errorf("MDE saw %d requests, want %d", n, tt.wantUpstream)
			}
			if tt.wantStatus == 200 && took < tt.retryAfter {
				t.Errorf("answered after %v, before Retry-After %v", took, tt.retryAfter)
			}
			if tt.wantStatus == 429 {
				if ra := resp.Header.Get("Retry-After"); ra != fmt.Sprint(int(tt.retryAfter.Seconds())) {
					t.Errorf("Retry-After %q, want MDE's %v", ra, tt.retryAfter)
				}
			}
		})
	}
	// The limiter learnt from the 5 s Retry-After: the machines family of contoso now waits
	// (too long for max_wait), so the gateway answers itself, honestly.
	resp, body := g.do(t, "GET", "/api/machines", "contoso", nil)
	if code, _, _ := mdeError(t, body); resp.StatusCode != 429 || code != "TooManyRequests" {
		t.Fatalf("after MDE's 429: got %d %s, want the gateway's 429 TooManyRequests", resp.StatusCode, body)
	}
	if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("gateway 429 without a Retry-After")
	}
	if resp, _ := g.do(t, "GET", "/api/alerts", "contoso", nil); resp.StatusCode != 200 {
		t.Errorf("another family was held back too: %d", resp.StatusCode)
	}
	lines := g.logs.waitLines(t, "request", len(tests)+2)
	if w, _ := lines[0]["throttle_wait_ms"].(float64); w < 1000 {
		t.Errorf("first call logged throttle_wait_ms %v, want the 1 s waited", lines[0]["throttle_wait_ms"])
	}
}

func TestConfigAutoAndLimits(t *testing.T) {
	t.Parallel()
	yaml := lines("routing:", "  region: auto", "  probe_interval: 30s",
		"limits:", "  shape: false", "  max_wait: 3s", "  upstream_timeout: 2m",
		"  families:", "    advancedqueries: {per_minute: 20, timeout: 9m}") + minimal
	cfg, err := config.Parse(strings.NewReader(yaml), "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Limits.Shaping() || cfg.Limits.MaxWait != 3*time.Second || cfg.Routing.ProbeInterval != 30*time.Second {
		t.Errorf("limits %+v, routing %+v", cfg.Limits, cfg.Routing)
	}
	fams, header := cfg.Limits.ProxyLimits()
	if header != 9*time.Minute || fams["advancedqueries"].PerMinute != 20 {
		t.Errorf("header timeout %v, families %v: want the longest family timeout, 9m", header, fams)
	}
	if (config.LimitsConfig{}).Shaping() != true {
		t.Error("shaping is off by default")
	}
}
